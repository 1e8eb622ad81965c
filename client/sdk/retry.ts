import { backoffDelay, type BackoffOptions } from './backoff';
import type { ParleyError } from './errors';

/**
 * How long to wait before attempt `attempt + 1` after a transient failure:
 * after `rate_limited`, exactly the server's `retryAfterMs` (the limiter
 * knows when the next one passes); otherwise the backoff, or the server's
 * `retryAfterMs` if that is longer.
 */
export function retryDelay(error: ParleyError, attempt: number, backoff: BackoffOptions): number {
  const { code, retryAfterMs } = error;
  if (code === 'rate_limited' && retryAfterMs !== undefined) return retryAfterMs;
  return Math.max(retryAfterMs ?? 0, backoffDelay(attempt, backoff));
}
