/**
 * `npm run bench:scan`: `sentinel scan` as a whole process, the way an operator runs it, against a
 * bare `node` that reads the same file line by line and JSON.parses each line. 200k small Slack
 * message events as JSON Lines (ordinary chat from the corpus generators, about 1% leaking a secret
 * or PII). Both run as child processes, from start to exit: start-up, loading and compiling the
 * rules and writing the findings count. Goal: scan at least 0.5 of the bare loop's speed.
 *
 * It runs the compiled build (dist/cli/main.js), building it first if dist/ is not current. Also
 * splits the scan's time into node start-up and module loading, loading and compiling the rules,
 * and the per-event loop (from scan's own summary line), to show where the time goes.
 *
 * BENCH_EVENTS (200000) events, BENCH_ROUNDS (3) rounds; the events file is kept in
 * .sentinel/bench/ and regenerated only when missing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { distStatus } from '../bin/dist-state.js';
import { buildFirst } from './build-first';
import { loadRules } from '../src/engine/load';
import { projectRoot, sentinelHome } from '../src/paths';
import { leak, ordinaryChat, pick, rng, secretValues } from '../test/corpus/generators';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const POSITIVE_RATE = 0.01;
const say = (line = '') => void process.stdout.write(line + '\n');

// --- the events file -------------------------------------------------------------------------
const dir = join(sentinelHome, 'bench');
const file = join(dir, `scan-${EVENTS}.jsonl`);
const empty = join(dir, 'empty.jsonl');
mkdirSync(dir, { recursive: true });
writeFileSync(empty, '');
if (!existsSync(file)) {
  const r = rng(2);
  const enabled = new Set(loadRules(join(projectRoot, 'rules')).active.map((x) => x.spec.id));
  const detectors = Object.keys(secretValues).filter((d) => enabled.has(d));
  const users = ['U0ALICE01', 'U0BOB0001', 'U0CAROL01', 'U0DAVE001', 'U0ERIN001'];
  const channels = ['C0GENERAL', 'C0ENGINEE', 'C0RANDOM1', 'C0SALES01', 'C0PARTNER'];
  const lines: string[] = [];
  for (let i = 0; i < EVENTS; i++) {
    const text = r() < POSITIVE_RATE ? leak(pick(r, detectors), r) : ordinaryChat(r);
    const ts = `${1700000000 + i}.${String(i % 1e6).padStart(6, '0')}`;
    lines.push(JSON.stringify({ type: 'message', user: pick(r, users), channel: pick(r, channels), ts, text }));
  }
  writeFileSync(`${file}.tmp`, lines.join('\n') + '\n');
  renameSync(`${file}.tmp`, file);
}
const bytes = statSync(file).size;

// --- the compiled build ----------------------------------------------------------------------
const status = distStatus(projectRoot);
if (!status.current) buildFirst(status.reason, say);
const cli = join(projectRoot, 'dist', 'cli', 'main.js');

// --- the processes ---------------------------------------------------------------------------
/** Node preloaded into every measured process: reports its own CPU time (all threads) on fd 3 at exit. */
const cpuProbe = join(dir, 'cpu-probe.cjs');
writeFileSync(cpuProbe, "process.on('exit', () => { const u = process.cpuUsage(); require('node:fs').writeSync(3, JSON.stringify(u)); });\n");

/** The bare loop: the file line by line (readline, as scan reads it), each line JSON.parsed. */
const bare = `
const { createInterface } = require('node:readline');
const { createReadStream } = require('node:fs');
(async () => {
  let n = 0, sink = 0;
  for await (const line of createInterface({ input: createReadStream(process.argv[1]), crlfDelay: Infinity })) {
    if (line === '') continue;
    sink += JSON.parse(line).ts.length & 1;
    n += 1;
  }
  process.stderr.write('parsed ' + n + ' lines (' + sink + ')\\n');
})();`;

interface Run {
  wall: number;
  cpu: number;
  stderr: string;
}

function run(args: string[]): Run {
  const t0 = process.hrtime.bigint();
  // stdout to /dev/null as in `… > /dev/null`; fd 3 carries the CPU probe's report.
  const r = spawnSync(process.execPath, ['--require', cpuProbe, ...args], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, SENTINEL_FINGERPRINT_KEY: '' },
  });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const u = JSON.parse(String(r.output[3])) as { user: number; system: number };
  return { wall, cpu: (u.user + u.system) / 1e6, stderr: r.stderr };
}

const scanLoop = (stderr: string) => {
  const m = /scanned (\d+) events in ([\d.]+) s .*: (\d+) findings/.exec(stderr);
  if (!m) throw new Error(`no summary line from scan:\n${stderr}`);
  return { events: Number(m[1]), seconds: Number(m[2]), findings: Number(m[3]) };
};

const s = (x: number) => `${x.toFixed(2)} s`;
const rate = (x: number) => `${Math.round(EVENTS / x).toLocaleString('en-US')} ev/s`;

say(`events: ${EVENTS.toLocaleString('en-US')} small Slack message events, ${(bytes / 1e6).toFixed(1)} MB (avg ${Math.round(bytes / EVENTS)} B), ${file}`);
say(`scan: node ${cli} scan FILE > /dev/null; ${ROUNDS} rounds, each: bare, scan, then scan's parts`);
say('');
const ratios: { wall: number; cpu: number }[] = [];
for (let round = 1; round <= ROUNDS; round++) {
  const b = run(['-e', bare, file]);
  const sc = run([cli, 'scan', file]);
  const loop = scanLoop(sc.stderr);
  // Where scan's time goes: start-up and module loading (`sentinel help`), plus loading and
  // compiling the rules (a scan of an empty file), plus the loop over the events (scan's own clock).
  const startup = run([cli, 'help']);
  const noEvents = run([cli, 'scan', empty]);
  const wall = b.wall / sc.wall;
  const cpu = b.cpu / sc.cpu;
  ratios.push({ wall, cpu });
  say(`round ${round}: bare ${s(b.wall)} (cpu ${s(b.cpu)}, ${rate(b.wall)})  scan ${s(sc.wall)} (cpu ${s(sc.cpu)}, ${rate(sc.wall)}, ${loop.findings} findings)`);
  say(`         ratio scan/bare: ${wall.toFixed(2)} wall, ${cpu.toFixed(2)} cpu (goal >= 0.50)`);
  say(
    `         scan's cpu: start-up + modules ${s(startup.cpu)}, rules ${s(noEvents.cpu - startup.cpu)}, ` +
      `events ${s(sc.cpu - noEvents.cpu)} (scan's loop clock: ${s(loop.seconds)}, ${Math.round(loop.events / loop.seconds).toLocaleString('en-US')} ev/s); bare loop ${s(b.cpu)}`,
  );
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
say('');
say(`median ratio scan/bare: ${median(ratios.map((r) => r.wall)).toFixed(2)} wall, ${median(ratios.map((r) => r.cpu)).toFixed(2)} cpu (goal >= 0.50)`);
