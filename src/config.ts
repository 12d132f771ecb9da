/**
 * Configuration, parsed once at boot from environment variables. Every variable is listed in the
 * README; defaults point at the embedded dev stack (`npm run stack -- up`).
 */
import { join } from 'node:path';
import { z } from 'zod';
import { KeyFormatError, decodeKey, parseCodecKeys, type CodecKey } from './crypto/keys';
import { projectRoot } from './paths';
// Straight from the files that define them, not the contract's index: the index also defines the
// search attributes, and with them loads the Temporal SDK, which a `sentinel scan` does not need.
import { parseKmsKeyArn } from '../contract/kms';
import { parseSlackBudgets } from '../contract/slack-limits';
import type { EscalationLevel } from '../contract/types';

const level = z.enum(['debug', 'info', 'warn', 'error']);
const positiveInt = z.coerce.number().int().positive();

const schema = z.object({
  /** debug | info | warn | error; default info. */
  LOG_LEVEL: level.default('info'),
  /** Port of the process's /livez, /readyz and /metrics; unset: not served (each process on a host needs its own). */
  SENTINEL_HEALTH_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** Port of the Temporal SDK's own Prometheus metrics (workers); unset: not served. Tagged with the build id. */
  SENTINEL_SDK_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** Temporal Worker Deployment the workers register in (Worker Versioning); default sentinel. */
  SENTINEL_DEPLOYMENT: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'letters, digits, - and _ (no dots)').default('sentinel'),
  /** Build id of this worker's code; default sentinel-<package version>-<12 hex of the workflow code's digest> (README "Upgrading workers"). */
  SENTINEL_BUILD_ID: z.string().regex(/^[A-Za-z0-9_-]{1,200}$/, 'letters, digits, - and _ (no dots)').optional(),
  /** on: incidents stay on the build that started them, new ones go to the current version (sentinel fleet promote); off (default): unversioned. */
  SENTINEL_WORKER_VERSIONING: z.enum(['on', 'off']).default('off'),
  /** Temporal frontend, host:port; default the dev stack's 127.0.0.1:7233. */
  TEMPORAL_ADDRESS: z.string().regex(/^[^:\s]+:\d+$/, 'expected host:port').default('127.0.0.1:7233'),
  /** Temporal namespace; default "default". */
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  /** Task queue of the remediation workers; default sentinel-remediation. */
  SENTINEL_TASK_QUEUE: z.string().min(1).default('sentinel-remediation'),
  /** Workflow-task polls a remediation worker keeps open, half for new incidents; default 20. */
  SENTINEL_WORKFLOW_TASK_POLLS: z.coerce.number().int().min(2).max(40).default(20),
  /** NATS server URL(s), comma separated; default the dev stack's nats://127.0.0.1:4223. */
  NATS_URL: z.string().min(1).default('nats://127.0.0.1:4223'),
  /** Folder of rule files; default the pack shipped in rules/ of this checkout. */
  SENTINEL_RULES_DIR: z.string().min(1).default(join(projectRoot, 'rules')),
  /** Stream messages a detector handles at once; default 16. */
  DETECTOR_CONCURRENCY: positiveInt.default(16),
  /** Layers of encoding (base64, hex, percent, JSON escapes) the rules look inside; default 2, 0 turns decoding off. */
  SENTINEL_DECODE_DEPTH: z.coerce.number().int().min(0).max(5).default(2),
  /** Partitions of the FACTS stream (stateful rules); every detector and correlator must agree. Default 8. */
  SENTINEL_FACT_PARTITIONS: z.coerce.number().int().min(1).max(1024).default(8),
  /** How late (event time behind the newest fact) a fact may arrive and still count; default 5m. */
  SENTINEL_LATENESS: z.string().regex(/^\d+(ms|s|m|h)$/, 'a duration such as 30s, 5m or 1h').default('5m'),
  /** The FACTS partitions this correlator owns: 0-3,6 or all (the default). */
  SENTINEL_CORRELATOR_PARTITIONS: z
    .string()
    .regex(/^(all|\d+(-\d+)?(,\d+(-\d+)?)*)$/, 'all, or partition numbers and ranges such as 0-3,6')
    .default('all'),
  /** Slack Web API base URL; default Slack itself. The dev stack points it at the simulator. */
  SLACK_API_URL: z.string().url().default('https://slack.com/api/'),
  /** User token of a workspace admin; chat.delete needs it to remove other people's messages. */
  SLACK_ADMIN_TOKEN: z.string().min(1).optional(),
  /** Bot token; the bot posts notifications and summaries. */
  SLACK_BOT_TOKEN: z.string().min(1).optional(),
  /** The Slack app's signing secret; the bridge verifies every Events API request with it. */
  SLACK_SIGNING_SECRET: z.string().min(8).optional(),
  /** An app-level token (xapp-…): the bridge then also takes events over Socket Mode. */
  SLACK_APP_TOKEN: z.string().regex(/^xapp-/, 'an app-level token starting with xapp-').optional(),
  /** Where the bridge listens; default 127.0.0.1:3000 (put a TLS proxy in front of it). */
  BRIDGE_HOST: z.string().min(1).default('127.0.0.1'),
  BRIDGE_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Largest Events API request accepted, in bytes; default 1048576. */
  BRIDGE_MAX_BODY_BYTES: positiveInt.default(1 << 20),
  /**
   * Who may act on incidents from Slack (summary buttons, /sentinel): user ids (U…, W…) and user-group
   * ids (S…), comma separated. Unset: nobody; every click and command is refused (and audited).
   */
  SENTINEL_OPERATORS: z
    .string()
    .regex(/^\s*[UWS][A-Z0-9]{2,}\s*(,\s*[UWS][A-Z0-9]{2,}\s*)*$/, 'Slack user ids (U…, W…) and user-group ids (S…), comma separated, e.g. U0123ABCD,S0456EFGH')
    .optional(),
  /** dm (default): tell the author in a direct message; ephemeral: in the channel, visible to them only. */
  SENTINEL_NOTIFY_MODE: z.enum(['dm', 'ephemeral']).default('dm'),
  /** Channel id for incident summaries and escalations; none: no summaries. */
  SENTINEL_SECURITY_CHANNEL: z.string().regex(/^[CGD][A-Z0-9]{2,}$/, 'a Slack channel id such as C0123ABCD').optional(),
  /** Notification activities (posts, DMs, lookups) started per second across the fleet (Temporal's task-queue rate limit); default 5. */
  SLACK_MAX_CALLS_PER_SECOND: z.coerce.number().positive().default(5),
  /**
   * Per-method budgets, `method=N/s` or `method=N/min`, comma separated; `*` for every method not
   * named. Unset methods keep Slack's published tiers (chat.delete 50/min, …). chat.delete's budget is
   * also the fleet-wide rate of the deletion task queue.
   */
  SLACK_RATE_LIMITS: z
    .string()
    .default('')
    .superRefine((v, ctx) => {
      try {
        parseSlackBudgets(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    }),
  /** Notifications to one channel or user closer together than this are combined into one digest message; default 2s, 0 turns digests off. */
  SLACK_DIGEST_INTERVAL: z.string().regex(/^\d+(ms|s|m)$/, 'a duration such as 2s or 500ms').default('2s'),
  /** Task queue of the KMS workers, the only ones holding KMS credentials; default sentinel-kms. */
  SENTINEL_KMS_TASK_QUEUE: z.string().min(1).default('sentinel-kms'),
  /** AWS region of the KMS keys; default us-east-1. */
  AWS_REGION: z.string().min(1).default('us-east-1'),
  /** KMS endpoint override (moto in development); default AWS. */
  AWS_ENDPOINT_URL_KMS: z.string().url().optional(),
  /** Task queue of the credential workers (verify and revoke leaked credentials), the only ones holding IAM rights; default sentinel-credentials. */
  SENTINEL_CREDENTIALS_TASK_QUEUE: z.string().min(1).default('sentinel-credentials'),
  /** IAM endpoint override (moto in development); default AWS. */
  AWS_ENDPOINT_URL_IAM: z.string().url().optional(),
  /** STS endpoint override (moto in development); default AWS. */
  AWS_ENDPOINT_URL_STS: z.string().url().optional(),
  /** GitHub REST API base URL (the GitHub simulator in development); default https://api.github.com. */
  GITHUB_API_URL: z.string().url().default('https://api.github.com'),
  /** disable (default): DisableKey; schedule_deletion: ScheduleKeyDeletion with the pending window. */
  SENTINEL_KMS_ACTION: z.enum(['disable', 'schedule_deletion']).default('disable'),
  /** Pending window of ScheduleKeyDeletion in days, 7-30; default 30. */
  SENTINEL_KMS_PENDING_DAYS: z.coerce.number().int().min(7).max(30).default(30),
  /** Customer-managed key per channel: C0123=arn:aws:kms:…,C0456=arn:… */
  SENTINEL_CHANNEL_KEYS: z
    .string()
    .regex(/^([A-Z0-9]+=[^,=]+)(,[A-Z0-9]+=[^,=]+)*$/, 'CHANNEL=arn:aws:kms:…, comma separated')
    .refine((v) => v.split(',').every((pair) => parseKmsKeyArn(pair.split('=')[1]!)), {
      message: 'every value must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>; aws-cn, aws-us-gov and mrk- keys too)',
    })
    .optional(),
  /** How long a revocation waits for approval when a rule requires it; default 24h. */
  SENTINEL_APPROVAL_TIMEOUT: z.string().regex(/^\d+(ms|s|m|h|d)$/, 'a duration such as 30m, 24h, 2d').default('24h'),
  /** What happens when no one decides in time: reject (default, the key stays enabled) or approve. */
  SENTINEL_APPROVAL_DEFAULT: z.enum(['reject', 'approve']).default('reject'),
  /**
   * How long a quarantined message's sealed copy waits for an operator's restore or discard, from
   * detection; past it the incident counts it as discarded. Also the QUARANTINE stream's max_age
   * (plus an hour). Default 30d.
   */
  SENTINEL_QUARANTINE_RETENTION: z.string().regex(/^\d+(s|m|h|d)$/, 'a duration such as 12h, 7d or 30d').default('30d'),
  /** Repeat-offender levels: count/window=action, comma separated. Actions: warn, notify_security, access_review. */
  SENTINEL_ESCALATION: z
    .string()
    .regex(/^\d+\/\d+(m|h|d)=(warn|notify_security|access_review)(,\d+\/\d+(m|h|d)=(warn|notify_security|access_review))*$/, 'count/window=action, e.g. 2/24h=warn,3/24h=notify_security')
    .default('2/24h=warn,3/24h=notify_security,5/24h=access_review'),
  /** Payload-codec keys, id:base64-32-bytes, comma separated; every Temporal client and worker needs them. */
  SENTINEL_CODEC_KEYS: z.string().min(1).optional(),
  /** The key id new payloads are sealed with; default the first key listed. */
  SENTINEL_CODEC_ACTIVE_KEY: z.string().min(1).optional(),
  /** Base64 key (32+ bytes) for HMAC fingerprints of matched secrets; the detector needs it. */
  SENTINEL_FINGERPRINT_KEY: z.string().min(1).optional(),
  /** Bearer tokens the codec server accepts, comma separated (two during a token rotation); 24+ characters each. */
  SENTINEL_CODEC_SERVER_TOKEN: z
    .string()
    .regex(/^[^,\s]{24,}(,[^,\s]{24,})*$/, 'tokens of 24 or more characters without spaces, comma separated')
    .optional(),
  /** Web UI origins allowed to call the codec server, comma separated; default the dev stack's UI. */
  SENTINEL_CODEC_SERVER_ORIGINS: z
    .string()
    .regex(/^https?:\/\/[^,/\s]+(,https?:\/\/[^,/\s]+)*$/, 'origins such as https://temporal.example.com, comma separated, no path')
    .default('http://localhost:8233,http://127.0.0.1:8233'),
  /** Where the codec server listens; default 127.0.0.1:8888 (put TLS in front of it). */
  SENTINEL_CODEC_SERVER_HOST: z.string().min(1).default('127.0.0.1'),
  SENTINEL_CODEC_SERVER_PORT: z.coerce.number().int().min(0).max(65535).default(8888),
  /** Largest /encode or /decode request accepted, in bytes; default 4194304. */
  SENTINEL_CODEC_SERVER_MAX_BODY_BYTES: positiveInt.default(4 << 20),
  /** The Temporal Web UI the codec server also serves (proxied, same origin: decoded once signed in); default none. */
  SENTINEL_CODEC_SERVER_WEB_UI: z.string().url().optional(),
});

/** Variables holding secrets: a configuration error names them but never shows their value. */
const SECRET_VARIABLES = new Set([
  'SLACK_ADMIN_TOKEN',
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'SLACK_APP_TOKEN',
  'SENTINEL_CODEC_KEYS',
  'SENTINEL_FINGERPRINT_KEY',
  'SENTINEL_CODEC_SERVER_TOKEN',
]);

export type Env = z.infer<typeof schema>;

export interface Config {
  logLevel: Env['LOG_LEVEL'];
  /** Where /livez, /readyz and /metrics are served; undefined: nowhere. */
  healthPort: number | undefined;
  /** Worker Versioning: the deployment and build id workers register with (buildId undefined: derived from the code), and whether they route by it. */
  versioning: { deployment: string; buildId: string | undefined; enabled: boolean };
  /** Where the Temporal SDK's Prometheus exporter listens; undefined: nowhere. */
  sdkMetricsPort: number | undefined;
  /** `workflowTaskPolls`: the remediation worker's concurrent workflow-task polls (sticky and not). */
  temporal: { address: string; namespace: string; taskQueue: string; workflowTaskPolls: number };
  nats: { servers: string[] };
  rulesDir: string;
  detector: { concurrency: number; decodeDepth: number };
  /** Stateful rules: FACTS partitions, the lateness bound, and the partitions this correlator owns (all when undefined). */
  stateful: { partitions: number; latenessMs: number; ownedPartitions: number[] | undefined };
  slack: {
    apiUrl: string;
    adminToken: string | undefined;
    botToken: string | undefined;
    maxCallsPerSecond: number;
    /** Calls per second per Web API method (see budgetOf). */
    budgets: Record<string, number>;
    digestIntervalMs: number;
  };
  /** `operators`: SENTINEL_OPERATORS as ids (users and user groups); empty: nobody may act from Slack. */
  bridge: { signingSecret: string | undefined; appToken: string | undefined; host: string; port: number; maxBodyBytes: number; operators: string[] };
  remediation: {
    notifyMode: 'dm' | 'ephemeral';
    securityChannel: string | undefined;
    approvalTimeout: string;
    approvalDefault: 'reject' | 'approve';
    /** SENTINEL_QUARANTINE_RETENTION in milliseconds. */
    quarantineRetentionMs: number;
    escalation: EscalationLevel[];
  };
  kms: {
    taskQueue: string;
    region: string;
    endpoint: string | undefined;
    action: 'disable' | 'schedule_deletion';
    pendingDays: number;
    channelKeys: Record<string, string>;
  };
  credentials: {
    taskQueue: string;
    iamEndpoint: string | undefined;
    stsEndpoint: string | undefined;
    githubApiUrl: string;
  };
  /** The payload codec's keys; undefined when SENTINEL_CODEC_KEYS is not set. */
  codec: { keys: CodecKey[]; active: CodecKey } | undefined;
  /** The HMAC key for fingerprints; undefined when SENTINEL_FINGERPRINT_KEY is not set. */
  fingerprintKey: Buffer | undefined;
  codecServer: { tokens: string[]; origins: string[]; host: string; port: number; maxBodyBytes: number; webUi: string | undefined };
}

export type { EscalationLevel };

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
      return `  ${name}=${shown(name, env[name])}: ${i.message}`;
    });
    throw invalid(lines);
  }
  const e = parsed.data;
  const keyProblems: string[] = [];
  const keys = <T>(name: string, parse: () => T): T | undefined => {
    try {
      return parse();
    } catch (err) {
      if (!(err instanceof KeyFormatError)) throw err;
      keyProblems.push(`  ${name}=${shown(name, env[name])}: ${err.message}`);
      return undefined;
    }
  };
  const codec = e.SENTINEL_CODEC_KEYS === undefined ? undefined : keys('SENTINEL_CODEC_KEYS', () => parseCodecKeys(e.SENTINEL_CODEC_KEYS!, e.SENTINEL_CODEC_ACTIVE_KEY));
  const fingerprintKey =
    e.SENTINEL_FINGERPRINT_KEY === undefined ? undefined : keys('SENTINEL_FINGERPRINT_KEY', () => decodeKey(e.SENTINEL_FINGERPRINT_KEY!, 'the key', 32, true));
  if (keyProblems.length) throw invalid(keyProblems);
  if (e.SENTINEL_CODEC_ACTIVE_KEY !== undefined && e.SENTINEL_CODEC_KEYS === undefined) {
    throw invalid(['  SENTINEL_CODEC_ACTIVE_KEY is set but SENTINEL_CODEC_KEYS is not: list the keys, then name the active one']);
  }
  return {
    logLevel: e.LOG_LEVEL,
    healthPort: e.SENTINEL_HEALTH_PORT,
    versioning: { deployment: e.SENTINEL_DEPLOYMENT, buildId: e.SENTINEL_BUILD_ID, enabled: e.SENTINEL_WORKER_VERSIONING === 'on' },
    sdkMetricsPort: e.SENTINEL_SDK_METRICS_PORT,
    temporal: { address: e.TEMPORAL_ADDRESS, namespace: e.TEMPORAL_NAMESPACE, taskQueue: e.SENTINEL_TASK_QUEUE, workflowTaskPolls: e.SENTINEL_WORKFLOW_TASK_POLLS },
    nats: { servers: e.NATS_URL.split(',').map((s) => s.trim()) },
    rulesDir: e.SENTINEL_RULES_DIR,
    detector: { concurrency: e.DETECTOR_CONCURRENCY, decodeDepth: e.SENTINEL_DECODE_DEPTH },
    stateful: { partitions: e.SENTINEL_FACT_PARTITIONS, latenessMs: durationMs(e.SENTINEL_LATENESS), ownedPartitions: ownedPartitions(e.SENTINEL_CORRELATOR_PARTITIONS, e.SENTINEL_FACT_PARTITIONS) },
    slack: {
      apiUrl: e.SLACK_API_URL,
      adminToken: e.SLACK_ADMIN_TOKEN,
      botToken: e.SLACK_BOT_TOKEN,
      maxCallsPerSecond: e.SLACK_MAX_CALLS_PER_SECOND,
      budgets: parseSlackBudgets(e.SLACK_RATE_LIMITS),
      digestIntervalMs: durationMs(e.SLACK_DIGEST_INTERVAL),
    },
    bridge: {
      signingSecret: e.SLACK_SIGNING_SECRET,
      appToken: e.SLACK_APP_TOKEN,
      host: e.BRIDGE_HOST,
      port: e.BRIDGE_PORT,
      maxBodyBytes: e.BRIDGE_MAX_BODY_BYTES,
      operators: (e.SENTINEL_OPERATORS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    },
    remediation: {
      notifyMode: e.SENTINEL_NOTIFY_MODE,
      securityChannel: e.SENTINEL_SECURITY_CHANNEL,
      approvalTimeout: e.SENTINEL_APPROVAL_TIMEOUT,
      approvalDefault: e.SENTINEL_APPROVAL_DEFAULT,
      quarantineRetentionMs: e.SENTINEL_QUARANTINE_RETENTION.endsWith('d') ? Number(e.SENTINEL_QUARANTINE_RETENTION.slice(0, -1)) * 86_400_000 : durationMs(e.SENTINEL_QUARANTINE_RETENTION),
      escalation: e.SENTINEL_ESCALATION.split(',')
        .map((l) => {
          const [, count, window, action] = /^(\d+)\/([^=]+)=(.+)$/.exec(l)!;
          return { count: Number(count), window: window!, action: action as EscalationLevel['action'] };
        })
        .sort((a, b) => a.count - b.count),
    },
    kms: {
      taskQueue: e.SENTINEL_KMS_TASK_QUEUE,
      region: e.AWS_REGION,
      endpoint: e.AWS_ENDPOINT_URL_KMS,
      action: e.SENTINEL_KMS_ACTION,
      pendingDays: e.SENTINEL_KMS_PENDING_DAYS,
      channelKeys: Object.fromEntries((e.SENTINEL_CHANNEL_KEYS ?? '').split(',').filter(Boolean).map((p) => p.split('=') as [string, string])),
    },
    credentials: {
      taskQueue: e.SENTINEL_CREDENTIALS_TASK_QUEUE,
      iamEndpoint: e.AWS_ENDPOINT_URL_IAM,
      stsEndpoint: e.AWS_ENDPOINT_URL_STS,
      githubApiUrl: e.GITHUB_API_URL,
    },
    codec,
    fingerprintKey,
    codecServer: {
      tokens: e.SENTINEL_CODEC_SERVER_TOKEN?.split(',') ?? [],
      origins: e.SENTINEL_CODEC_SERVER_ORIGINS.split(','),
      host: e.SENTINEL_CODEC_SERVER_HOST,
      port: e.SENTINEL_CODEC_SERVER_PORT,
      maxBodyBytes: e.SENTINEL_CODEC_SERVER_MAX_BODY_BYTES,
      webUi: e.SENTINEL_CODEC_SERVER_WEB_UI,
    },
  };
}

