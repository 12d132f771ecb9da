/** The dev stack refuses clearly what it cannot do. */
import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { StackError } from '../src/stack/errors';
import { portsFromEnv } from '../src/stack/ports';
import { freePorts, startStack } from '../src/stack/stack';

describe('dev stack', () => {
  it('names a taken port, what it was for and the variable that moves it', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const taken = (blocker.address() as { port: number }).port;
    try {
      const ports = { ...(await freePorts()), nats: taken };
      const err = await startStack({ home: '/nonexistent-never-used', ports }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StackError);
      expect((err as Error).message).toBe(`port ${taken} (NATS) is already in use on 127.0.0.1; stop what listens there or set SENTINEL_STACK_NATS_PORT to another port`);
    } finally {
      blocker.close();
    }
  });

  it('reads ports from SENTINEL_STACK_* and rejects what is not a port', () => {
    expect(portsFromEnv({ SENTINEL_STACK_NATS_PORT: '14222' }).nats).toBe(14222);
    expect(() => portsFromEnv({ SENTINEL_STACK_MOTO_PORT: '99999' })).toThrow('SENTINEL_STACK_MOTO_PORT="99999" is not a TCP port');
  });
});
