/*
 * The one backoff function of the repository: exponential delays with
 * jitter, used by the SDK's resends and reconnections and by the server's
 * Redis reconnections.
 */

/** Exponential backoff settings. */
export interface BackoffOptions {
  /** Delay before the first retry. @default 250 */
  baseMs: number;
  /** Longest delay. @default 10000 */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 250, maxMs: 10_000 };

/**
 * The delay before retry number `attempt` (1, 2, ...): exponential, capped,
 * with "equal jitter" (half fixed, half random) so that clients that failed
 * together do not retry together, yet none retries at once.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
