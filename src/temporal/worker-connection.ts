/**
 * The connection a worker polls through. Apart from client.ts: importing `@temporalio/worker`
 * loads the whole worker SDK (about 0.4 s of CPU: its native bridge, rxjs, the workflow bundler's
 * dependencies), which the detector, the bridge, the correlator and the CLI do not need.
 */
import { NativeConnection } from '@temporalio/worker';
import type { Config } from '../config';
import { unreachable } from './client';

export async function connectWorker(cfg: Config['temporal']): Promise<NativeConnection> {
  return NativeConnection.connect({ address: cfg.address }).catch((err: unknown) => {
    throw unreachable(cfg.address, err);
  });
}
