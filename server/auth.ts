/**
 * Who a caller is (open mode: a name; token mode: a verified JWT) and which
 * rooms and browser origins they may use.
 */
import jwt from 'jsonwebtoken';
import type { User } from '../protocol';
import { AppError } from './errors';
import { parseName, wellFormed } from './validation';

/** Who a connection or an HTTP request is, and what it may use. */
export interface Identity {
  user: User;
  /** The token's `rooms` claim: names, or prefixes ending in `*`. Undefined = every room. */
  rooms?: string[];
  /** When the token expires (its `exp`, in ms since the epoch); undefined in open mode. */
  expiresAt?: number;
}

/**
 * Identifies a caller from a handshake's `auth` (or an HTTP request's name or
 * bearer token): `{ name }` in open mode, `{ token }` in token mode.
 * @throws AppError `unauthorized`
 */
export function identify(auth: unknown, secret: string | undefined): Identity {
  const a = (auth && typeof auth === 'object' ? auth : {}) as Record<string, unknown>;
  if (secret === undefined) {
    const name = parseName(a.name);
    if (name === undefined) throw new AppError('unauthorized', 'auth.name: a display name of 1-32 characters is required');
    return { user: { id: name, name } };
  }
  return verifyToken(a.token, secret);
}

function verifyToken(token: unknown, secret: string): Identity {
  if (typeof token !== 'string' || token.length === 0 || token.length > 8192) {
    throw new AppError('unauthorized', 'a token is required');
  }
  let claims: jwt.JwtPayload;
  try {
    const decoded = jwt.verify(token, secret, { algorithms: ['HS256'] });
    if (typeof decoded === 'string') throw new Error('not a JSON payload');
    claims = decoded;
  } catch (err) {
    throw new AppError('unauthorized', `invalid token: ${(err as Error).message}`);
  }
  const name = parseName(claims.name);
  // A user id is stored in messages and reactions: it must survive UTF-8 as they do.
  if (typeof claims.sub !== 'string' || claims.sub.length === 0 || claims.sub.length > 128 || !wellFormed(claims.sub)) {
    throw new AppError('unauthorized', 'token: sub must be a user id');
  }
  if (name === undefined) throw new AppError('unauthorized', 'token: name must be a display name of 1-32 characters');
  if (typeof claims.exp !== 'number') throw new AppError('unauthorized', 'token: exp is required');
  const rooms = claims.rooms;
  if (rooms !== undefined && !(Array.isArray(rooms) && rooms.every((r) => typeof r === 'string'))) {
    throw new AppError('unauthorized', 'token: rooms must be a list of room names');
  }
  return { user: { id: claims.sub, name }, rooms, expiresAt: claims.exp * 1000 };
}

/** Whether the identity's `rooms` claim allows `room`. */
export function mayUse(identity: Identity, room: string): boolean {
  if (!identity.rooms) return true;
  return identity.rooms.some((r) => (r.endsWith('*') ? room.startsWith(r.slice(0, -1)) : r === room));
}

/** @throws AppError `forbidden` when the claim does not allow `room`. */
export function assertMayUse(identity: Identity, room: string): void {
  if (!mayUse(identity, room)) throw new AppError('forbidden', `room ${room} is not allowed by your token`);
}

/** Which browser origins may use the service. */
export interface OriginRules {
  /** `ALLOWED_ORIGINS`: origins allowed besides the server's own. */
  allowed: string[];
  /** `PUBLIC_ORIGIN`: the server's own origin(s); empty = whatever `Host` names. */
  publicOrigins: string[];
}

/**
 * Whether a browser Origin may connect or call the API: no Origin (not a
 * browser), the server's own origin, or one of `ALLOWED_ORIGINS`. The
 * server's own origin is `PUBLIC_ORIGIN` when set; otherwise the request's
 * `Host`, which a DNS-rebinding page controls (development only).
 */
export function originAllowed(origin: string | undefined, host: string | undefined, rules: OriginRules): boolean {
  if (!origin) return true;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false;
  }
  if (rules.publicOrigins.length > 0) {
    if (rules.publicOrigins.includes(parsed.origin)) return true;
  } else if (host && parsed.host === host) {
    return true;
  }
  return rules.allowed.includes(parsed.origin);
}
