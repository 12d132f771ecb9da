/** Dev-stack ports from SENTINEL_STACK_* variables, defaulting to defaultPorts. */
import { StackError } from './errors';
import { defaultClusterPorts, defaultPorts, type StackPorts } from './stack';

type SinglePort = Exclude<keyof StackPorts, 'natsCluster'>;

const variables: Record<SinglePort, string> = {
  temporal: 'SENTINEL_STACK_TEMPORAL_PORT',
  temporalUi: 'SENTINEL_STACK_TEMPORAL_UI_PORT',
  nats: 'SENTINEL_STACK_NATS_PORT',
  moto: 'SENTINEL_STACK_MOTO_PORT',
  slackSim: 'SENTINEL_STACK_SLACK_PORT',
};

/** The NATS cluster's other ports: node 2 and node 3 clients, then the three routes (5 ports, comma separated). */
const CLUSTER_VARIABLE = 'SENTINEL_STACK_NATS_CLUSTER_PORTS';

function port(variable: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new StackError(`${variable}=${JSON.stringify(raw)} is not a TCP port (1-65535)`);
  return n;
}

export function portsFromEnv(env: NodeJS.ProcessEnv = process.env): StackPorts {
  const ports: StackPorts = { ...defaultPorts, natsCluster: { clients: [...defaultClusterPorts.clients], routes: [...defaultClusterPorts.routes] } };
  for (const [key, variable] of Object.entries(variables) as [SinglePort, string][]) {
    const raw = env[variable];
    if (raw === undefined || raw === '') continue;
    ports[key] = port(variable, raw);
  }
  const cluster = env[CLUSTER_VARIABLE];
  if (cluster) {
    const list = cluster.split(',').map((p) => port(CLUSTER_VARIABLE, p.trim()));
    if (list.length !== 5) throw new StackError(`${CLUSTER_VARIABLE}=${JSON.stringify(cluster)}: expected 5 ports: node 2 client, node 3 client, then the 3 route ports`);
    ports.natsCluster = { clients: [list[0]!, list[1]!], routes: [list[2]!, list[3]!, list[4]!] };
  }
  return ports;
}
