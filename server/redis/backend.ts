/**
 * The Redis backend: connects the links (to one Redis or to a Redis
 * Cluster), picks the bus's pub/sub (unless told, from Redis's version; a
 * cluster's is sharded), and puts together the store, presence with its
 * liveness, limits and the bus that every instance on the same Redis shares.
 */
import { randomBytes } from 'node:crypto';
import type { Backend, BusKind } from '../backend';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { RedisBus } from './bus';
import { RedisLinks, type RedisLinkOptions, type RedisTarget } from './connection';
import { createRedisLimits } from './limits';
import { Liveness, type PresenceTimings } from './liveness';
import { RedisPresence } from './presence';
import { RedisMessageStore } from './store';

/** Timings of the Redis backend; the defaults suit production, tests pass short ones. */
export type RedisBackendOptions = RedisLinkOptions &
  PresenceTimings & {
    /** How the bus (the Socket.IO adapter) uses pub/sub. @default "sharded" on Redis >= 7, else "classic" */
    adapter?: BusKind;
  };

/** The Redis backend, with what tests need besides the `Backend` interface. */
export interface RedisBackend extends Backend {
  readonly kind: 'redis';
  presence: RedisPresence;
  bus: RedisBus;
  /** The Redis server's version. */
  readonly redisVersion: string;
  /** This process's name in presence (`<instanceId>#<random>`). */
  readonly presenceId: string;
  /**
   * Drops the links to Redis and stops the heartbeat without cleaning up,
   * as a crashed process would: its presence stays until another instance
   * reaps it. `close()` afterwards does nothing.
   */
  abandon(): Promise<void>;
}

/**
 * The backend of an instance that shares rooms, history and presence with
 * every other instance on the same Redis or Redis Cluster
 * (`config.redisClusterNodes`). Waits (retrying with backoff) until Redis
 * answers.
 */
export async function createRedisBackend(
  config: Pick<Config, 'redisUrl' | 'redisClusterNodes' | 'historyMax' | 'limits' | 'instanceId'> & Partial<Pick<Config, 'rateLimits'>>,
  logger: Logger,
  options: RedisBackendOptions = {},
): Promise<RedisBackend> {
  const cluster = config.redisClusterNodes;
  if (!config.redisUrl && !cluster?.length) throw new Error('createRedisBackend needs config.redisUrl or config.redisClusterNodes');
  if (cluster && options.adapter === 'classic') throw new Error('a Redis Cluster takes sharded pub/sub only');
  const target: RedisTarget = cluster?.length ? { clusterNodes: cluster } : { url: config.redisUrl! };
  const log = logger.child({ component: 'redis' });
  const presenceId = `${config.instanceId}#${randomBytes(4).toString('hex')}`;
  const links = new RedisLinks(target, presenceId, log, options);
  if ('url' in target) log.info({ url: redactUrl(target.url) }, 'connecting to redis');
  else log.info({ nodes: target.clusterNodes.map(redactUrl) }, 'connecting to the redis cluster');
  await links.connect();

  const redisVersion = await links.redisVersion();
  const major = Number(redisVersion.split('.')[0]);
  if (cluster && major < 7) {
    await links.close();
    throw new Error(`a Redis Cluster needs Redis 7 or newer for sharded pub/sub (found ${redisVersion})`);
  }
  // Sharded pub/sub (Redis 7) spreads the rooms' channels over a Redis
  // Cluster's nodes; older servers have plain pub/sub only.
  const busKind = options.adapter ?? (major >= 7 ? 'sharded' : 'classic');
  const bus = new RedisBus(links, log, busKind);
  log.info({ redisVersion, bus: busKind }, `redis ${redisVersion}: ${busKind} pub/sub for the bus`);

  const presence = new RedisPresence(links, presenceId);
  const liveness = new Liveness(links, log, presenceId, presence, options);
  try {
    await liveness.start();
  } catch (err) {
    await links.close();
    throw err;
  }

  let closing: Promise<void> | undefined;
  return {
    kind: 'redis',
    redisVersion,
    presenceId,
    store: new RedisMessageStore(links, config.historyMax),
    presence,
    limits: createRedisLimits(links, config.limits, config.rateLimits),
    bus,
    ready: () => links.ready(),
    close: () =>
      (closing ??= (async () => {
        await liveness.close();
        await links.close();
        log.info('redis links closed');
      })()),
    abandon: async () => {
      closing ??= Promise.resolve();
      liveness.abandon();
      await links.abandon();
    },
  };
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis://?';
  }
}
