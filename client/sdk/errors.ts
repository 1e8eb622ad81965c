import { PERMANENT_ERRORS, type ErrorBody, type ErrorCode, type HandshakeError } from '../../protocol';

/**
 * Why an SDK call failed: a code of the contract (`ErrorCode`), a refused
 * handshake (`HandshakeError`), or one of the SDK's own:
 * - `timeout`: no answer within `ackTimeoutMs`;
 * - `disconnected`: the connection dropped before the answer came;
 * - `closed`: the client was closed, or the room left, first.
 */
export type ParleyErrorCode = ErrorCode | HandshakeError | 'timeout' | 'disconnected' | 'closed';

/** An error with a stable `code` to branch on, never on the message. */
export class ParleyError extends Error {
  override readonly name = 'ParleyError';

  constructor(
    readonly code: ParleyErrorCode,
    message: string,
    /** With `rate_limited` (and sometimes `unavailable`): when a retry may succeed. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }

  /** The error of a server's `{ ok: false, error }` answer. */
  static fromBody(body: ErrorBody): ParleyError {
    return new ParleyError(body.code, body.message, body.retryAfterMs);
  }
}

/** Whether resending the same payload can never succeed. */
export function isPermanent(code: ParleyErrorCode): boolean {
  return (PERMANENT_ERRORS as readonly string[]).includes(code);
}

/** `err` as a ParleyError: itself if it is one, else `internal` (a bug, not the server's answer). */
export function asParleyError(err: unknown): ParleyError {
  return err instanceof ParleyError ? err : new ParleyError('internal', String(err));
}
