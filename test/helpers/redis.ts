import { startRedis as launch, type RedisServer, type StartRedisOptions } from '../../scripts/topology/redis';
import { defer } from './cleanup';

export type { RedisServer };

/**
 * A private redis-server on a free port (never the shared one on 6379), with
 * its data in a temporary folder; stopped and removed after the test.
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const redis = await launch(options);
  defer(() => redis.destroy());
  return redis;
}
