/**
 * `npm run token -- --sub alice --name Alice [--rooms 'team-*'] [--ttl 1h]`
 *
 * Mints a token for token mode, signed HS256 with AUTH_SECRET from the
 * environment, and prints it: for development and tests. In production the
 * service that signs users in issues the tokens.
 */
import jwt from 'jsonwebtoken';
import { parseArgs } from 'node:util';
import { ROOM_PATTERN } from '../protocol';
import { parseName } from '../server/validation';

const USAGE = `usage: AUTH_SECRET=... npm run token -- --sub ID --name NAME [options]

  --sub ID        the user id (1-128 characters)
  --name NAME     the display name (1-32 characters)
  --rooms LIST    rooms the token allows, comma-separated; an entry ending
                  in * is a prefix (default: every room)
  --ttl DURATION  how long the token is valid: 90s, 30m, 1h, 7d (default 1h)

Prints the token. AUTH_SECRET must be the instances' secret (16+ characters).`;

class UsageError extends Error {}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** A duration such as `90s`, `30m`, `1h`, `7d` (a bare number is seconds), in seconds. */
export function parseTtl(ttl: string): number {
  const m = /^(\d{1,9})([smhd]?)$/.exec(ttl.trim());
  const seconds = m ? Number(m[1]) * UNIT_SECONDS[m[2] || 's'] : 0;
  if (!(seconds > 0)) throw new UsageError(`--ttl: expected a duration such as 30m, 1h or 7d, got ${JSON.stringify(ttl)}`);
  return seconds;
}

/** The claims a token is minted with, from the command line; throws UsageError on a bad option. */
export function claimsFrom(argv: string[], nowSec = Math.floor(Date.now() / 1000)): jwt.JwtPayload {
  let values: { sub?: string; name?: string; rooms?: string; ttl?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        sub: { type: 'string' },
        name: { type: 'string' },
        rooms: { type: 'string' },
        ttl: { type: 'string', default: '1h' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) throw new UsageError('');
  const sub = values.sub ?? '';
  if (sub.length < 1 || sub.length > 128) throw new UsageError('--sub: a user id of 1-128 characters is required');
  const name = parseName(values.name);
  if (name === undefined) throw new UsageError('--name: a display name of 1-32 characters is required');
  const claims: jwt.JwtPayload = { sub, name, iat: nowSec, exp: nowSec + parseTtl(values.ttl ?? '1h') };
  if (values.rooms !== undefined) {
    const rooms = values.rooms.split(',').map((r) => r.trim()).filter(Boolean);
    for (const room of rooms) {
      // A prefix only needs to start like a room name.
      const ok = room.endsWith('*') ? room === '*' || ROOM_PATTERN.test(room.slice(0, -1)) : ROOM_PATTERN.test(room);
      if (!ok) throw new UsageError(`--rooms: ${JSON.stringify(room)} is not a room name or a prefix ending in *`);
    }
    claims.rooms = rooms;
  }
  return claims;
}

function main(): void {
  try {
    const secret = process.env.AUTH_SECRET ?? '';
    const claims = claimsFrom(process.argv.slice(2));
    if (secret.length < 16) throw new UsageError('AUTH_SECRET: set it to the instances\' secret (16+ characters)');
    process.stdout.write(`${jwt.sign(claims, secret, { algorithm: 'HS256' })}\n`);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(err.message ? `token: ${err.message}\n\n${USAGE}\n` : `${USAGE}\n`);
    process.exit(err.message ? 2 : 0);
  }
}

if (require.main === module) main();
