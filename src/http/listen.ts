/** Starting and stopping the project's HTTP servers. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Starts an HTTP server on host:port (0: any free port) and returns its base URL. */
export async function listen(server: Server, port = 0, host = '127.0.0.1'): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return `http://${addr.address}:${addr.port}`;
}

/** Stops a server now: open connections (keep-alive ones included) are closed, not waited for. */
export async function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
