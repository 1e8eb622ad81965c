import net from 'node:net';
import { defer } from './cleanup';

/** A TCP proxy in front of a server, whose existing connections can stop taking what the server sends. */
export interface StallingProxy {
  /** `http://127.0.0.1:<port>`: connect here instead of to the server. */
  readonly url: string;
  /**
   * Stops reading what the server sends on every connection open now (the
   * server's writes back up as for a client that stopped reading); later
   * connections are not affected.
   */
  stall(): void;
  /** Reads again on the stalled connections (the client is back to reading: it then learns what the server did meanwhile). */
  resume(): void;
  /** How many connections the proxy has taken so far. */
  connections(): number;

}

/**
 * Starts a TCP proxy to `127.0.0.1:targetPort` on a free port; when either
 * side of a connection closes or fails, the other is destroyed too (a reset
 * by the server reaches the client). Closed after the test.
 */
export async function startStallingProxy(targetPort: number): Promise<StallingProxy> {
  const open = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const stalled = new Set<{ client: net.Socket; upstream: net.Socket }>();
  let taken = 0;
  const server = net.createServer((client) => {
    taken++;
    const upstream = net.connect(targetPort, '127.0.0.1');
    const pair = { client, upstream };
    open.add(pair);
    upstream.pipe(client);
    client.pipe(upstream);
    const close = () => {
      open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', close);
      s.on('close', close);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  defer(
    () =>
      new Promise<void>((resolve) => {
        for (const { client, upstream } of open) {
          client.destroy();
          upstream.destroy();
        }
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stall() {
      for (const pair of open) {
        pair.upstream.unpipe(pair.client);
        pair.upstream.pause();
        stalled.add(pair);
      }
    },
    resume() {
      for (const pair of stalled) {
        stalled.delete(pair);
        pair.upstream.pipe(pair.client);
        pair.upstream.resume();
      }
    },
    connections: () => taken,
  };
}