/** A variable's value for an error message: quoted, or only its length when it holds a secret. */
function shown(name: string, value: string | undefined): string {
  if (SECRET_VARIABLES.has(name)) return `<hidden, ${value?.length ?? 0} characters>`;
  return JSON.stringify(value ?? '');
}

function invalid(lines: string[]): ConfigError {
  return new ConfigError(`invalid configuration:\n${lines.join('\n')}\n(see "Configuration" in README.md)`);
}

/** The value of a variable a component cannot run without, or a ConfigError saying why it is needed. */
export function required<T>(value: T | undefined, variable: string, why: string): T {
  if (value === undefined) throw new ConfigError(`${variable} is not set: ${why}`);
  return value;
}

/** Milliseconds of a duration written as 500ms, 2s, 1m or 1h. */
function durationMs(v: string): number {
  const [, n, unit] = /^(\d+)(ms|s|m|h)$/.exec(v)!;
  return Number(n) * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000);
}

/** SENTINEL_CORRELATOR_PARTITIONS as a sorted list (undefined: all), each below the partition count. */
function ownedPartitions(v: string, partitions: number): number[] | undefined {
  if (v === 'all') return undefined;
  const out = new Set<number>();
  for (const part of v.split(',')) {
    const [a, b = a] = part.split('-').map(Number) as [number, number?];
    if (b < a || b >= partitions) throw invalid([`  SENTINEL_CORRELATOR_PARTITIONS=${JSON.stringify(v)}: ${part} is not a range within 0-${partitions - 1} (SENTINEL_FACT_PARTITIONS=${partitions})`]);
    for (let p = a; p <= b!; p++) out.add(p);
  }
  return [...out].sort((x, y) => x - y);
}
