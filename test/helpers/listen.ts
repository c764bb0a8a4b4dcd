/** Test servers (the fault and status proxies) on a free local port. */
import type { Server } from 'node:net';

/** Listens on 127.0.0.1 on a port the system picks; resolves with that port. */
export function listenLocal(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );
}
