/**
 * The wiring of an instance (`createApp`): Socket.IO with its handshake
 * checks, handlers and adapter, the HTTP routes, chat and recovery over the
 * backend, and draining. Starts nothing by itself: main.ts and the tests do.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Server } from 'socket.io';
import { identify, originAllowed } from './auth';
import type { Backend } from './backend';
import { Chat } from './chat';
import { DEFAULTS, type Config } from './config';
import { AppError } from './errors';
import { createHttpApp, createMetricsApp } from './http/routes';
import { clientAddress, corsOptions, securityHeadersFor } from './http/security';
import { createHttpServer, type HttpServer } from './http/server';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import { Guards } from './realtime/guards';
import { createHandlers } from './realtime/handlers';
import { OutputBound } from './realtime/output-bound';
import { Recovery } from './recovery';
import { isChatRoom, userRoom, type ParleyServer } from './sockets';

export interface AppDeps {
  backend: Backend;
  logger: Logger;
  metrics: Metrics;
  /** Folder of the built browser app. @default dist/public beside this build */
  publicDir?: string;
  /**
   * A server already listening (answering "starting" while the backend
   * connected); the app takes over its requests. @default a new server
   */
  httpServer?: HttpServer;
  /** The clock that token expiry is judged by. @default Date.now */
  now?: () => number;
}

/** The settings an app takes; those left out fall back to `DEFAULTS`. */
export type AppOptions = Pick<
  Config,
  'instanceId' | 'authSecret' | 'allowedOrigins' | 'trustProxy' | 'limits' | 'drainTimeoutMs'
> &
  Partial<
    Pick<
      Config,
      | 'pingIntervalMs'
      | 'pingTimeoutMs'
      | 'publicOrigins'
      | 'maxFrameBytes'
      | 'maxBodyBytes'
      | 'maxRoomsPerConnection'
      | 'maxConnectionsPerAddress'
      | 'maxOutputBytes'
      | 'tlsCert'
      | 'tlsKey'
      | 'httpRequestTimeoutMs'
      | 'httpHeadersTimeoutMs'
      | 'httpKeepAliveTimeoutMs'
      | 'metricsToken'
      | 'metricsPort'
      | 'metricsHost'
    >
  >;

export interface App {
  readonly httpServer: HttpServer;
  /** `/metrics` on a port of its own (`METRICS_PORT`); undefined = served on the main port. */
  readonly metricsServer?: http.Server;
  readonly io: ParleyServer;
  readonly chat: Chat;
  /** Listens; resolves with the port actually bound (useful with port 0). */
  listen(port: number, host?: string): Promise<number>;
  /** Listens on `METRICS_PORT`/`METRICS_HOST` when set; resolves with the port bound, or undefined. */
  listenMetrics(): Promise<number | undefined>;
  /** Whether `/readyz` answers 200. */
  ready(): boolean;
  /**
   * Stops taking traffic and moves clients away: `/readyz` turns 503, new
   * transports are refused, connected clients' transports are closed so that
   * socket.io-client reconnects on its own (to another instance). Idempotent.
   */
  drain(): Promise<void>;
  /** Drains, then closes the server and the backend. Idempotent. */
  close(): Promise<void>;
}

/**
 * Wires an instance together: HTTP routes, Socket.IO with its handshake
 * checks and handlers, and the backend. Starts nothing by itself (see
 * `main.ts`); tests build their servers through this same function.
 */
