import jwt from 'jsonwebtoken';
import type { ParleyError } from '../../client/sdk';
import { collect, waitFor } from '../helpers/events';
import { startServer } from '../helpers/server';
import { connected, sdkClient, storeQuietly } from './sdk';

const SECRET = 'refresh-test-secret-0123456789';

/** A token for Bob that expires `seconds` from now (JWT `exp` is in whole seconds). */
const token = (seconds: number) => jwt.sign({ sub: 'u-bob', name: 'Bob', exp: Math.floor(Date.now() / 1000) + seconds }, SECRET, { algorithm: 'HS256' });

describe('SDK and an expiring token', () => {
  it('asks its auth function for a fresh token when the server ends the session, reconnects and re-joins', async () => {
    const server = await startServer({ authSecret: SECRET });
    const lifetimes = [2, 3600];
    let issued = 0;
    const bob = sdkClient(server.url, 'bob', { auth: () => ({ token: token(lifetimes[issued++] ?? 3600) }) });
    const seen = collect(bob, 'message');
    await bob.join('lobby');
    await connected(bob);
    const rejoined = waitFor(bob, 'joined', (info) => info.rejoin, 5000);
    // Stored while Bob's first token runs out: handed over after the re-join.
    await storeQuietly(server, 'lobby', 'while expiring');
    await rejoined;
    expect(issued).toBe(2);
    expect(bob.status).toBe('connected');
    await seen.until(1);
    expect(seen.items.map((m) => m.text)).toEqual(['while expiring']);
    expect((await bob.send('lobby', 'fresh')).user).toEqual({ id: 'u-bob', name: 'Bob' });
  });

  it('with a token given as is, goes offline with an unauthorized error when it expires', async () => {
    const server = await startServer({ authSecret: SECRET });
    const bob = sdkClient(server.url, 'bob', { auth: { token: token(2) } });
    await bob.join('lobby');
    const error = waitFor<ParleyError>(bob, 'error', () => true, 5000);
    const offline = waitFor(bob, 'status', (s) => s === 'offline', 5000);
    expect(await error).toMatchObject({ code: 'unauthorized', message: expect.stringContaining('expired') });
    await offline;
  });
});
