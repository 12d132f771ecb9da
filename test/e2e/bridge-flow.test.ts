/**
 * The whole chain through the bridge: the Slack simulator delivers signed Events API requests to
 * the bridge, which stores them in JetStream; the detector and the workflows take it from there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BridgeServer } from '../../src/bridge/server';
import { silentLogger } from '../../src/log';
import type { IncidentState } from '../../contract';
import { eventually, incidentResult, startHarness, type Harness } from '../support/harness';
import { rng, secretValues } from '../corpus/generators';

const TEAM = 'T0SENTNL1';

describe('Slack to bridge to Temporal to Slack', () => {
  let h: Harness;
  let bridge: BridgeServer;
  beforeAll(async () => {
    h = await startHarness();
    bridge = await new BridgeServer({ js: h.nc.jetstream(), signingSecret: 'flow-test-secret', log: silentLogger }).start();
    h.sim.subscribe({ url: bridge.eventsUrl, signingSecret: 'flow-test-secret' });
  });
  afterAll(async () => {
    h?.sim.subscribe(undefined);
    await bridge?.stop();
    await h?.close();
  });

  it('catches a secret added by editing a clean message', async () => {
    const { message, envelope } = h.sim.postAsUser('U0ALICE01', 'C0ENGINEE', 'here is the token for CI, will paste in a sec');
    await eventually('the clean message to be stored', () => h.sim.deliveries.some((d) => d.eventId === envelope.event_id && d.status === 200));
    const pat = secretValues['github-pat']!(rng(77));
    const before = h.detector.stats.started;
    h.sim.editAsUser('U0ALICE01', 'C0ENGINEE', message.ts, `here is the token for CI: ${pat}`);
    const state = await incidentResult<IncidentState>(h.client, `incident/slack/${TEAM}/C0ENGINEE/${message.ts}/github-pat`);
    expect(state.status).toBe('resolved');
    expect(state.steps[0]).toMatchObject({ step: 'delete', outcome: 'done' });
    expect(h.sim.workspace.find('C0ENGINEE', message.ts)).toBeUndefined();
    expect(h.detector.stats.started).toBe(before + 1);
  });

  it('catches a confidential file shared into a Slack Connect channel', async () => {
    const { message, envelope } = h.sim.shareFile('U0BOB0001', 'C0PARTNER', { name: 'Q3-confidential-forecast.xlsx', title: 'Q3 forecast' });
    expect(envelope).toMatchObject({ is_ext_shared_channel: true, event: { subtype: 'file_share' } });
    const state = await incidentResult<IncidentState>(h.client, `incident/slack/${TEAM}/C0PARTNER/${message.ts}/tutorial-confidential`);
    expect(state.status).toBe('resolved');
    expect(h.sim.workspace.find('C0PARTNER', message.ts)).toBeUndefined();
  });

  it('stores each delivered event once and answers Slack 200', async () => {
    await h.sim.settled();
    const failed = h.sim.deliveries.filter((d) => d.status !== 200);
    expect(failed).toEqual([]);
    expect(bridge.stats.stored).toBe(new Set(h.sim.deliveries.map((d) => d.eventId)).size);
  });
});
