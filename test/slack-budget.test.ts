/** Per-method budgets and digests, on a fake clock: what a burst turns into. */
import { describe, expect, it } from 'vitest';
import { NoticeBatcher, composeUserDigest } from '../activities/notice-batcher';
import { BUDGET_HEADROOM, BudgetExceeded, SlackBudgets, windowOf } from '../activities/slack-budget';
import { budgetOf, parseSlackBudgets, SLACK_DEFAULT_BUDGETS } from '../contract';

/** A clock that only moves when something sleeps on it. */
function fakeClock() {
  let now = 1_000_000;
  return { now: () => now, sleep: async (ms: number) => void (now += ms), advance: (ms: number) => void (now += ms) };
}

describe('Slack budgets', () => {
  it('parses per-method budgets, and falls back to * and then to Slack’s published tiers', () => {
    const b = parseSlackBudgets('chat.delete=50/min, chat.postMessage=2/s,*=10/s');
    expect(b['chat.delete']).toBeCloseTo(50 / 60);
    expect(budgetOf(b, 'chat.postMessage')).toBe(2);
    expect(budgetOf(b, 'users.info')).toBe(10);
    expect(budgetOf({}, 'users.info')).toBe(SLACK_DEFAULT_BUDGETS['users.info']);
    expect(() => parseSlackBudgets('chat.delete=fast')).toThrow('"chat.delete=fast" is not method=N/s or method=N/min');
  });

  it('lets a burst of one method go at once up to its budget, then waits for the window, without touching another method', async () => {
    const clock = fakeClock();
    const budgets = new SlackBudgets({ 'chat.postMessage': 2, 'chat.delete': 50 }, clock.now, clock.sleep);
    const window = Math.ceil(1000 / BUDGET_HEADROOM);
    const at: number[] = [];
    const start = clock.now();
    for (let i = 0; i < 5; i++) {
      await budgets.acquire('chat.postMessage');
      at.push(clock.now() - start);
    }
    // Two per (stretched) second: two at once, two a window later, one two windows later.
    expect(at).toEqual([0, 0, window, window, 2 * window]);
    const before = clock.now();
    for (let i = 0; i < 50; i++) await budgets.acquire('chat.delete');
    expect(clock.now()).toBe(before);
    await budgets.acquire('chat.delete');
    expect(clock.now() - before).toBe(window);
  });

  it('reads per-minute budgets as a minute’s window, as Slack’s tiers count them', () => {
    expect(windowOf(50 / 60)).toEqual({ calls: 50, windowMs: Math.ceil(60_000 / BUDGET_HEADROOM) });
    expect(windowOf(1)).toEqual({ calls: 1, windowMs: Math.ceil(1000 / BUDGET_HEADROOM) });
    expect(windowOf(0.5 / 60)).toEqual({ calls: 1, windowMs: Math.ceil(120_000 / BUDGET_HEADROOM) });
  });

  it('holds a method back for Slack’s Retry-After, and refuses to wait longer than its bound', async () => {
    const clock = fakeClock();
    const budgets = new SlackBudgets({ 'chat.delete': 50 }, clock.now, clock.sleep);
    budgets.rateLimited('chat.delete', 3);
    const start = clock.now();
    await budgets.acquire('chat.delete');
    expect(clock.now() - start).toBe(3000);
    budgets.rateLimited('chat.delete', 30);
    await expect(budgets.acquire('chat.delete')).rejects.toBeInstanceOf(BudgetExceeded);
  });
});

describe('digests', () => {
  it('posts the first notice at once and gathers a burst into one message per interval', async () => {
    const posts: { at: number; text: string; keys: string[] }[] = [];
    const t0 = Date.now();
    const batcher = new NoticeBatcher(
      async (_channel, text, keys) => {
        posts.push({ at: Date.now() - t0, text, keys });
        return String(posts.length);
      },
      composeUserDigest,
      { intervalMs: 500 },
    );
    const first = batcher.send('D1', { key: 'k0', text: 'first' });
    await new Promise((r) => setTimeout(r, 20));
    const rest = Array.from({ length: 5 }, (_, i) => batcher.send('D1', { key: `k${i + 1}`, text: 'do not post secrets' }));
    const other = batcher.send('D2', { key: 'x', text: 'someone else' });
    expect(await first).toBe('1');
    const tss = await Promise.all(rest);
    expect(new Set(tss).size).toBe(1);
    await other;
    expect(posts).toHaveLength(3);
    const digest = posts.find((p) => p.keys.length === 5)!;
    expect(digest.at).toBeGreaterThanOrEqual(490);
    expect(digest.text).toBe('5 of your recent messages contained secrets or personal data and were removed:\n• do not post secrets (×5)');
    expect(posts.find((p) => p.keys[0] === 'x')!.at).toBeLessThan(300); // another channel does not wait
  });

  it('fails every notice of a message that could not be posted, so that each is retried', async () => {
    const batcher = new NoticeBatcher(async () => Promise.reject(new Error('slack down')), composeUserDigest, { intervalMs: 50 });
    const a = batcher.send('D1', { key: 'a', text: 'a' });
    const b = batcher.send('D1', { key: 'b', text: 'b' });
    await expect(a).rejects.toThrow('slack down');
    await expect(b).rejects.toThrow('slack down');
  });
});
