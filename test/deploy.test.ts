/**
 * The deployment files, checked against the code they deploy (Docker and Kubernetes do not run
 * here): every file parses; every variable they set is one Sentinel reads; probes and metrics ports
 * are the ones the processes serve; task queues, stream and consumer are the code's; termination
 * grace outlasts the workers' drain; the Slack manifest grants what the code calls. The alert rules
 * go through promtool (from Debian's prometheus package, unpacked by scripts/test-tools.js).
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- parsed YAML of many shapes, walked by the assertions themselves */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import { CHAT_STREAM, DETECTOR_CONSUMER } from '../src/nats/streams';
import { projectRoot } from '../src/paths';
import { slackDeleteTaskQueue, slackTaskQueue } from '../contract';
import { SHUTDOWN_GRACE } from '../src/worker/shared-options';
// @ts-expect-error plain JavaScript, no declarations
import { ensurePromtool } from '../scripts/test-tools.js';
import { components } from '../bin/launch.js';
import { dockerEnv, dockerStages } from './support/dockerfile';

const deploy = join(projectRoot, 'deploy');
const read = (path: string) => readFileSync(path, 'utf8');

/** Every file under deploy/ (and docker-compose.yml), relative to the checkout. */
function deployFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else out.push(relative(projectRoot, join(dir, e.name)));
    }
  };
  walk(deploy);
  return [...out, 'docker-compose.yml'].sort();
}

/** All YAML documents of a file (merge keys resolved, as Compose does). */
const yamlDocs = (file: string) =>
  parseAllDocuments(read(join(projectRoot, file)), { merge: true }).map((d) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJS() as Record<string, any>;
  }).filter(Boolean);

/** The variables src/config.ts's schema reads. */
const configVariables = new Set([...read(join(projectRoot, 'src', 'config.ts')).matchAll(/^ {2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]!));
/** Variables the deployment files may set besides the config schema's, each with what reads it. */
const otherVariables: Record<string, string> = {
  NODE_ENV: 'Node and its libraries (production mode)',
  SENTINEL_RUN: 'bin/launch.js: run the compiled build only',
  SLACK_SIM_HOST: 'src/slack-sim/main.ts',
  SLACK_SIM_PORT: 'src/slack-sim/main.ts',
  AWS_ACCESS_KEY_ID: "the AWS SDK's credential chain (moto in compose)",
  AWS_SECRET_ACCESS_KEY: "the AWS SDK's credential chain (moto in compose)",
};

interface Container {
  name: string;
  args: string[];
  env?: { name: string; value?: string }[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string | number } };
  readinessProbe: { httpGet: { path: string; port: string | number } };
}

const k8sFiles = deployFiles().filter((f) => f.startsWith('deploy/k8s/'));
const k8sDocs = k8sFiles.flatMap((f) => yamlDocs(f).map((doc) => ({ file: f, doc })));
const deployments = k8sDocs.filter(({ doc }) => doc.kind === 'Deployment');
const configMap = k8sDocs.find(({ doc }) => doc.kind === 'ConfigMap' && doc.metadata.name === 'sentinel-config')!.doc.data as Record<string, string>;
const compose = yamlDocs('docker-compose.yml')[0]!;
const sentinelServices = Object.entries(compose.services as Record<string, any>).filter(([, s]) => String(s.image).startsWith('sentinel'));
const [buildStage, runtimeStage] = [dockerStages(read(join(deploy, 'Dockerfile')))[0]!, dockerStages(read(join(deploy, 'Dockerfile'))).at(-1)!];
const imageEnv = dockerEnv(runtimeStage);
const defaults = loadConfig({});
const seconds = (d: string) => Number(/^(\d+)s$/.exec(d)![1]);

