/**
 * The image, run natively (Docker does not run here): deploy/Dockerfile's build stage is replayed in
 * a scratch folder (its COPY lines, then its build step), and the runtime stage's ENV, ENTRYPOINT
 * and CMD start a detector and a worker from the built output on the test stack. A leak runs
 * through them; their /metrics and the worker's Temporal SDK exporter are scraped, and every metric
 * named by a Grafana panel or an alert rule must be among what they export.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { connect, type NatsConnection } from 'nats';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { chatSubject } from '../src/nats/streams';
import { projectRoot } from '../src/paths';
import { SlackSimulator } from '../src/slack-sim/server';
import { SIM_ADMIN_TOKEN, SIM_BOT_TOKEN } from '../src/slack-sim/workspace';
import { freePort } from '../src/stack/stack';
import { dockerEnv, dockerStages, type Instruction } from './support/dockerfile';
import { eventually, terminateRunning } from './support/harness';
import { INCIDENT_RULES } from './support/incident-rules';
import { testClient, testSecrets } from './support/secrets';

const LEAK = 'deploy check: token ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8 do not share';

const dockerfile = dockerStages(readFileSync(join(projectRoot, 'deploy', 'Dockerfile'), 'utf8'));
const buildStage = dockerfile[0]!;
const runtimeStage = dockerfile.at(-1)!;
const execForm = (i: Instruction | undefined) => (i ? (JSON.parse(i.args) as string[]) : []);
const entrypoint = execForm(runtimeStage.findLast((i) => i.op === 'ENTRYPOINT'));
const imageEnv = dockerEnv(runtimeStage);

/** Metric names a PromQL expression reads (histogram series named by their family). */
export function metricNames(expr: string): string[] {
  return [...new Set([...expr.matchAll(/\b((?:sentinel|temporal)_[a-z0-9_]+)\b/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, '')))];
}

/** Metric families a /metrics page declares (`# TYPE name kind`). */
function families(body: string): Set<string> {
  return new Set([...body.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1]!));
}

