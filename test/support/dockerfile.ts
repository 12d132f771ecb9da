/** A Dockerfile read as instructions, for the tests that check deploy/Dockerfile and replay its build natively. */
export interface Instruction {
  op: string;
  args: string;
}

/** The Dockerfile as instructions (continuations joined, comments dropped), split into its stages. */
export function dockerStages(text: string): Instruction[][] {
  const joined = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  const stages: Instruction[][] = [];
  for (const line of joined.split('\n')) {
    const m = /^\s*([A-Z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === 'FROM') stages.push([]);
    stages.at(-1)?.push({ op: m[1]!, args: m[2]!.trim() });
  }
  return stages;
}

/** ENV KEY=value pairs of one stage. */
export function dockerEnv(stage: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of stage.filter((i) => i.op === 'ENV')) {
    for (const m of i.args.matchAll(/([A-Z_][A-Z0-9_]*)=("[^"]*"|\S+)/g)) env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  }
  return env;
}
