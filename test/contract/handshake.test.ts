import jwt from 'jsonwebtoken';
import type { SessionEvent } from '../../protocol';
import { call, ok } from '../helpers/events';
import { client, connect, handshake, refusal, startServer } from '../helpers/server';

const SECRET = 'handshake-test-secret-0123456789';

/** A token signed with SECRET that expires in an hour, unless the claims say otherwise. */
function token(claims: Record<string, unknown>, secret = SECRET): string {
  return jwt.sign({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims }, secret, { algorithm: 'HS256' });
}

describe('open mode identity', () => {
  it('makes the user { id: name, name } from the trimmed name', async () => {
    const { url } = await startServer();
    const session = await handshake(client(url, { name: '  Alice Smith \t' }));
    expect(session.user).toEqual({ id: 'Alice Smith', name: 'Alice Smith' });
  });

  it.each([
    ['one character', 'a'],
    ['32 characters', 'n'.repeat(32)],
    ['32 code points of emoji (64 UTF-16 units)', '😀'.repeat(32)],
    ['32 characters inside a lot of surrounding space', `${' '.repeat(200)}${'n'.repeat(32)}${' '.repeat(200)}`],
    ['non-Latin letters', 'Zoë 张伟'],
  ])('accepts a name of %s', async (_, name) => {
    const { url } = await startServer();
    const session = await handshake(client(url, { name }));
    expect(session.user.name).toBe(name.trim());
  });

  it.each([
    ['no auth at all', undefined],
    ['no name', {}],
    ['an empty name', { name: '' }],
    ['a blank name', { name: ' \t ' }],
    ['33 characters', { name: 'n'.repeat(33) }],
    ['33 emoji', { name: '😀'.repeat(33) }],
    ['a C0 control character', { name: 'bo\u0007b' }],
    ['a newline inside', { name: 'bo\nb' }],
    ['DEL', { name: 'bob\u007f' }],
    ['a C1 control character', { name: 'bo\u0085b' }],
    ['a number', { name: 42 }],
    ['an object', { name: { first: 'bob' } }],
    ['a token in open mode', { token: 'abc' }],
  ])('refuses %s with connect_error "unauthorized"', async (_, auth) => {
    const { url } = await startServer();
    expect(await refusal(client(url, auth as Record<string, unknown>))).toBe('unauthorized');
  });
});

describe('session', () => {
  it('arrives once, first, right after the connection opens, with the user and the instance id', async () => {
    const { url } = await startServer({ instanceId: 'parley-test-7' });
    const socket = client(url, { name: 'alice' });
    const events: string[] = [];
    const sessions: SessionEvent[] = [];
    socket.onAny((event: string) => events.push(event));
    socket.on('session', (s) => sessions.push(s));
    await handshake(socket);
    await ok(socket, 'room:join', { room: 'lobby' });
    await ok(socket, 'rooms:list', {});
    expect(sessions).toEqual([{ user: { id: 'alice', name: 'alice' }, instanceId: 'parley-test-7' }]);
    expect(events[0]).toBe('session');
    expect(events.filter((e) => e === 'session')).toHaveLength(1);
  });
});

