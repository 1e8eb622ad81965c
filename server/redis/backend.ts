import { randomBytes } from 'node:crypto';
import type { Backend } from '../backend';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { createBus } from './adapter';
import { RedisLinks, type RedisLinkOptions } from './connection';
import { createRedisLimits } from './limits';
import { Liveness, type PresenceTimings } from './liveness';
import { RedisPresence } from './presence';
import { RedisMessageStore } from './store';

/** Timings of the Redis backend; the defaults suit production, tests pass short ones. */
export type RedisBackendOptions = RedisLinkOptions &
  PresenceTimings & {
    /** Which Socket.IO adapter to use. @default "sharded" on Redis >= 7, else "classic" */
    adapter?: 'sharded' | 'classic';
  };

/** The Redis backend, with what fault tests need besides the `Backend` interface. */
export interface RedisBackend extends Backend {
  readonly kind: 'redis';
  presence: RedisPresence;
  /** Which Socket.IO adapter is in use: `sharded` on Redis >= 7, else `classic`. */
  readonly adapterKind: 'sharded' | 'classic';
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
 * every other instance on the same Redis. Waits (retrying with backoff)
 * until Redis answers.
 */
export async function createRedisBackend(
  config: Pick<Config, 'redisUrl' | 'historyMax' | 'limits' | 'instanceId'>,
  logger: Logger,
  options: RedisBackendOptions = {},
): Promise<RedisBackend> {
  if (!config.redisUrl) throw new Error('createRedisBackend needs config.redisUrl');
  const log = logger.child({ component: 'redis' });
  const presenceId = `${config.instanceId}#${randomBytes(4).toString('hex')}`;
  const links = new RedisLinks(config.redisUrl, presenceId, log, options);
  log.info({ url: redactUrl(config.redisUrl) }, 'connecting to redis');
  await links.connect();

  const info = await links.run('INFO server', () => links.command.info('server'));
  const redisVersion = /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? '0';
  // Sharded Pub/Sub (Redis 7) sends a room's broadcasts only to the instances
  // that serve the room, and scales with a Redis Cluster; older servers get
  // the classic adapter, where every instance hears every broadcast.
  const adapterKind = options.adapter ?? (Number(redisVersion.split('.')[0]) >= 7 ? 'sharded' : 'classic');
  const bus = createBus(links, log, adapterKind);
  log.info({ redisVersion, adapter: adapterKind }, `redis ${redisVersion}: using the ${adapterKind} socket.io adapter`);

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
    adapterKind,
    redisVersion,
    presenceId,
    store: new RedisMessageStore(links, config.historyMax),
    presence,
    limits: createRedisLimits(links, config.limits),
    adapter: bus.adapter,
    subscribed: (room) => bus.subscribed(room),
    ready: () => links.ready(),
    onLinkRestored: (listener) => bus.onRestored(listener),
    onRemoteMessage: (listener) => bus.onRemoteMessage(listener),
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
