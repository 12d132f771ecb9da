/**
 * Per-method Slack budgets inside one worker: a token bucket per Web API method, and a gate that
 * holds every call of a method back once Slack answered one of them 429 with Retry-After. Fleet-wide
 * limits are Temporal's task-queue rate limits (one queue for deletions, one for notifications);
 * these keep each worker's mix of methods within Slack's per-method tiers and stop it from
 * hammering a method Slack has just told to wait.
 */
import { budgetOf } from '../contract';

/**
 * Calls are paced at this share of a method's budget: requests leave this process evenly spaced but
 * reach Slack with some jitter, and a pair that arrives closer than the budget allows draws a 429.
 */
export const BUDGET_HEADROOM = 0.9;

/** A call that would wait longer than this for its method's budget fails instead, to be retried by Temporal. */
export const MAX_BUDGET_WAIT_MS = 10_000;

export class BudgetExceeded extends Error {
  override name = 'BudgetExceeded';
  constructor(
    readonly method: string,
    readonly waitMs: number,
  ) {
    super(`${method} is over its budget for the next ${Math.ceil(waitMs / 1000)}s`);
  }
}

interface Bucket {
  perSecond: number;
  tokens: number;
  at: number;
  /** Slack said to wait until then (Retry-After). */
  blockedUntil: number;
}

export class SlackBudgets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly budgets: Readonly<Record<string, number>>,
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  private bucket(method: string): Bucket {
    let b = this.buckets.get(method);
    if (!b) {
      const perSecond = budgetOf(this.budgets, method) * BUDGET_HEADROOM;
      // One call at a time, evenly spaced: a burst at the start would land as several calls within Slack's window.
      b = { perSecond, tokens: 1, at: this.now(), blockedUntil: 0 };
      this.buckets.set(method, b);
    }
    return b;
  }

  /** Waits for a call of `method` to be within budget; throws BudgetExceeded if that would take too long. */
  async acquire(method: string): Promise<void> {
    const b = this.bucket(method);
    for (;;) {
      const now = this.now();
      b.tokens = Math.min(1, b.tokens + ((now - b.at) / 1000) * b.perSecond);
      b.at = now;
      const blocked = b.blockedUntil - now;
      const short = b.tokens >= 1 - 1e-9 ? 0 : ((1 - b.tokens) / b.perSecond) * 1000;
      // Whole milliseconds: a sub-millisecond wait would not move the clock and could spin.
      const wait = Math.ceil(Math.max(blocked, short));
      if (wait <= 0) {
        b.tokens -= 1;
        return;
      }
      if (wait > MAX_BUDGET_WAIT_MS) throw new BudgetExceeded(method, wait);
      await this.sleep(wait);
    }
  }

  /** Slack answered a call of `method` 429: hold every call of it back for `retryAfterSeconds`. */
  rateLimited(method: string, retryAfterSeconds: number): void {
    const b = this.bucket(method);
    b.blockedUntil = Math.max(b.blockedUntil, this.now() + Math.max(1, retryAfterSeconds) * 1000);
  }
}