export function createApp(deps: AppDeps, options: AppOptions): App {
  const { backend, logger, metrics } = deps;
  let draining = false;
  const ready = () => !draining && backend.ready();

  const origins = { allowed: options.allowedOrigins, publicOrigins: options.publicOrigins ?? [] };
  const io: ParleyServer = new Server({
    // CORS (for long-polling) answers the allowed origins only. A browser on
    // another origin connecting over WebSocket, which CORS does not govern,
    // is told `forbidden_origin` by the middleware below.
    cors: corsOptions(origins),
    // Draining refuses new transports at the Engine.IO level: a middleware
    // error would stop socket.io-client's auto-reconnection.
    allowRequest: (_req, callback) => callback(null, !draining),
    maxHttpBufferSize: options.maxFrameBytes ?? DEFAULTS.maxFrameBytes,
    // Sockets that drop without a goodbye leave their rooms within
    // pingInterval + pingTimeout.
    pingInterval: options.pingIntervalMs ?? DEFAULTS.pingIntervalMs,
    pingTimeout: options.pingTimeoutMs ?? DEFAULTS.pingTimeoutMs,
  });
  // Before anything listens to the adapter's events: this replaces it.
  if (backend.bus) io.adapter(backend.bus.adapter);
  const chat = new Chat(io, backend, metrics);
  const recovery = new Recovery(io, backend, logger);
  const guards = new Guards({ maxRoomsPerConnection: options.maxRoomsPerConnection ?? DEFAULTS.maxRoomsPerConnection, logger, metrics, now: deps.now });

  const ownMetricsPort = options.metricsPort !== undefined;
  const httpApp = createHttpApp({
    chat,
    config: { ...options, maxBodyBytes: options.maxBodyBytes ?? DEFAULTS.maxBodyBytes },
    origins,
    metrics,
    logger,
    ready,
    publicDir: deps.publicDir ?? path.join(__dirname, '..', 'public'),
    serveMetrics: !ownMetricsPort,
  });
  // Socket.IO attaches after express so that it takes /socket.io/ requests first.
  const httpServer = deps.httpServer ?? createHttpServer(options);
  httpServer.removeAllListeners('request');
  httpServer.on('request', httpApp);
  io.attach(httpServer);
  // Socket.IO's own answers (long-polling, the WebSocket upgrade) carry the security headers too.
  io.engine.on('headers', (headers: Record<string, string>, req: http.IncomingMessage) => {
    Object.assign(headers, securityHeadersFor(req, options.trustProxy));
  });
  const outputBound = new OutputBound(httpServer, { maxOutputBytes: options.maxOutputBytes ?? DEFAULTS.maxOutputBytes, logger, metrics });
  const metricsServer = ownMetricsPort ? http.createServer(createMetricsApp({ metrics, logger, config: options })) : undefined;

  io.use((socket, next) => {
    const { headers } = socket.handshake;
    if (!originAllowed(headers.origin, headers.host, origins)) {
      metrics.handshakesRefused.inc({ reason: 'forbidden_origin' });
      return next(new Error('forbidden_origin'));
    }
    try {
      socket.data.identity = identify(socket.handshake.auth, options.authSecret);
    } catch (err) {
      metrics.handshakesRefused.inc({ reason: 'unauthorized' });
      const e = new Error('unauthorized') as Error & { data?: unknown };
      e.data = { message: err instanceof AppError ? err.message : 'bad identity' };
      return next(e);
    }
    socket.data.rooms = new Set();
    next();
  });

  if (options.limits) {
    io.use((socket, next) => {
      const address = clientAddress(socket.handshake.headers, socket.handshake.address, options.trustProxy);
      backend.limits.consume('connect', address).then(
        () => next(),
        () => {
          metrics.handshakesRefused.inc({ reason: 'rate_limited' });
          next(new Error('rate_limited'));
        },
      );
    });
  }

  // Connections open at once per address: the connection rate alone lets one
  // address pile up connections (and what each holds) for as long as it
  // keeps them alive. Checked last, so that a socket let through connects;
  // counted from its connection to its disconnection.
  const maxPerAddress = options.maxConnectionsPerAddress ?? DEFAULTS.maxConnectionsPerAddress;
  const perAddress = new Map<string, number>();
  const addressOf = (socket: { handshake: { headers: Record<string, string | string[] | undefined>; address: string } }) =>
    clientAddress(socket.handshake.headers, socket.handshake.address, options.trustProxy);
  if (options.limits) {
    io.use((socket, next) => {
      if ((perAddress.get(addressOf(socket)) ?? 0) < maxPerAddress) return next();
      metrics.handshakesRefused.inc({ reason: 'rate_limited' });
      next(new Error('rate_limited'));
    });
    io.on('connection', (socket) => {
      const address = addressOf(socket);
      perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
      socket.on('disconnect', () => {
        const left = (perAddress.get(address) ?? 1) - 1;
        if (left > 0) perAddress.set(address, left);
        else perAddress.delete(address);
      });
    });
  }

  const handlers = createHandlers({ io, chat, backend, recovery, guards, metrics, logger });
  io.on('connection', (socket) => {
    const { user } = socket.data.identity;
    metrics.connectedSockets.inc();
    logger.info({ socket: socket.id, user: user.id, address: socket.handshake.address }, 'connected');
    socket.join(userRoom(user));
    guards.watch(socket);
    outputBound.watch(socket);
    // What the handshake needed of the HTTP request is in socket.handshake
    // now: drop the request itself, a few KiB per connection held for
    // nothing otherwise (as Socket.IO's memory guide advises).
    (socket.conn as unknown as { request: unknown }).request = null;
    handlers.attach(socket);
    socket.emit('session', { user, instanceId: options.instanceId });
    socket.on('disconnect', (reason) => {
      metrics.connectedSockets.dec();
      logger.info({ socket: socket.id, user: user.id, reason }, 'disconnected');
    });
  });

  const adapter = io.of('/').adapter;
  // Not counted: a socket's own room, whose id may look like a chat room's.
  const counted = (room: string) => isChatRoom(room) && !adapter.sids.has(room);
  adapter.on('create-room', (room: string) => counted(room) && metrics.joinedRooms.inc());
  adapter.on('delete-room', (room: string) => counted(room) && metrics.joinedRooms.dec());

  let drainPromise: Promise<void> | undefined;
  let closePromise: Promise<void> | undefined;

  async function runDrain(): Promise<void> {
    draining = true;
    logger.info({ sockets: io.of('/').sockets.size }, 'draining');
    // Closing the transport (not `socket.disconnect()`) reads to the client as
    // "transport close", after which it reconnects, through the balancer, to
    // an instance that is not draining.
    for (const socket of io.of('/').sockets.values()) socket.conn.close();
    const deadline = Date.now() + options.drainTimeoutMs;
    while (io.of('/').sockets.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async function runClose(): Promise<void> {
    await (drainPromise ??= runDrain());
    await new Promise<void>((resolve) => io.close(() => resolve()));
    if (metricsServer?.listening) await new Promise((resolve) => metricsServer.close(resolve));
    await backend.close();
    logger.info('closed');
  }

  return {
    httpServer,
    metricsServer,
    io,
    chat,
    ready,
    listen(port, host) {
      if (httpServer.listening) return Promise.resolve((httpServer.address() as AddressInfo).port);
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          resolve((httpServer.address() as AddressInfo).port);
        });
      });
    },
    listenMetrics() {
      if (!metricsServer) return Promise.resolve(undefined);
      if (metricsServer.listening) return Promise.resolve((metricsServer.address() as AddressInfo).port);
      return new Promise((resolve, reject) => {
        metricsServer.once('error', reject);
        metricsServer.listen(options.metricsPort, options.metricsHost, () => {
          metricsServer.off('error', reject);
          resolve((metricsServer.address() as AddressInfo).port);
        });
      });
    },
    drain: () => (drainPromise ??= runDrain()),
    close: () => (closePromise ??= runClose()),
  };
}