describe('deployment files', () => {
  it('all parse', () => {
    const files = deployFiles();
    expect(files).toEqual(expect.arrayContaining(['deploy/Dockerfile', 'deploy/grafana/sentinel.json', 'deploy/prometheus/sentinel-rules.yml', 'deploy/slack-app-manifest.yaml', 'docker-compose.yml']));
    for (const f of files) {
      if (/\.ya?ml$/.test(f)) expect(yamlDocs(f).length, f).toBeGreaterThan(0);
      if (f.endsWith('.json')) expect(() => JSON.parse(read(join(projectRoot, f))), f).not.toThrow();
    }
    expect(deployments.map(({ doc }) => doc.metadata.name).sort()).toEqual(
      ['sentinel-bridge', 'sentinel-codec-server', 'sentinel-correlator', 'sentinel-detector', 'sentinel-worker', 'sentinel-worker-kms'],
    );
  });

  it('sets only variables Sentinel reads', () => {
    for (const name of Object.keys(otherVariables).filter((n) => n.startsWith('SLACK_SIM') || n === 'SENTINEL_RUN')) {
      const readers = name === 'SENTINEL_RUN' ? read(join(projectRoot, 'bin', 'launch.js')) : read(join(projectRoot, 'src', 'slack-sim', 'main.ts'));
      expect(readers, `${name} is read`).toContain(name);
    }
    const named: [string, string][] = [
      ...Object.keys(imageEnv).map((n): [string, string] => [n, 'deploy/Dockerfile']),
      ...Object.keys(configMap).map((n): [string, string] => [n, 'deploy/k8s/config.yaml']),
      ...deployments.flatMap(({ file, doc }) => (doc.spec.template.spec.containers as Container[]).flatMap((c) => (c.env ?? []).map((e): [string, string] => [e.name, file]))),
      ...sentinelServices.flatMap(([name, s]) => Object.keys(s.environment ?? {}).map((n): [string, string] => [n, `docker-compose.yml service ${name}`])),
    ];
    expect(named.length).toBeGreaterThan(30);
    const unknown = named.filter(([n]) => !configVariables.has(n) && !(n in otherVariables));
    expect(unknown, 'not in src/config.ts (add it there, or fix the name)').toEqual([]);
    // And the values parse: the ConfigMap with the image's ENV is a valid configuration.
    expect(() => loadConfig({ ...imageEnv, ...configMap })).not.toThrow();
  });

  it('probes /livez and /readyz on the port the processes serve them on, with grace beyond the drain', () => {
    const opsPort = Number(configMap.SENTINEL_HEALTH_PORT);
    expect(Number(imageEnv.SENTINEL_HEALTH_PORT)).toBe(opsPort);
    for (const { file, doc } of deployments) {
      const spec = doc.spec.template.spec;
      expect(spec.terminationGracePeriodSeconds, file).toBeGreaterThanOrEqual(Math.max(30, seconds(SHUTDOWN_GRACE) + 10));
      for (const c of spec.containers as Container[]) {
        expect(components, `${file}: component ${c.args[0]}`).toHaveProperty(c.args[0]!);
        const port = (ref: string | number) => (typeof ref === 'number' ? ref : c.ports.find((p) => p.name === ref)?.containerPort);
        expect(c.livenessProbe.httpGet.path, file).toBe('/livez');
        expect(c.readinessProbe.httpGet.path, file).toBe('/readyz');
        expect(port(c.livenessProbe.httpGet.port), file).toBe(opsPort);
        expect(port(c.readinessProbe.httpGet.port), file).toBe(opsPort);
        expect(Number(doc.spec.template.metadata.annotations['prometheus.io/port']), file).toBe(opsPort);
        const sdk = c.env?.find((e) => e.name === 'SENTINEL_SDK_METRICS_PORT')?.value;
        if (sdk) expect(port('sdk-metrics'), file).toBe(Number(sdk));
      }
      // Every Deployment has a disruption budget selecting its pods.
      const labels = doc.spec.selector.matchLabels;
      const pdb = k8sDocs.find(({ doc: d }) => d.kind === 'PodDisruptionBudget' && JSON.stringify(d.spec.selector.matchLabels) === JSON.stringify(labels));
      expect(pdb, `a PodDisruptionBudget for ${doc.metadata.name}`).toBeDefined();
      expect(doc.spec.template.metadata.labels).toMatchObject(labels);
    }
    for (const [name, s] of sentinelServices) {
      const health = s.environment?.SENTINEL_HEALTH_PORT;
      if (!health || s.healthcheck?.disable) continue;
      expect(s.healthcheck.test.join(' '), `compose ${name}`).toContain(`127.0.0.1:${health}/readyz`);
      expect(seconds(s.stop_grace_period), `compose ${name}`).toBeGreaterThanOrEqual(seconds(SHUTDOWN_GRACE) + 10);
    }
  });

  it('scales on the task queues and the consumer the code uses', () => {
    const queues = new Set([
      defaults.temporal.taskQueue,
      slackTaskQueue(defaults.temporal.taskQueue),
      slackDeleteTaskQueue(defaults.temporal.taskQueue),
      defaults.kms.taskQueue,
      defaults.credentials.taskQueue,
    ]);
    expect(configMap.SENTINEL_TASK_QUEUE).toBe(defaults.temporal.taskQueue);
    expect(configMap.SENTINEL_KMS_TASK_QUEUE).toBe(defaults.kms.taskQueue);
    expect(configMap.SENTINEL_CREDENTIALS_TASK_QUEUE).toBe(defaults.credentials.taskQueue);
    for (const [, s] of sentinelServices) {
      for (const v of ['SENTINEL_TASK_QUEUE', 'SENTINEL_KMS_TASK_QUEUE', 'SENTINEL_CREDENTIALS_TASK_QUEUE']) if (s.environment?.[v]) expect(queues).toContain(s.environment[v]);
    }
    const scaled = k8sDocs.filter(({ doc }) => doc.kind === 'ScaledObject').map(({ doc }) => doc);
    const targets = new Set(deployments.map(({ doc }) => doc.metadata.name));
    for (const so of scaled) expect(targets, so.metadata.name).toContain(so.spec.scaleTargetRef.name);
    const triggers = scaled.flatMap((so) => so.spec.triggers.map((t: any) => ({ target: so.spec.scaleTargetRef.name as string, ...t })));
    const temporal = triggers.filter((t) => t.type === 'temporal');
    expect(temporal.map((t) => t.target)).toEqual(expect.arrayContaining(['sentinel-worker', 'sentinel-worker-kms']));
    for (const t of temporal) {
      expect(queues, `${t.target} scales on ${t.metadata.taskQueue}`).toContain(t.metadata.taskQueue);
      expect(t.metadata.namespace).toBe(configMap.TEMPORAL_NAMESPACE);
    }
    const nats = triggers.filter((t) => t.type === 'nats-jetstream');
    expect(nats.map((t) => t.target)).toEqual(['sentinel-detector']);
    expect(nats[0].metadata).toMatchObject({ stream: CHAT_STREAM, consumer: DETECTOR_CONSUMER });
  });

  it('builds one non-root image from Node 20 bookworm-slim whose command is a component', () => {
    const froms = [buildStage, runtimeStage].map((s) => s.find((i) => i.op === 'FROM')!.args);
    expect(froms[0]).toMatch(/^node:20-bookworm-slim AS build$/);
    expect(froms[1]).toBe('node:20-bookworm-slim');
    const user = runtimeStage.findLast((i) => i.op === 'USER')?.args;
    expect(user && user !== 'root' && user !== '0').toBe(true);
    expect(JSON.parse(runtimeStage.findLast((i) => i.op === 'ENTRYPOINT')!.args)).toEqual(['node', 'bin/run.js']);
    expect(components).toHaveProperty(JSON.parse(runtimeStage.findLast((i) => i.op === 'CMD')!.args)[0]);
    expect(imageEnv.SENTINEL_RUN).toBe('dist');
    // The runtime copies the build (dist/ with the workflow bundle) and what the launcher checks it against.
    const copied = runtimeStage.filter((i) => i.op === 'COPY').map((i) => i.args.split(/\s+/).at(-2));
    for (const path of ['/app/dist', '/app/node_modules', '/app/bin', '/app/src', '/app/workflows', '/app/contract', '/app/activities', '/app/scripts', '/app/rules']) expect(copied).toContain(path);
    // Compose runs that image.
    for (const [name, s] of sentinelServices) expect(s.build?.dockerfile ?? 'deploy/Dockerfile', name).toBe('deploy/Dockerfile');
    const ignored = read(join(projectRoot, '.dockerignore'));
    for (const p of ['node_modules', 'dist', '.sentinel']) expect(ignored).toMatch(new RegExp(`^${p.replace('.', '\\.')}$`, 'm'));
  });

  it('asks Slack for the scopes and events Sentinel uses', () => {
    const m = parseYaml(read(join(deploy, 'slack-app-manifest.yaml')));
    expect(m.oauth_config.scopes.bot).toEqual(
      expect.arrayContaining(['chat:write', 'im:write', 'channels:history', 'groups:history', 'im:history', 'mpim:history', 'channels:read', 'users:read', 'files:read']),
    );
    expect(m.oauth_config.scopes.user).toEqual(expect.arrayContaining(['chat:write', 'channels:history']));
    expect(m.settings.event_subscriptions.bot_events).toEqual(
      expect.arrayContaining(['message.channels', 'message.groups', 'message.im', 'message.mpim', 'file_shared', 'file_public', 'file_change']),
    );
    expect(m.settings.socket_mode_enabled).toBe(true);
    // The operator's loop: summary buttons, /sentinel, operators named by user group.
    expect(m.settings.interactivity.is_enabled).toBe(true);
    expect(m.features.slash_commands.map((c: any) => c.command)).toEqual(['/sentinel']);
    expect(m.oauth_config.scopes.bot).toEqual(expect.arrayContaining(['commands', 'usergroups:read']));
    // Every event type the normalizer handles has a subscription.
    const normalize = read(join(projectRoot, 'src', 'events', 'normalize.ts'));
    for (const event of ['file_shared', 'file_public', 'file_change']) if (normalize.includes(`'${event}'`)) expect(m.settings.event_subscriptions.bot_events).toContain(event);
  });
});

describe('alert rules (promtool)', () => {
  let promtool: string;
  beforeAll(() => {
    promtool = ensurePromtool();
  }, 300_000);

  it('passes promtool check rules', () => {
    const out = execFileSync(promtool, ['check', 'rules', join(deploy, 'prometheus', 'sentinel-rules.yml')], { encoding: 'utf8' });
    expect(out).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('passes its promtool unit tests, and every alert has one', () => {
    const dir = join(deploy, 'prometheus', 'tests');
    const tests = readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => join(dir, f));
    const r = spawnSync(promtool, ['test', 'rules', ...tests], { encoding: 'utf8' });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const rules = parseYaml(read(join(deploy, 'prometheus', 'sentinel-rules.yml'))) as { groups: { rules: { alert: string }[] }[] };
    const tested = new Set(tests.flatMap((t) => (parseYaml(read(t)).tests as any[]).flatMap((c) => (c.alert_rule_test ?? []).filter((a: any) => a.exp_alerts.length).map((a: any) => a.alertname))));
    for (const { alert } of rules.groups.flatMap((g) => g.rules)) expect(tested, `a test in which ${alert} fires`).toContain(alert);
  });
});
