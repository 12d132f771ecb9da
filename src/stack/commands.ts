/** `stack up [--nats-cluster]|down|status`: the long-lived dev stack of this checkout (npm run stack, sentinel stack). */
import { sentinelHome } from '../paths';
import { StackError } from './errors';
import { portsFromEnv } from './ports';
import { startStack, stopPid, type Endpoints } from './stack';
import { devSecrets, secretsFile } from './secrets';
import { clearState, devCodecEndpoint, isAlive, readState, stackEnv, writeState } from './state';
import { relative } from 'node:path';

const say = (line: string): void => {
  process.stdout.write(line + '\n');
};

function describe(e: Endpoints): void {
  say(`  Temporal     ${e.temporalAddress}`);
  if (e.temporalUiUrl) say(`  Temporal UI  ${e.temporalUiUrl}`);
  say(`  NATS         ${e.natsUrl}${e.natsUrl.includes(',') ? ' (3-node cluster, streams at 3 replicas)' : ''}`);
  say(`  KMS (moto)   ${e.kmsEndpoint}`);
  if (e.slackApiUrl) say(`  Slack sim    ${e.slackApiUrl}`);
  say('\nTo point Sentinel at it:');
  for (const [k, v] of Object.entries(stackEnv(e))) say(`  export ${k}=${v}`);
  say(`and load the dev keys (payload codec, fingerprints, codec-server token) without printing them:`);
  say(`  set -a; . ${relative(process.cwd(), secretsFile(sentinelHome)) || secretsFile(sentinelHome)}; set +a`);
  if (e.temporalUiUrl) say(`To read payloads in the Web UI: run "npm run codec-server" with the variables above, sign in at ${devCodecEndpoint()}/login, then use the UI at ${devCodecEndpoint()}/`);
}


/** `natsCluster`: three NATS nodes with R3 streams instead of one server (`stack up --nats-cluster`). */
export async function up(natsCluster = false): Promise<void> {
  const current = readState(sentinelHome);
  if (current && current.services.every((s) => isAlive(s.pid))) {
    say(`the dev stack is already up (since ${current.startedAt}):`);
    return describe(current.endpoints);
  }
  if (current) {
    say('a previous stack is partly down; stopping what is left of it first');
    for (const s of current.services) await stopPid(s.pid);
    clearState(sentinelHome);
  }
  devSecrets(sentinelHome);
  const stack = await startStack({
    home: sentinelHome,
    ports: portsFromEnv(),
    ui: true,
    uiCodecEndpoint: devCodecEndpoint(),
    slackSim: true,
    natsCluster,
    detached: true,
    progress: (l) => say(`… ${l}`),
  });
  writeState(sentinelHome, { startedAt: new Date().toISOString(), endpoints: stack.endpoints, services: stack.services });
  say('the dev stack is up:');
  describe(stack.endpoints);
}

export async function down(): Promise<void> {
  const current = readState(sentinelHome);
  if (!current) return say('no dev stack is recorded as running');
  await Promise.all(
    current.services.map(async (s) => {
      await stopPid(s.pid);
      say(`stopped ${s.name} (pid ${s.pid})`);
    }),
  );
  clearState(sentinelHome);
}

export function status(): void {
  const current = readState(sentinelHome);
  if (!current) {
    say('the dev stack is down');
    process.exitCode = 1;
    return;
  }
  for (const s of current.services) say(`  ${s.name.padEnd(10)} pid ${String(s.pid).padEnd(8)} port ${String(s.port).padEnd(6)} ${isAlive(s.pid) ? 'running' : 'STOPPED'}  log ${s.log}`);
  describe(current.endpoints);
  if (!current.services.every((s) => isAlive(s.pid))) process.exitCode = 1;
}

/** Runs `up [--nats-cluster]`, `down` or `status`; returns the exit code. */
export async function stackCommand(name: string | undefined, args: string[] = []): Promise<number> {
  const clusterFlag = name === 'up' && args.length === 1 && args[0] === '--nats-cluster';
  const commands: Record<string, () => Promise<void> | void> = { up: () => up(clusterFlag), down, status };
  const command = commands[name ?? ''];
  if (!command || (args.length > 0 && !clusterFlag)) {
    process.stderr.write('usage: stack up [--nats-cluster]|down|status\n');
    return 2;
  }
  try {
    await command();
    return Number(process.exitCode ?? 0);
  } catch (err) {
    process.stderr.write(`stack: ${err instanceof StackError ? err.message : String(err)}\n`);
    return 1;
  }
}
