import { execFile } from 'node:child_process';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { claimsFrom } from '../../scripts/token';
import { call, ok, waitFor } from '../helpers/events';
import { client, handshake, refusal, startServer } from '../helpers/server';

const SECRET = 'expiry-test-secret-0123456789';

/** A token for `sub` that expires `seconds` from now (whole seconds, as JWT has it). */
function token(sub: string, seconds: number, extra: Record<string, unknown> = {}): string {
  return jwt.sign({ sub, name: sub, exp: Math.floor(Date.now() / 1000) + seconds, ...extra }, SECRET, { algorithm: 'HS256' });
}

describe('a token that expires while connected', () => {
  it('ends the session when exp passes: session:ended unauthorized, then io server disconnect', async () => {
    const { url } = await startServer({ authSecret: SECRET });
    const socket = client(url, { token: token('u1', 2) });
    await handshake(socket);
    await ok(socket, 'room:join', { room: 'lobby' });
    const ended = waitFor(socket, 'session:ended', () => true, 4000);
    const disconnected = waitFor<string>(socket, 'disconnect', () => true, 4000);
    expect(await ended).toEqual({ code: 'unauthorized', message: expect.stringContaining('expired') });
    expect(await disconnected).toBe('io server disconnect');
  });

  it('answers every event arriving after exp with unauthorized and carries none of them out', async () => {
    let skew = 0;
    const server = await startServer({ authSecret: SECRET, now: () => Date.now() + skew });
    const socket = client(server.url, { token: token('u1', 3600) });
    await handshake(socket);
    await ok(socket, 'room:join', { room: 'lobby' });
    // Two hours on, by the server's clock; its timer would fire in an hour.
    skew = 2 * 3600 * 1000;
    const refused = { ok: false, error: { code: 'unauthorized', message: expect.stringContaining('expired') } };
    expect(await call(socket, 'message:send', { room: 'lobby', text: 'late', clientId: 'late-1' })).toEqual(refused);
    expect(await call(socket, 'room:join', { room: 'other' })).toEqual(refused);
    expect(await call(socket, 'room:history', { room: 'lobby' })).toEqual(refused);
    expect(await call(socket, 'rooms:list', {})).toEqual(refused);
    expect((await server.backend.store.latest('lobby', 10)).messages).toEqual([]);
  });

  it('refuses a reconnect with the same, now expired, token with connect_error unauthorized', async () => {
    const { url } = await startServer({ authSecret: SECRET });
    const expiring = token('u1', 2);
    const socket = client(url, { token: expiring });
    await handshake(socket);
    await waitFor(socket, 'disconnect', () => true, 4000);
    expect(await refusal(client(url, { token: expiring }))).toBe('unauthorized');
  });
});

describe('npm run token', () => {
  const script = path.join(__dirname, '..', '..', 'dist', 'scripts', 'token.js');
  const run = (args: string[], env: Record<string, string>) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [script, ...args], { env: { PATH: process.env.PATH ?? '', ...env } }, (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  it('mints a token the server accepts, with the rooms and the lifetime asked for', async () => {
    const { code, stdout } = await run(['--sub', 'alice', '--name', 'Alice', '--rooms', 'team-*,general', '--ttl', '2h'], { AUTH_SECRET: SECRET });
    expect(code).toBe(0);
    const claims = jwt.verify(stdout.trim(), SECRET, { algorithms: ['HS256'] }) as jwt.JwtPayload;
    expect(claims).toMatchObject({ sub: 'alice', name: 'Alice', rooms: ['team-*', 'general'] });
    expect(claims.exp! - claims.iat!).toBe(7200);

    const { url } = await startServer({ authSecret: SECRET });
    const socket = client(url, { token: stdout.trim() });
    expect((await handshake(socket)).user).toEqual({ id: 'alice', name: 'Alice' });
    await ok(socket, 'room:join', { room: 'team-red' });
    expect(await call(socket, 'room:join', { room: 'random' })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
  });

  it('exits 2 naming the problem without AUTH_SECRET or with a bad option', async () => {
    expect(await run(['--sub', 'a', '--name', 'A'], {})).toMatchObject({ code: 2, stderr: expect.stringContaining('AUTH_SECRET') });
    expect(await run(['--sub', 'a', '--name', 'A', '--ttl', 'soon'], { AUTH_SECRET: SECRET })).toMatchObject({ code: 2, stderr: expect.stringContaining('--ttl') });
  });

  it.each([
    [['--name', 'A'], '--sub'],
    [['--sub', 'a'], '--name'],
    [['--sub', 'a', '--name', 'A', '--rooms', 'Team'], '--rooms'],
    [['--sub', 'a', '--name', 'A', '--ttl', '0h'], '--ttl'],
    [['--sub', 'a', '--name', 'A', '--admin'], 'admin'],
  ])('refuses %j', (argv, problem) => {
    expect(() => claimsFrom(argv)).toThrow(problem);
  });

  it('defaults to an hour and every room', () => {
    const claims = claimsFrom(['--sub', 'a', '--name', 'A'], 1000);
    expect(claims).toEqual({ sub: 'a', name: 'A', iat: 1000, exp: 4600 });
  });
});
