/**
 * Per-method Slack budgets inside one worker: a sliding window per Web API method, and a gate that
 * holds every call of a method back once Slack answered one of them 429 with Retry-After. Fleet-wide
 * limits are Temporal's task-queue rate limits (one queue for deletions, one for notifications);
 * these keep each worker's mix of methods within Slack's per-method tiers and stop it from
 * hammering a method Slack has just told to wait.
 *
 * Slack counts calls per method over a window (a minute for the tiers, a second for
 * chat.postMessage per channel) and tolerates bursts within it
 * (https://api.slack.com/apis/rate-limits). So does this budget: a method budgeted N per window
 * may make N calls at once, then waits until the oldest leaves the window. A burst of deletions
 * goes out together instead of one every 1/N of the window.
 */
import { budgetOf } from '../contract';

/**
 * The window is this much longer than Slack's: calls leave here at once but reach Slack with some
 * jitter, and N calls that arrive within Slack's own window of each other must not become N + 1.
 * Over time a method gets this share of its budget.
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

interface Window {
  /** Calls allowed per window. */
  calls: number;
  windowMs: number;
  /** When the calls still inside the window left, oldest first, from `head` on. */
  sent: number[];
  head: number;
  /** Slack said to wait until then (Retry-After). */
  blockedUntil: number;
}

/**
 * A budget in calls per second as a window: per second when it is at least one a second (50/s →
 * 50 per second), else per minute (Slack's tiers: 50/min → 50 per minute), or one per its interval
 * when slower still; stretched by the headroom.
 */
export function windowOf(perSecond: number): { calls: number; windowMs: number } {
  // Slower than one a minute: one call per its own interval.
  const seconds = perSecond >= 1 ? 1 : perSecond * 60 >= 1 ? 60 : 1 / perSecond;
  return { calls: Math.max(1, Math.floor(perSecond * seconds + 1e-9)), windowMs: Math.ceil((seconds * 1000) / BUDGET_HEADROOM) };
}

export class SlackBudgets {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly budgets: Readonly<Record<string, number>>,
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  private window(method: string): Window {
    let w = this.windows.get(method);
    if (!w) {
      w = { ...windowOf(budgetOf(this.budgets, method)), sent: [], head: 0, blockedUntil: 0 };
      this.windows.set(method, w);
    }
    return w;
  }

  /** Waits for a call of `method` to be within budget; throws BudgetExceeded if that would take too long. */
  async acquire(method: string): Promise<void> {
    const w = this.window(method);
    for (;;) {
      const now = this.now();
      while (w.head < w.sent.length && w.sent[w.head]! <= now - w.windowMs) w.head += 1;
      if (w.head > 64 && w.head * 2 > w.sent.length) {
        w.sent = w.sent.slice(w.head);
        w.head = 0;
      }
      const full = w.sent.length - w.head >= w.calls ? w.sent[w.head]! + w.windowMs - now : 0;
      const wait = Math.max(w.blockedUntil - now, full);
      if (wait <= 0) {
        w.sent.push(now);
        return;
      }
      if (wait > MAX_BUDGET_WAIT_MS) throw new BudgetExceeded(method, wait);
      await this.sleep(wait);
    }
  }

  /** Slack answered a call of `method` 429: hold every call of it back for `retryAfterSeconds`. */
  rateLimited(method: string, retryAfterSeconds: number): void {
    const w = this.window(method);
    w.blockedUntil = Math.max(w.blockedUntil, this.now() + Math.max(1, retryAfterSeconds) * 1000);
  }
}
