/**
 * Rate limits counted in Redis, shared by every instance.
 */
import { createHash } from 'node:crypto';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { DEFAULTS, type RateRules } from '../config';
import { FlexibleRateLimits, noLimits, type RateLimits } from '../limits';
import type { RedisLinks } from './connection';
import { keys } from './keys';
import { runLua } from './script';

/**
 * Rate limits shared by every instance (a user cannot multiply their budget
 * by reconnecting elsewhere). While Redis is away or slow, each instance
 * falls back to an in-memory limiter with the same rules: a Redis error
 * never fails a request and never lets everyone through unchecked.
 */
export function createRedisLimits(links: RedisLinks, enabled: boolean, rules: RateRules = DEFAULTS.rateLimits): RateLimits {
  if (!enabled) return noLimits;
  // What RateLimiterRedis calls on a node-redis 4 client (`useRedisPackage`)
  // for a consume with a duration: EVAL of its one-key script. Wrapped for
  // the command timeout, which node-redis lacks and which a frozen Redis
  // would otherwise never reach, and sent by its key, which node-redis's
  // cluster client would not do (see sendByKey). `multi` is only made, never
  // run, on that path.
  const scripts = new Map<string, string>();
  const sha1Of = (script: string) => {
    let sha1 = scripts.get(script);
    if (!sha1) scripts.set(script, (sha1 = createHash('sha1').update(script).digest('hex')));
    return sha1;
  };
  const storeClient = {
    eval: (script: string, options: { keys: string[]; arguments: string[] }) =>
      links.run('rate limit', () => runLua(links.command, sha1Of(script), script, options.keys, options.arguments)),
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
