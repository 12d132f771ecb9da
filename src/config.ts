/**
 * Configuration, parsed once at boot from environment variables. Every variable is listed in the
 * README; defaults point at the embedded dev stack (`npm run stack -- up`).
 */
import { join } from 'node:path';
import { z } from 'zod';
import { projectRoot } from './paths';

const level = z.enum(['debug', 'info', 'warn', 'error']);
const positiveInt = z.coerce.number().int().positive();

const schema = z.object({
  /** debug | info | warn | error; default info. */
  LOG_LEVEL: level.default('info'),
  /** Temporal frontend, host:port; default the dev stack's 127.0.0.1:7233. */
  TEMPORAL_ADDRESS: z.string().regex(/^[^:\s]+:\d+$/, 'expected host:port').default('127.0.0.1:7233'),
  /** Temporal namespace; default "default". */
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  /** Task queue of the remediation workers; default sentinel-remediation. */
  SENTINEL_TASK_QUEUE: z.string().min(1).default('sentinel-remediation'),
  /** NATS server URL(s), comma separated; default the dev stack's nats://127.0.0.1:4223. */
  NATS_URL: z.string().min(1).default('nats://127.0.0.1:4223'),
  /** Folder of rule files; default the pack shipped in rules/ of this checkout. */
  SENTINEL_RULES_DIR: z.string().min(1).default(join(projectRoot, 'rules')),
  /** Stream messages a detector handles at once; default 16. */
  DETECTOR_CONCURRENCY: positiveInt.default(16),
  /** Slack Web API base URL; default Slack itself. The dev stack points it at the simulator. */
  SLACK_API_URL: z.string().url().default('https://slack.com/api/'),
  /** User token of a workspace admin; chat.delete needs it to remove other people's messages. */
  SLACK_ADMIN_TOKEN: z.string().min(1).optional(),
  /** Bot token; the bot posts notifications and summaries. */
  SLACK_BOT_TOKEN: z.string().min(1).optional(),
});

export type Env = z.infer<typeof schema>;

export interface Config {
  logLevel: Env['LOG_LEVEL'];
  temporal: { address: string; namespace: string; taskQueue: string };
  nats: { servers: string[] };
  rulesDir: string;
  detector: { concurrency: number };
  slack: { apiUrl: string; adminToken: string | undefined; botToken: string | undefined };
}

/** A configuration problem, named by its variable, found before anything starts. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses `env` (process.env by default) or throws a ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const blankless = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const parsed = schema.safeParse(blankless);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const name = String(i.path[0] ?? '?');
      return `  ${name}=${JSON.stringify(env[name] ?? '')}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}\n(see "Configuration" in README.md)`);
  }
  const e = parsed.data;
  return {
    logLevel: e.LOG_LEVEL,
    temporal: { address: e.TEMPORAL_ADDRESS, namespace: e.TEMPORAL_NAMESPACE, taskQueue: e.SENTINEL_TASK_QUEUE },
    nats: { servers: e.NATS_URL.split(',').map((s) => s.trim()) },
    rulesDir: e.SENTINEL_RULES_DIR,
    detector: { concurrency: e.DETECTOR_CONCURRENCY },
    slack: { apiUrl: e.SLACK_API_URL, adminToken: e.SLACK_ADMIN_TOKEN, botToken: e.SLACK_BOT_TOKEN },
  };
}

/** The value of a variable a component cannot run without, or a ConfigError saying why it is needed. */
export function required<T>(value: T | undefined, variable: string, why: string): T {
  if (value === undefined) throw new ConfigError(`${variable} is not set: ${why}`);
  return value;
}
