/**
 * Retries of the SDK's requests: the delay before the next attempt, and the
 * request loop that a room's join and history reads go through. (The outbox
 * keeps its own queue, which outlives a connection, but waits by the same rule.)
 */
import type { Ok } from '../../protocol';
import { backoffDelay, type BackoffOptions } from '../../common/backoff';
import type { AnswerOf, Connection, PayloadOf, RequestEvent } from './connection';
import { asParleyError, isPermanent, ParleyError } from './errors';

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

export interface RetryOptions<E extends RequestEvent> {
  /**
   * Whether the request is still wanted and can go out (connected, room not
   * left, client not closed). Checked before every attempt and when an
   * answer or a failure comes.
   */
  live(): boolean;
  backoff: BackoffOptions;
  /** Called with an `ok` answer that came once `live()` was false, for a caller that must undo it. */
  late?(answer: Ok<AnswerOf<E>>): void;
}

/**
 * Sends a request until the server answers it `ok`, and resolves with that
 * answer. The payload is built again for every attempt, so that it carries
 * the state of the moment (a `since`, an `after`).
 *
 * - A timeout, a dropped connection, a malformed answer or a transient error
 *   (any code that is not `isPermanent`) is tried again after `retryDelay`.
 * - Resolves `undefined` as soon as `live()` is false: the connection
 *   dropped (the re-join after the reconnect takes over), the room was left
 *   or the client closed. The delay between attempts ends early on a drop.
 * - Rejects with the `ParleyError` of a permanent error (`invalid_*`,
 *   `forbidden`, `too_large`, `unauthorized`): the same request can never
 *   succeed.
 */
export async function requestWithRetry<E extends RequestEvent>(
  connection: Connection,
  event: E,
  payload: () => PayloadOf<E>,
  options: RetryOptions<E>,
): Promise<Ok<AnswerOf<E>> | undefined> {
  for (let attempt = 1; options.live(); attempt++) {
    let error: ParleyError;
    try {
      const answer = await connection.request(event, payload());
      if (answer.ok) {
        if (options.live()) return answer;
        options.late?.(answer);
        return undefined;
      }
      error = ParleyError.fromBody(answer.error);
    } catch (err) {
      error = asParleyError(err);
    }
    if (!options.live()) return undefined;
    if (isPermanent(error.code)) throw error;
    await connection.sleep(retryDelay(error, attempt, options.backoff));
  }
  return undefined;
}
