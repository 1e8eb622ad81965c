/**
 * Rate limits on untrusted traffic: the rules, the interface, and their
 * rate-limiter-flexible implementation (in memory here; over Redis in
 * redis/limits.ts).
 */
import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { DEFAULTS, type RateRule, type RateRules } from './config';
import { AppError } from './errors';

/** What is counted: sends (per user), joins (per socket), typing (per user), connections (per address), reads (per user or address). */
export type LimitKind = keyof RateRules;

/** Token-bucket style limits on untrusted traffic; `LIMITS=off` lifts them. */
export interface RateLimits {
  /** Counts one `kind` event for `key`; throws `rate_limited` with `retryAfterMs` past the limit. */
  consume(kind: LimitKind, key: string): Promise<void>;
}

/**
 * Limits built on rate-limiter-flexible, whose limiters come in a memory and a
 * Redis flavour behind one interface: pass a factory for the latter.
 */
export class FlexibleRateLimits implements RateLimits {
  private readonly limiters: Record<LimitKind, RateLimiterAbstract>;

  constructor(
    rules: RateRules = DEFAULTS.rateLimits,
    make: (kind: LimitKind, rule: RateRule) => RateLimiterAbstract = (kind, rule) =>
      new RateLimiterMemory({ keyPrefix: kind, points: rule.points, duration: rule.durationSec }),
  ) {
    this.limiters = {
      send: make('send', rules.send),
      join: make('join', rules.join),
      typing: make('typing', rules.typing),
      connect: make('connect', rules.connect),
      read: make('read', rules.read),
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
