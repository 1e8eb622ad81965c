/**
 * Rate limits counted in Redis, shared by every instance.
 */
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { DEFAULTS, type RateRules } from '../config';
import { FlexibleRateLimits, noLimits, type RateLimits } from '../limits';
import type { RedisLinks } from './connection';
import { keys } from './keys';

/**
 * Rate limits shared by every instance (a user cannot multiply their budget
 * by reconnecting elsewhere). While Redis is away or slow, each instance
 * falls back to an in-memory limiter with the same rules: a Redis error
 * never fails a request and never lets everyone through unchecked.
 */
export function createRedisLimits(links: RedisLinks, enabled: boolean, rules: RateRules = DEFAULTS.rateLimits): RateLimits {
  if (!enabled) return noLimits;
  // What RateLimiterRedis calls on a node-redis 4 client (`useRedisPackage`)
  // for a consume with a duration: EVAL. Wrapped for the command timeout, which
  // node-redis lacks and which a frozen Redis would otherwise never reach.
  const storeClient = {
    eval: (script: string, options: { keys: string[]; arguments: string[] }) =>
      links.run('rate limit', () => links.command.eval(script, options)),
    multi: () => links.command.multi(),
  };
  return new FlexibleRateLimits(
    rules,
    (kind, rule) =>
      new RateLimiterRedis({
        storeClient,
        useRedisPackage: true,
        keyPrefix: keys.limitPrefix(kind),
        points: rule.points,
        duration: rule.durationSec,
        insuranceLimiter: new RateLimiterMemory({ keyPrefix: `${kind}-insurance`, points: rule.points, duration: rule.durationSec }),
      }),
  );
}
