import path from 'node:path';
import { io as ioClient, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, HandshakeAuth, ServerToClientEvents, SessionEvent } from '../../protocol';
import { createApp, type App, type AppOptions } from '../../server/app';
import { createMemoryBackend, type Backend } from '../../server/backend';
import type { RateRules } from '../../server/config';
import { isTls } from '../../server/http/server';
import { createLogger } from '../../server/logger';
import { createMetrics } from '../../server/metrics';
import { defer } from './cleanup';

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface TestServer {
  app: App;
  url: string;
  port: number;
  backend: Backend;
}

let counter = 0;

/**
 * Starts a real instance in this process on a free port, in-memory unless a
 * backend is given, with limits off unless asked for. Closed after the test.
 * `port` starts it where a closed one was (an instance coming back).
 */
export async function startServer(
  options: Partial<AppOptions> & { backend?: Backend; historyMax?: number; port?: number; rateLimits?: RateRules; now?: () => number } = {},
): Promise<TestServer> {
  const { backend: given, historyMax, port: fixedPort, rateLimits, now, ...settings } = options;
  const instanceId = options.instanceId ?? `test-${process.pid}-${++counter}`;
  const limits = options.limits ?? false;
  const backend = given ?? createMemoryBackend({ historyMax: historyMax ?? 10_000, limits, rateLimits });
  const app = createApp(
    {
      backend,
      logger: createLogger(instanceId, (process.env.TEST_LOG_LEVEL as 'info') ?? 'silent'),
      metrics: createMetrics(instanceId),
      publicDir: path.join(__dirname, '..', '..', 'dist', 'public'),
      now,
    },
    {
      ...settings,
      instanceId,
      authSecret: options.authSecret,
      allowedOrigins: options.allowedOrigins ?? [],
      trustProxy: options.trustProxy ?? false,
      limits,
      drainTimeoutMs: options.drainTimeoutMs ?? 2000,
    },
  );
  const port = await app.listen(fixedPort ?? 0, '127.0.0.1');
  defer(() => app.close());
  const scheme = isTls(app.httpServer) ? 'https' : 'http';
  return { app, url: `${scheme}://127.0.0.1:${port}`, port, backend };
}

/** A socket.io-client socket that is not connected yet; closed after the test. */
export function client(url: string, auth: HandshakeAuth | Record<string, unknown>, opts: Parameters<typeof ioClient>[1] = {}): ClientSocket {
  const socket: ClientSocket = ioClient(url, {
    auth,
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    autoConnect: false,
    ...opts,
  });
  defer(() => socket.disconnect());
  return socket;
}

/** Connects and resolves with the `session` event, or rejects with the connect_error message. */
export function handshake(socket: ClientSocket): Promise<SessionEvent> {
  return new Promise((resolve, reject) => {
    socket.once('session', resolve);
    socket.once('connect_error', (err) => reject(new Error(err.message)));
    socket.connect();
  });
}

/** Resolves with the connect_error message; fails the test if the socket connects. */
export function refusal(socket: ClientSocket): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => reject(new Error("Unexpected 'connect'")));
    socket.once('connect_error', (err) => resolve(err.message));
    socket.connect();
  });
}

/** How long `connect` waits for the `session` event before failing the test. */
const SESSION_TIMEOUT_MS = 5000;

/** Connects as `name` (open mode) and resolves once the `session` event arrived. */
export async function connect(url: string, name: string, opts: Parameters<typeof ioClient>[1] = {}): Promise<ClientSocket> {
  const socket = client(url, { name }, opts);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no session within ${SESSION_TIMEOUT_MS} ms`)), SESSION_TIMEOUT_MS);
    socket.once('session', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${name}: connect_error ${err.message}`));
    });
    socket.connect();
  });
  return socket;
}
