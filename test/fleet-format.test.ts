/** `sentinel fleet status` as text: what it says about a deployment whose routing is still on its way. */
import { describe, expect, it } from 'vitest';
import { formatFleetReport, type DeploymentReport, type FleetReport } from '../src/cli/fleet-status';

function report(deployment: DeploymentReport): FleetReport {
  return {
    healthy: true,
    problems: [],
    temporal: { address: '127.0.0.1:7233', namespace: 'default', deployments: [deployment], taskQueues: [] },
    nats: { servers: [], nodes: [], streams: [], consumers: [] },
    probes: [],
  };
}

const deploymentLine = (r: FleetReport) => formatFleetReport(r).split('\n').find((l) => l.startsWith('Deployment '));

describe('fleet status text', () => {
  const base = { name: 'sentinel', current: 'v2', ramping: undefined, versions: [{ buildId: 'v2', status: 'current' }] };

  it('says when the routing has not reached every task queue yet', () => {
    expect(deploymentLine(report({ ...base, routing: 'propagating' }))).toBe(
      'Deployment sentinel: current v2 (routing still reaching its task queues: some new incidents may start on the previous version)',
    );
  });

  it('says nothing more once it has, or when the server does not report it', () => {
    expect(deploymentLine(report({ ...base, routing: 'propagated' }))).toBe('Deployment sentinel: current v2');
    expect(deploymentLine(report(base))).toBe('Deployment sentinel: current v2');
  });
});
