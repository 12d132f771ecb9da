/** `sentinel`: the operator's command line. Thin: each command lives in its own module. */
import { parseArgs } from 'node:util';
import { ConfigError } from '../config';
import { rulesTest } from './rules';

const usage = `usage: sentinel <command>

  stack up|down|status          the local dev stack (Temporal, NATS, moto, Slack simulator)
  setup                         register Sentinel's search attributes in TEMPORAL_NAMESPACE and
                                create its NATS streams (idempotent; run once per cluster)
  rules test [--rules DIR]      load the rule files and run their inline examples
  scan [--rules DIR] [--explain] [--decode-depth N] [FILE|-]
                                match JSON Lines of Slack events; one JSON finding per line out;
                                --explain says on stderr which check turned down each candidate
  incidents list|show|audit|dismiss|approve|reject|retry|escalate
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
      return stackCommand(sub);
    }
    case 'setup': {
      if (sub !== undefined) break;
      const { setup } = await import('./setup');
      return setup();
    }
    case 'rules': {
      if (sub !== 'test') break;
      const { values } = parseArgs({ args: rest, options: { rules: { type: 'string' } } });
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
