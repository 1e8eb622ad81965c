/**
 * Starts one Parley instance: reads the config, builds the backend (memory,
 * or Redis with `REDIS_URL` or `REDIS_CLUSTER_NODES`), listens, and drains
 * on SIGTERM/SIGINT.
 *
 * Run it with node directly (`node dist/server/main.js`): npm does not
 * forward signals, and draining needs SIGTERM to reach this process.
 */
import type { AddressInfo } from 'node:net';
import { createApp, type App } from './app';
import { createMemoryBackend, type Backend } from './backend';
import { ConfigError, readConfig, type Config } from './config';
import { createLogger, type Logger } from './logger';
import { startingServer } from './http/starting';
import { createMetrics } from './metrics';

async function createBackend(config: Config, logger: Logger): Promise<Backend> {
  if (!config.redisUrl && !config.redisClusterNodes) return createMemoryBackend(config);
  // Loaded only with Redis, so that memory mode needs no Redis client at all.
  const { createRedisBackend } = await import('./redis/backend');
  return createRedisBackend(config, logger, {
    heartbeatMs: config.presenceHeartbeatMs,
    staleMs: config.presenceStaleMs,
    adapter: config.redisPubSub,
    waitReplicas: config.redisWaitReplicas,
    waitTimeoutMs: config.redisWaitTimeoutMs,
  });
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = readConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`parley: bad configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }

  const logger = createLogger(config.instanceId, config.logLevel);
  // Last line of defence: a stray rejection is logged, never fatal.
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));

  const metrics = createMetrics(config.instanceId);
  const cannotListen = (err: NodeJS.ErrnoException): never => {
    // The one line an operator needs, naming the settings involved.
    process.stderr.write(`parley: cannot listen on HOST=${config.host} PORT=${config.port}: ${err.code ?? err.message}\n`);
    process.exit(2);
  };

  // Listen before the backend connects: while Redis cannot be reached at
  // start-up, the instance answers /readyz 503 rather than nothing at all.
  const httpServer = startingServer(config);
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, () => resolve());
  }).catch(cannotListen);
  const { port } = httpServer.address() as AddressInfo;
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const scheme = config.tlsCert ? 'https' : 'http';
  process.stdout.write(`Parley is running at ${scheme}://${shownHost}:${port}\n`);
  let app: App | undefined;
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    if (!app) process.exit(0);
    app.close().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  const backend = await createBackend(config, logger);
  metrics.redisUp.set(backend.ready() ? 1 : 0);
  setInterval(() => metrics.redisUp.set(backend.ready() ? 1 : 0), 1000).unref();

  app = createApp({ backend, logger, metrics, httpServer }, config);
  const metricsPort = await app.listenMetrics().catch((err: NodeJS.ErrnoException) => {
    process.stderr.write(`parley: cannot listen on METRICS_HOST=${config.metricsHost} METRICS_PORT=${config.metricsPort}: ${err.code ?? err.message}\n`);
    process.exit(2);
  });
  logger.info({ port, metricsPort, tls: scheme === 'https', backend: backend.kind, auth: config.authSecret ? 'token' : 'open' }, 'ready');
  // Said once at start-up, where an operator looks: see the README's production checklist.
  if (!config.authSecret) logger.warn('open mode: anyone may connect under any name; set AUTH_SECRET outside development');
  else if (config.publicOrigins.length === 0) logger.warn('PUBLIC_ORIGIN is unset: the same-origin check trusts the Host header (DNS rebinding)');
}

main().catch((err) => {
  process.stderr.write(`parley: failed to start: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
