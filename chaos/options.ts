/** `npm run chaos` options: sizes, seed, the CI-size variant. Pure, so it is unit-tested. */

export interface ChaosOptions {
  /** Messages that leak (each delivered twice, over the Events API and Socket Mode). */
  leaks: number;
  /** Ordinary messages among them. */
  clean: number;
  /** Seed of everything random: texts, order, who posts where, the storms' coin flips. */
  seed: number;
  /** A CI-size run: fewer messages, one fault of each kind. */
  short: boolean;
  /** Keep the stack's data and logs even when the run passes. */
  keep: boolean;
  /** How long messages are posted for (faults are spread over this time). */
  postSeconds: number;
  /** How long to wait for quiescence once posting and faults are over. */
  quietTimeoutSeconds: number;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE = `usage: npm run chaos -- [--short] [--leaks N] [--clean N] [--seed N] [--keep]
  --short      a CI-size run (~40 leaks, ~400 clean, one fault of each kind, about 3 minutes)
  --leaks N    messages that leak a secret (default 300; --short 40)
  --clean N    ordinary messages (default 3000; --short 400)
  --seed N     seed of the texts, order and faults (default: from the clock; printed, so a run can be repeated)
  --post-seconds N   how long messages are posted for, faults spread over it (default 210; --short 75)
  --quiet-timeout N  seconds to wait for the pipeline to settle afterwards (default 240; --short 150)
  --keep       keep the stack's data and logs under .sentinel/chaos/<run>/ (they are kept anyway when the run fails)`;

/** Parses argv (without node and the script); throws UsageError with what is wrong. */
export function parseOptions(argv: string[], now = Date.now()): ChaosOptions {
  const short = argv.includes('--short');
  const opts: ChaosOptions = {
    leaks: short ? 40 : 300,
    clean: short ? 400 : 3000,
    seed: now % 2 ** 31,
    short,
    keep: false,
    postSeconds: short ? 75 : 210,
    quietTimeoutSeconds: short ? 150 : 240,
  };
  const count = (flag: string, raw: string | undefined, min: number): number => {
    const n = Number(raw);
    if (raw === undefined || !Number.isInteger(n) || n < min) throw new UsageError(`${flag} needs a whole number of at least ${min} (got ${raw === undefined ? 'nothing' : JSON.stringify(raw)})`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--short':
        break;
      case '--keep':
        opts.keep = true;
        break;
      case '--leaks':
        opts.leaks = count(flag, value(), 1);
        break;
      case '--clean':
        opts.clean = count(flag, value(), 0);
        break;
      case '--seed':
        opts.seed = count(flag, value(), 0);
        break;
      case '--post-seconds':
        opts.postSeconds = count(flag, value(), 10);
        break;
      case '--quiet-timeout':
        opts.quietTimeoutSeconds = count(flag, value(), 10);
        break;
      case '--help':
      case '-h':
        throw new UsageError(USAGE);
      default:
        throw new UsageError(`unknown option ${JSON.stringify(a)}\n${USAGE}`);
    }
  }
  return opts;
}
