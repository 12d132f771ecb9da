/** `sentinel`: the operator's command line. Thin: each command lives in its own module. */
import { parseArgs } from 'node:util';
import { ConfigError } from '../config';

const usage = `usage: sentinel <command>

  stack up|down|status          the local dev stack (Temporal, NATS, moto, Slack simulator);
                                up --nats-cluster: 3 NATS nodes with streams at 3 replicas
  fleet status|promote|up|down  the worker fleet: versions, pollers, backlog, consumer lag, NATS
                                cluster, readiness; promote a build; a local fleet (sentinel fleet)
  setup                         register Sentinel's search attributes in TEMPORAL_NAMESPACE and
                                create its NATS streams (idempotent; run once per cluster)
  rules test [--rules DIR]      load the rule files and run their inline examples
  rules try FILE [--since 1h] [--live 30s] [--channels C1,C2] [--json]
                                what a rule file would match in recent Slack history and in
                                live events (redacted; no incident is opened)
  tail [--where SQL] [--json] [--limit N]
                                live events as the detectors decide them, with every rule's
                                verdict, redacted; --where filters like a SQL rule's WHERE
  scan [--rules DIR] [--explain] [--decode-depth N] [FILE|-]
                                match JSON Lines of Slack events; one JSON finding per line out;
                                --explain says on stderr which check turned down each candidate
  backfill --since 7d [--channels C1,C2] [--dry-run] [--team T] [--restart]
                                read history still in Slack through the detectors (resumable);
                                --dry-run prints what would become incidents, starting nothing
  incidents list|review|show|audit|dismiss|approve|reject|retry|escalate|restore|discard
                                find, inspect and steer incidents (sentinel incidents for details)
  keys generate [codec|fingerprint|codec-server-token] [--rotate]
                                new keys as environment lines; --rotate puts a new codec key
                                in front of the current SENTINEL_CODEC_KEYS

Configuration comes from environment variables; see README.md.`;

async function main(argv: string[]): Promise<number> {
  const [command, sub, ...rest] = argv;
  switch (command) {
    case 'stack': {
      const { stackCommand } = await import('../stack/commands');
      return stackCommand(sub, rest);
    }
    case 'fleet': {
      const { fleetCommand } = await import('./fleet');
      return fleetCommand(sub, rest);
    }
    case 'setup': {
      if (sub !== undefined) break;
      const { setup } = await import('./setup');
      return setup();
    }
    case 'rules': {
      if (sub === 'try') {
        const { values, positionals } = parseArgs({
          args: rest,
          options: { since: { type: 'string' }, live: { type: 'string' }, channels: { type: 'string' }, json: { type: 'boolean' } },
          allowPositionals: true,
        });
        if (positionals.length !== 1) break;
        const { rulesTry } = await import('./try');
        const { untilInterrupted } = await import('./tail');
        return untilInterrupted((signal) =>
          rulesTry({
            file: positionals[0]!,
            signal,
            ...(values.since !== undefined ? { since: values.since } : {}),
            ...(values.live !== undefined ? { live: values.live } : {}),
            ...(values.channels ? { channels: values.channels.split(',').map((c) => c.trim()).filter(Boolean) } : {}),
            ...(values.json ? { json: true } : {}),
          }),
        );
      }
      if (sub !== 'test') break;
      const { values } = parseArgs({ args: rest, options: { rules: { type: 'string' } } });
      const { rulesTest } = await import('./rules');
      return rulesTest(values.rules);
    }
    case 'scan': {
      const { values, positionals } = parseArgs({
        args: argv.slice(1),
        options: { rules: { type: 'string' }, explain: { type: 'boolean' }, 'decode-depth': { type: 'string' } },
        allowPositionals: true,
      });
      if (positionals.length > 1) break;
      const depth = values['decode-depth'];
      if (depth !== undefined && !/^\d+$/.test(depth)) {
        process.stderr.write(`sentinel scan: --decode-depth takes a whole number of layers (0 turns decoding off), not ${JSON.stringify(depth)}\n`);
        return 2;
      }
      const { scan } = await import('./scan');
      return scan({
        ...(values.rules ? { rulesDir: values.rules } : {}),
        ...(positionals[0] ? { input: positionals[0] } : {}),
        ...(values.explain ? { explain: true } : {}),
        ...(depth !== undefined ? { decodeDepth: Number(depth) } : {}),
      });
    }
    case 'tail': {
      const { values, positionals } = parseArgs({ args: argv.slice(1), options: { where: { type: 'string' }, json: { type: 'boolean' }, limit: { type: 'string' } } });
      if (positionals.length) break;
      if (values.limit !== undefined && !/^[1-9]\d*$/.test(values.limit)) {
        process.stderr.write(`sentinel tail: --limit takes a number of events, not ${JSON.stringify(values.limit)}\n`);
        return 2;
      }
      const { tail, untilInterrupted } = await import('./tail');
      return untilInterrupted((signal) =>
        tail({ signal, ...(values.where !== undefined ? { where: values.where } : {}), ...(values.json ? { json: true } : {}), ...(values.limit ? { limit: Number(values.limit) } : {}) }),
      );
    }
    case 'backfill': {
      const { values, positionals } = parseArgs({
        args: argv.slice(1),
        options: { since: { type: 'string' }, channels: { type: 'string' }, 'dry-run': { type: 'boolean' }, team: { type: 'string' }, restart: { type: 'boolean' }, rules: { type: 'string' } },
        allowPositionals: true,
      });
      if (positionals.length > 0) break;
      if (!values.since) {
        process.stderr.write('sentinel backfill: --since is required: how far back to read, e.g. --since 7d (30m, 12h, 2w, or a date such as 2024-05-01)\n');
        return 2;
      }
      const { backfillCommand } = await import('./backfill-command');
      return backfillCommand({
        since: values.since,
        ...(values.channels !== undefined ? { channels: values.channels.split(',').map((c) => c.trim()).filter(Boolean) } : {}),
        ...(values['dry-run'] ? { dryRun: true } : {}),
        ...(values.team !== undefined ? { team: values.team } : {}),
        ...(values.restart ? { restart: true } : {}),
        ...(values.rules ? { rulesDir: values.rules } : {}),
      });
    }
    case 'incidents': {
      // Loaded only when used: the Temporal client and NATS cost every other command ~0.4 s of start-up.
      const { incidentsCommand } = await import('./incidents');
      return incidentsCommand(sub, rest);
    }
    case 'keys': {
      if (sub !== 'generate') break;
      const { values, positionals } = parseArgs({ args: rest, options: { rotate: { type: 'boolean' } }, allowPositionals: true });
      if (positionals.length > 1) break;
      const { keysGenerate } = await import('./keys');
      if (values.rotate && !process.env.SENTINEL_CODEC_KEYS) {
        process.stderr.write('sentinel keys generate --rotate: SENTINEL_CODEC_KEYS is not set, so there is nothing to rotate; this is a first key\n');
      }
      return keysGenerate(values.rotate ? (positionals[0] ?? 'codec') : positionals[0], values.rotate ? process.env.SENTINEL_CODEC_KEYS : undefined);
    }
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(usage + '\n');
      return 0;
  }
  process.stderr.write(usage + '\n');
  return 2;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  // Users read these: the message says what and where; the stack only with SENTINEL_DEBUG=1.
  const detail = err instanceof Error ? (process.env.SENTINEL_DEBUG ? (err.stack ?? err.message) : err.message) : String(err);
  process.stderr.write(`sentinel: ${detail}\n`);
  process.exitCode = err instanceof ConfigError ? 2 : 1;
}
