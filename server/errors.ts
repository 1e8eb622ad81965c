/**
 * The errors the contract names (`AppError` and its codes), their HTTP
 * statuses, and the one way any thrown value becomes an answer.
 */
import type { ErrorBody, ErrorCode } from '../protocol';

/** An error the contract names: it reaches the client as `{ code, message }`. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

/** Thrown by stores and presence when Redis cannot be reached: nothing was written. */
export class UnavailableError extends AppError {
  constructor(message = 'the store cannot be reached; retry with the same clientId', retryAfterMs = 1000) {
    super('unavailable', message, retryAfterMs);
  }
}

/** HTTP status of each error code. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_payload: 400,
  invalid_room: 400,
  not_joined: 409,
  forbidden: 403,
  rate_limited: 429,
  too_large: 413,
  unavailable: 503,
  internal: 500,
  unauthorized: 401,
  not_found: 404,
};

/**
 * The error body for any thrown value: contract errors as they are, anything
 * else as `internal` (the caller logs it; no stack trace leaves the server).
 */
export function toErrorBody(err: unknown): ErrorBody {
  if (err instanceof AppError) {
    const body: ErrorBody = { code: err.code, message: err.message };
    if (err.retryAfterMs !== undefined) body.retryAfterMs = err.retryAfterMs;
    return body;
  }
  return { code: 'internal', message: 'internal error' };
}

/** The `Retry-After` header (whole seconds) for an error body that says when to retry; none otherwise. */
export function retryAfterHeader(body: ErrorBody): Record<string, string> {
  return body.retryAfterMs === undefined ? {} : { 'retry-after': String(Math.ceil(body.retryAfterMs / 1000)) };
}
