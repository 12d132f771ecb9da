/** The record `stack up` leaves behind so that `status`, `down` and the demo can find a running stack. */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SIM_DEV_RATE_LIMITS } from '../slack-sim/dev-limits';
import { SIM_ADMIN_TOKEN, SIM_BOT_TOKEN } from '../slack-sim/workspace';
import type { Endpoints, ServiceProcess } from './stack';

export interface StackState {
  startedAt: string;
  endpoints: Endpoints;
  services: ServiceProcess[];
}

export const stateFile = (home: string) => join(home, 'stack', 'state.json');

export function readState(home: string): StackState | undefined {
  const f = stateFile(home);
  if (!existsSync(f)) return undefined;
  return JSON.parse(readFileSync(f, 'utf8')) as StackState;
}

export function writeState(home: string, state: StackState): void {
  writeFileSync(stateFile(home), JSON.stringify(state, null, 2));
}

export function clearState(home: string): void {
  rmSync(stateFile(home), { force: true });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The environment variables that point Sentinel's components at a stack. */
export function stackEnv(e: Endpoints): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: e.temporalAddress,
    NATS_URL: e.natsUrl,
    // `npm run codec-server` also serves the Web UI, on its own origin: signed in, it shows payloads decoded.
    ...(e.temporalUiUrl ? { SENTINEL_CODEC_SERVER_WEB_UI: e.temporalUiUrl } : {}),
    AWS_ENDPOINT_URL_KMS: e.kmsEndpoint,
    // moto serves IAM and STS too: leaked access keys are verified and disabled there.
    AWS_ENDPOINT_URL_IAM: e.kmsEndpoint,
    AWS_ENDPOINT_URL_STS: e.kmsEndpoint,
    // moto accepts any credentials; real AWS takes them from the KMS workers' role.
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    ...(e.slackApiUrl
      ? {
          SLACK_API_URL: e.slackApiUrl,
          SLACK_ADMIN_TOKEN: SIM_ADMIN_TOKEN,
          SLACK_BOT_TOKEN: SIM_BOT_TOKEN,
          SENTINEL_SECURITY_CHANNEL: 'C0SECURIT',
          // The simulator's workspace admin and its secops user group may use the summary's buttons and /sentinel.
          SENTINEL_OPERATORS: 'U0ADMIN01,S0SECOPS1',
          SLACK_MAX_CALLS_PER_SECOND: '50',
          // The dev stack's simulator allows each method this much (SIM_DEV_RATE_LIMITS); Slack's own tiers are far lower.
          SLACK_RATE_LIMITS: SIM_DEV_RATE_LIMITS,
        }
      : {}),
  };
}

/** Where the dev codec server listens (`npm run codec-server`, or the demo's), as the dev Web UI is told at start. */
export function devCodecEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return `http://127.0.0.1:${env.SENTINEL_CODEC_SERVER_PORT || 8888}`;
}
