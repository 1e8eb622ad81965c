const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';

/**
 * A random id of `length` characters of `[A-Za-z0-9_-]` (6 bits each; the
 * default 22 carry 132 bits), valid as a `clientId`. Uses
 * `crypto.getRandomValues`, which browsers offer on plain-HTTP pages too,
 * unlike `crypto.randomUUID`.
 */
export function randomId(length = 22): string {
  const bytes = new Uint8Array(length);
  globalThis.crypto.getRandomValues(bytes);
  let id = '';
  // 256 is a multiple of 64, so `& 63` keeps every character equally likely.
  for (const byte of bytes) id += ALPHABET[byte & 63];
  return id;
}
