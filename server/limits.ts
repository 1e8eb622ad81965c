/**
 * Rate limits on untrusted traffic: the rules, the interface, and their
 * rate-limiter-flexible implementation (in memory here; over Redis in
 * redis/limits.ts).
 */
import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { AppError } from './errors';

export type LimitKind = 'send' | 'join' | 'connect';

/** Token-bucket style limits on untrusted traffic; `LIMITS=off` lifts them. */
export interface RateLimits {
  /** Counts one `kind` event for `key`; throws `rate_limited` with `retryAfterMs` past the limit. */
  consume(kind: LimitKind, key: string): Promise<void>;
}

/** Points per window, per key. */
export const LIMIT_RULES: Record<LimitKind, { points: number; durationSec: number }> = {
  // A user may post in bursts (a pasted list, a fast typist) but not flood a room.
  send: { points: 30, durationSec: 10 },
  join: { points: 60, durationSec: 10 },
  // Connections per address: enough for a household behind one NAT reconnecting at once.
  connect: { points: 120, durationSec: 60 },
};

/**
 * Limits built on rate-limiter-flexible, whose limiters come in a memory and a
 * Redis flavour behind one interface: pass a factory for the latter.
 */
export class FlexibleRateLimits implements RateLimits {
  private readonly limiters: Record<LimitKind, RateLimiterAbstract>;

  constructor(
    make: (kind: LimitKind, rule: { points: number; durationSec: number }) => RateLimiterAbstract = (kind, rule) =>
      new RateLimiterMemory({ keyPrefix: kind, points: rule.points, duration: rule.durationSec }),
  ) {
    this.limiters = {
      send: make('send', LIMIT_RULES.send),
      join: make('join', LIMIT_RULES.join),
      connect: make('connect', LIMIT_RULES.connect),
    };
  }

  async consume(kind: LimitKind, key: string): Promise<void> {
    try {
      await this.limiters[kind].consume(key);
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        throw new AppError('rate_limited', `too many ${kind} requests; retry later`, Math.max(1, Math.ceil(err.msBeforeNext)));
      }
      throw err;
    }
  }
}

/** `LIMITS=off`: every request passes. */
export const noLimits: RateLimits = { consume: async () => {} };