describe('token mode identity', () => {
  it('makes the user { id: sub, name } from a valid token', async () => {
    const { url } = await startServer({ authSecret: SECRET });
    const session = await handshake(client(url, { token: token({ sub: 'u-42', name: 'Ursula' }) }));
    expect(session.user).toEqual({ id: 'u-42', name: 'Ursula' });
  });

  it.each([
    ['no token', () => ({})],
    ['an empty token', () => ({ token: '' })],
    ['a name instead of a token', () => ({ name: 'alice' })],
    ['garbage', () => ({ token: 'garbage' })],
    ['a bad signature', () => ({ token: token({ sub: 'u1', name: 'U' }, 'not-the-secret-0123456789') })],
    ['an expired token', () => ({ token: token({ sub: 'u1', name: 'U', exp: Math.floor(Date.now() / 1000) - 10 }) })],
    ['a token with no exp', () => ({ token: jwt.sign({ sub: 'u1', name: 'U' }, SECRET, { algorithm: 'HS256' }) })],
    ['a token with no sub', () => ({ token: token({ name: 'U' }) })],
    ['a token with no name', () => ({ token: token({ sub: 'u1' }) })],
    ['a token with a bad name', () => ({ token: token({ sub: 'u1', name: 'x'.repeat(40) }) })],
    ['a token with rooms that is not a list', () => ({ token: token({ sub: 'u1', name: 'U', rooms: 'lobby' }) })],
    ['an unsigned token (alg none)', () => ({ token: jwt.sign({ sub: 'u1', name: 'U', exp: 9e9 }, '', { algorithm: 'none' }) })],
    ['a token signed with another algorithm', () => ({ token: jwt.sign({ sub: 'u1', name: 'U', exp: 9e9 }, SECRET, { algorithm: 'HS512' }) })],
  ])('refuses %s with connect_error "unauthorized"', async (_, auth) => {
    const { url } = await startServer({ authSecret: SECRET });
    expect(await refusal(client(url, auth()))).toBe('unauthorized');
  });

  describe('the rooms claim', () => {
    async function limitedUser() {
      const { url } = await startServer({ authSecret: SECRET });
      const socket = client(url, { token: token({ sub: 'u1', name: 'Una', rooms: ['lobby', 'team-*'] }) });
      await handshake(socket);
      return { url, socket };
    }

    it('lets the user join the rooms it names, exactly or by prefix', async () => {
      const { socket } = await limitedUser();
      for (const room of ['lobby', 'team-a', 'team-', 'team-long-name']) await ok(socket, 'room:join', { room });
    });

    it.each(['lobby2', 'lobb', 'team', 'teams', 'secret'])('answers forbidden to a join of %s', async (room) => {
      const { socket } = await limitedUser();
      expect(await call(socket, 'room:join', { room })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    });

    it('answers forbidden to a send, typing or history in a room outside the claim', async () => {
      const { socket } = await limitedUser();
      const send = await call(socket, 'message:send', { room: 'secret', text: 'hi', clientId: 'c1' });
      expect(send).toMatchObject({ ok: false, error: { code: 'forbidden' } });
      expect(await call(socket, 'typing', { room: 'secret', typing: true })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
      expect(await call(socket, 'room:history', { room: 'secret' })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
      expect(await call(socket, 'room:history', { room: 'team-x' })).toMatchObject({ ok: true });
    });

    it('filters rooms:list to the rooms the claim allows', async () => {
      const { url, socket } = await limitedUser();
      const other = client(url, { token: token({ sub: 'u2', name: 'Other' }) });
      await handshake(other);
      for (const room of ['lobby', 'team-a', 'secret']) await ok(other, 'room:join', { room });
      const mine = await ok(socket, 'rooms:list', {});
      expect(mine.rooms.map((r: { room: string }) => r.room).sort()).toEqual(['lobby', 'team-a']);
      const theirs = await ok(other, 'rooms:list', {});
      expect(theirs.rooms.map((r: { room: string }) => r.room).sort()).toEqual(['lobby', 'secret', 'team-a']);
    });

    it('an empty claim allows no room', async () => {
      const { url } = await startServer({ authSecret: SECRET });
      const socket = client(url, { token: token({ sub: 'u1', name: 'U', rooms: [] }) });
      await handshake(socket);
      expect(await call(socket, 'room:join', { room: 'lobby' })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    });
  });
});

describe('origins', () => {
  const withOrigin = (url: string, origin: string) => client(url, { name: 'alice' }, { extraHeaders: { origin } });

  it('refuses a foreign browser Origin with connect_error "forbidden_origin"', async () => {
    const { url } = await startServer();
    expect(await refusal(withOrigin(url, 'http://evil.example'))).toBe('forbidden_origin');
  });

  it('refuses a foreign Origin in token mode too, even with a valid token', async () => {
    const { url } = await startServer({ authSecret: SECRET });
    const socket = client(url, { token: token({ sub: 'u1', name: 'U' }) }, { extraHeaders: { origin: 'https://evil.example' } });
    expect(await refusal(socket)).toBe('forbidden_origin');
  });

  it('refuses an Origin that differs from the server only by port', async () => {
    const { url, port } = await startServer();
    expect(await refusal(withOrigin(url, `http://127.0.0.1:${port + 1}`))).toBe('forbidden_origin');
  });

  it('accepts a request with no Origin (not a browser)', async () => {
    const { url } = await startServer();
    await expect(handshake(client(url, { name: 'alice' }))).resolves.toMatchObject({ user: { id: 'alice' } });
  });

  it('accepts the server\'s own origin', async () => {
    const { url } = await startServer();
    await expect(handshake(withOrigin(url, url))).resolves.toMatchObject({ user: { id: 'alice' } });
  });

  it('accepts an origin of ALLOWED_ORIGINS and still refuses others', async () => {
    const { url } = await startServer({ allowedOrigins: ['https://chat.example.com', 'http://localhost:5173'] });
    await expect(handshake(withOrigin(url, 'https://chat.example.com'))).resolves.toBeDefined();
    await expect(handshake(withOrigin(url, 'http://localhost:5173'))).resolves.toBeDefined();
    expect(await refusal(withOrigin(url, 'https://evil.example.com'))).toBe('forbidden_origin');
    expect(await refusal(withOrigin(url, 'http://chat.example.com'))).toBe('forbidden_origin');
  });

  it('checks the origin before the identity', async () => {
    const { url } = await startServer();
    const socket = client(url, {}, { extraHeaders: { origin: 'http://evil.example' } });
    expect(await refusal(socket)).toBe('forbidden_origin');
  });

  it('accepts an allowed origin over HTTP long-polling too', async () => {
    const { url } = await startServer({ allowedOrigins: ['https://chat.example.com'] });
    const socket = client(url, { name: 'alice' }, { transports: ['polling'], extraHeaders: { origin: 'https://chat.example.com' } });
    await expect(handshake(socket)).resolves.toBeDefined();
    const foreign = client(url, { name: 'bob' }, { transports: ['polling'], extraHeaders: { origin: 'https://evil.example' } });
    expect(await refusal(foreign)).toBe('forbidden_origin');
  });
});