interface Proc {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

describe('the image, built and started natively', () => {
  let root: string;
  let nc: NatsConnection;
  let sim: SlackSimulator;
  const procs: Proc[] = [];

  /** ENTRYPOINT + `command` in the built folder, with the image's ENV and `env`. */
  function runImage(command: string[], env: Record<string, string>): Proc {
    const [exe, ...args] = [...entrypoint, ...command];
    const child = spawn(exe === 'node' ? process.execPath : exe!, args, {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...imageEnv, ...env },
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const p: Proc = {
      child,
      output: () => out,
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(timer);
      },
    };
    procs.push(p);
    return p;
  }

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'sentinel-image-'));
    // The build stage's COPY lines, as Docker would copy them from the build context.
    for (const i of buildStage.filter((i) => i.op === 'COPY')) {
      const parts = i.args.split(/\s+/);
      const dest = parts.pop()!;
      for (const src of parts) cpSync(join(projectRoot, src), dest.endsWith('/') || parts.length > 1 ? join(root, dest, src) : join(root, dest), { recursive: true });
    }
    // npm ci already ran in this checkout (CI runs it first): its node_modules stand in for the image's.
    symlinkSync(join(projectRoot, 'node_modules'), join(root, 'node_modules'), 'dir');
    const build = buildStage.filter((i) => i.op === 'RUN' && /scripts\/build\.js|npm run build/.test(i.args));
    expect(build.length, 'the Dockerfile builds dist/ with the project build').toBeGreaterThan(0);
    for (const step of build) {
      const r = spawnSync('sh', ['-c', step.args], { cwd: root, encoding: 'utf8', env: { ...process.env, SENTINEL_RUN: '' } });
      expect(r.status, `RUN ${step.args}\n${r.stdout}\n${r.stderr}`).toBe(0);
    }
  }, 120_000);

  /** The task queue the image's processes run on. */
  const queue = `image-${randomUUID()}`;

  afterAll(async () => {
    for (const p of procs) await p.stop();
    // The incidents' offender workflows (per user, not per task queue) would otherwise stay running
    // on this queue with no worker, and a later suite's signal to the same user would wait there.
    const client = await testClient();
    await terminateRunning(client, queue);
    await client.connection.close();
    await sim?.stop();
    await nc?.drain();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('has a current build whose every component the compose file and the manifests run resolves to a file', async () => {
    const { resolveComponent } = (await import(join(root, 'bin', 'launch.js'))) as {
      resolveComponent(name: string, env: Record<string, string>): { mode?: string; file?: string; error?: string };
    };
    const compose = parseYaml(readFileSync(join(projectRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, { image?: string; command?: string[] }> };
    const fromImage = Object.values(compose.services).filter((s) => s.image?.startsWith('sentinel'));
    const names = new Set<string>([execForm(runtimeStage.findLast((i) => i.op === 'CMD'))[0]!, ...fromImage.map((s) => s.command![0]!)]);
    for (const file of ['detector', 'worker', 'worker-kms', 'bridge', 'codec-server', 'correlator']) {
      const path = join(projectRoot, 'deploy', 'k8s', `${file}.yaml`);
      if (!existsSync(path)) continue;
      for (const doc of readFileSync(path, 'utf8').split(/^---$/m).map((d) => parseYaml(d) as { kind?: string; spec?: { template?: { spec?: { containers?: { args?: string[] }[] } } } })) {
        for (const c of doc?.kind === 'Deployment' ? doc.spec!.template!.spec!.containers! : []) names.add(c.args![0]!);
      }
    }
    expect(names.size).toBeGreaterThanOrEqual(6);
    for (const name of names) {
      const r = resolveComponent(name, { SENTINEL_RUN: imageEnv.SENTINEL_RUN! });
      expect(r.error, `component ${name}`).toBeUndefined();
      expect(r.mode).toBe('dist');
      expect(existsSync(r.file!), r.file).toBe(true);
    }
    expect(existsSync(join(root, 'dist', 'workflow-bundle.js'))).toBe(true);
  });

  it('runs a detector and both workers from the build; every metric the dashboard and the alerts use is exported', async () => {
    const stack = inject('stack');
    nc = await connect({ servers: stack.natsUrl });
    sim = await new SlackSimulator().start();
    const [detectorOps, workerOps, workerSdk, kmsOps] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const common = {
      TEMPORAL_ADDRESS: stack.temporalAddress,
      NATS_URL: stack.natsUrl,
      SENTINEL_TASK_QUEUE: queue,
      SENTINEL_KMS_TASK_QUEUE: `${queue}-kms`,
      SENTINEL_CREDENTIALS_TASK_QUEUE: `${queue}-credentials`,
      LOG_LEVEL: 'info',
      ...testSecrets(),
    };
    // The pack's own rules, and the incident suites' kms-auto (a KMS key named in #engineering is revoked at once).
    const rulesFolder = join(root, 'image-test-rules');
    cpSync(join(root, 'rules'), rulesFolder, { recursive: true });
    writeFileSync(join(rulesFolder, 'incident-rules.yaml'), INCIDENT_RULES);
    const detector = runImage(['detector'], { ...common, SENTINEL_HEALTH_PORT: String(detectorOps), SENTINEL_RULES_DIR: rulesFolder });
    // The KMS and credential worker, with its packages bundled in (scripts/build.js): it must reach AWS through them.
    const aws = { AWS_ENDPOINT_URL_KMS: stack.kmsEndpoint, AWS_ENDPOINT_URL_IAM: stack.kmsEndpoint, AWS_ENDPOINT_URL_STS: stack.kmsEndpoint, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1' };
    const kmsWorker = runImage(['worker:kms'], { ...common, ...aws, SENTINEL_HEALTH_PORT: String(kmsOps) });
    const worker = runImage(['worker'], {
      ...common,
      SENTINEL_HEALTH_PORT: String(workerOps),
      SENTINEL_SDK_METRICS_PORT: String(workerSdk),
      SLACK_API_URL: sim.apiUrl,
      SLACK_ADMIN_TOKEN: SIM_ADMIN_TOKEN,
      SLACK_BOT_TOKEN: SIM_BOT_TOKEN,
      SLACK_RATE_LIMITS: '*=100/s',
    });
    const get = async (url: string) => {
      const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
      return { status: res.status, body: await res.text() };
    };
    for (const [p, port, name] of [[detector, detectorOps, 'the detector'], [worker, workerOps, 'the worker'], [kmsWorker, kmsOps, 'the KMS worker']] as const) {
      await eventually(`${name} (from dist/) to be ready`, async () => {
        if (p.child.exitCode !== null) throw new Error(`exited with ${p.child.exitCode}:\n${p.output().slice(-2000)}`);
        return (await get(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200;
      }, 90_000);
    }
    // Ran from the build, never through tsx.
    expect(detector.output()).not.toMatch(/tsx|SENTINEL_RUN=src/);

    const { message, envelope } = sim.postAsUser('U0ALICE01', 'C0GENERAL', LEAK);
    await nc.jetstream().publish(chatSubject('slack', 'T0SENTNL1', 'message'), JSON.stringify(envelope), { msgID: envelope.event_id });
    await eventually('the leak to be deleted', () => sim.workspace.find('C0GENERAL', message.ts) === undefined, 60_000);
    const kms = new KMSClient({ endpoint: stack.kmsEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const arn = (await kms.send(new CreateKeyCommand({ Description: 'sentinel image key' }))).KeyMetadata!.Arn!;
    const named = sim.postAsUser('U0BOB0001', 'C0ENGINEE', `rotate ${arn} please`);
    await nc.jetstream().publish(chatSubject('slack', 'T0SENTNL1', 'message'), JSON.stringify(named.envelope), { msgID: named.envelope.event_id });
    await eventually('the KMS worker (from dist/) to disable the key', async () => (await kms.send(new DescribeKeyCommand({ KeyId: arn }))).KeyMetadata!.KeyState === 'Disabled', 60_000);
    kms.destroy();

    const scrape = async () => {
      const pages = await Promise.all([`http://127.0.0.1:${detectorOps}/metrics`, `http://127.0.0.1:${workerOps}/metrics`, `http://127.0.0.1:${workerSdk}/metrics`].map((u) => get(u)));
      return pages.map((p) => p.body).join('\n');
    };
    const exported = await eventually(
      'the SDK to report schedule-to-start latencies',
      async () => {
        const all = families(await scrape());
        return all.has('temporal_activity_schedule_to_start_latency') && all.has('temporal_workflow_task_schedule_to_start_latency') && all;
      },
      30_000,
    );

    const dashboard = JSON.parse(readFileSync(join(projectRoot, 'deploy', 'grafana', 'sentinel.json'), 'utf8')) as { panels: { type: string; title: string; targets?: { expr: string }[] }[] };
    const used = new Map<string, string>();
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      expect(panel.targets?.length, `panel "${panel.title}" has a query`).toBeGreaterThan(0);
      for (const t of panel.targets!) {
        const names = metricNames(t.expr);
        expect(names.length, `panel "${panel.title}" query ${t.expr} names a metric`).toBeGreaterThan(0);
        for (const n of names) used.set(n, `panel "${panel.title}"`);
      }
    }
    const rules = parseYaml(readFileSync(join(projectRoot, 'deploy', 'prometheus', 'sentinel-rules.yml'), 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
    for (const rule of rules.groups.flatMap((g) => g.rules)) for (const n of metricNames(rule.expr)) used.set(n, `alert ${rule.alert}`);
    const missing = [...used].filter(([n]) => !exported.has(n)).map(([n, where]) => `${n} (${where})`);
    expect(missing, `not exported by the detector, the worker or its SDK exporter:\n${[...exported].sort().join('\n')}`).toEqual([]);
    expect(used.size).toBeGreaterThan(15);
  });
});
