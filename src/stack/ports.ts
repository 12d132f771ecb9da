/** Dev-stack ports from SENTINEL_STACK_* variables, defaulting to defaultPorts. */
import { StackError } from './errors';
import { defaultPorts, type StackPorts } from './stack';

const variables: Record<keyof StackPorts, string> = {
  temporal: 'SENTINEL_STACK_TEMPORAL_PORT',
  temporalUi: 'SENTINEL_STACK_TEMPORAL_UI_PORT',
  nats: 'SENTINEL_STACK_NATS_PORT',
  moto: 'SENTINEL_STACK_MOTO_PORT',
  slackSim: 'SENTINEL_STACK_SLACK_PORT',
};

export function portsFromEnv(env: NodeJS.ProcessEnv = process.env): StackPorts {
  const ports = { ...defaultPorts };
  for (const [key, variable] of Object.entries(variables) as [keyof StackPorts, string][]) {
    const raw = env[variable];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new StackError(`${variable}=${JSON.stringify(raw)} is not a TCP port (1-65535)`);
    ports[key] = n;
  }
  return ports;
}
