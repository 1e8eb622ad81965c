import jwt from 'jsonwebtoken';
import type { Message } from '../../protocol';
import { ok, waitFor } from '../helpers/events';
import { range, seed, seqs } from '../helpers/seed';
import { client, connect, startServer } from '../helpers/server';

const SECRET = 'http-test-secret-0123456789';

function token(claims: Record<string, unknown>, secret = SECRET): string {
  return jwt.sign({ name: claims.sub, ...claims }, secret, { algorithm: 'HS256', expiresIn: '1h' });
}

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

async function getJson(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  return { status: res.status, body: (await res.json()) as any };
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

describe('probes, metrics and the browser app', () => {
  it('GET / serves the browser app', async () => {
    const { url } = await startServer();
    const res = await get(`${url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(res.body).toMatch(/<html/i);
  });

  it('GET /healthz answers 200', async () => {
    const { url } = await startServer();
    expect((await get(`${url}/healthz`)).status).toBe(200);
  });

  it('GET /readyz answers 200 when ready and 503 while draining', async () => {
    const { url, app } = await startServer();
    expect((await get(`${url}/readyz`)).status).toBe(200);
    await app.drain();
    expect((await get(`${url}/readyz`)).status).toBe(503);
    // Draining keeps the process alive: /healthz still answers.
    expect((await get(`${url}/healthz`)).status).toBe(200);
  });

  it('GET /metrics answers Prometheus text', async () => {
    const { url } = await startServer();
    const res = await get(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(res.body).toMatch(/^# HELP parley_connected_sockets /m);
    expect(res.body).toMatch(/^# TYPE parley_connected_sockets gauge$/m);
  });
});

describe('GET /api/rooms/:room/messages', () => {
  async function roomOf(count: number) {
    const server = await startServer();
    const alice = await connect(server.url, 'alice');
    await ok(alice, 'room:join', { room: 'lobby' });
    await seed(alice, 'lobby', count);
    return { ...server, base: `${server.url}/api/rooms/lobby/messages` };
  }

  it('answers the latest 50 by default, ascending, like room:history', async () => {
    const { base } = await roomOf(120);
    const res = await getJson(base);
    expect(res.status).toBe(200);
    expect(seqs(res.body.messages)).toEqual(range(71, 120));
    expect(res.body.hasMore).toBe(true);
    expect(res.body.messages[0]).toMatchObject({ room: 'lobby', text: 'm71', user: { id: 'alice', name: 'alice' } });
  });

  it('answers ?before= and ?limit=', async () => {
    const { base } = await roomOf(120);
    const res = await getJson(`${base}?before=71&limit=20`);
    expect(seqs(res.body.messages)).toEqual(range(51, 70));
    expect(res.body.hasMore).toBe(true);
  });

  it('answers ?after=', async () => {
    const { base } = await roomOf(120);
    const res = await getJson(`${base}?after=100&limit=100`);
    expect(seqs(res.body.messages)).toEqual(range(101, 120));
    expect(res.body.hasMore).toBe(false);
  });

  it('answers an empty page for a room with no messages', async () => {
    const { url } = await startServer();
    expect(await getJson(`${url}/api/rooms/empty/messages`)).toEqual({ status: 200, body: { messages: [], hasMore: false } });
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=1.5', 'limit'],
    ['limit=abc', 'limit'],
    ['before=-1', 'before'],
    ['before=1e3', 'before'],
    ['after=x', 'after'],
    ['after=1&after=2', 'after'],
    ['before=5&after=1', ''],
  ])('answers 400 invalid_payload for ?%s', async (query, field) => {
    const { base } = await roomOf(3);
    const res = await getJson(`${base}?${query}`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: 'invalid_payload', message: expect.stringContaining(field) } });
  });

  it.each(['BAD%20ROOM', '%00', 'a'.repeat(65), '%E0%A4%A', '%'])('answers 400 invalid_room for the room %s', async (room) => {
    const { url } = await startServer();
    const res = await getJson(`${url}/api/rooms/${room}/messages`);
    expect(res).toEqual({ status: 400, body: { error: { code: 'invalid_room', message: expect.any(String) } } });
  });

  it('ignores query parameters the contract does not name', async () => {
    const { base } = await roomOf(3);
    const res = await getJson(`${base}?limit[a]=1&__proto__[x]=1&foo=bar`);
    expect(res.status).toBe(200);
    expect(seqs(res.body.messages)).toEqual([1, 2, 3]);
  });
});

describe('POST /api/rooms/:room/messages (open mode)', () => {
  it('answers 201 with the message and broadcasts it like message:send', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    await ok(alice, 'room:join', { room: 'lobby' });
    const live = waitFor<Message>(alice, 'message');
    const res = await post(`${url}/api/rooms/lobby/messages`, { text: '  from http ', clientId: 'h1', name: ' bot ' });
    expect(res.status).toBe(201);
    expect(res.body.message).toMatchObject({ room: 'lobby', seq: 1, clientId: 'h1', text: '  from http ', user: { id: 'bot', name: 'bot' } });
    expect(await live).toEqual(res.body.message);
  });

  it('needs no join and answers a repeated clientId with the original, broadcasting nothing new', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    await ok(alice, 'room:join', { room: 'lobby' });
    const first = await post(`${url}/api/rooms/lobby/messages`, { text: 'once', clientId: 'h1', name: 'bot' });
    const again = await post(`${url}/api/rooms/lobby/messages`, { text: 'once', clientId: 'h1', name: 'bot' });
    expect(again.body.message).toEqual(first.body.message);
    expect((await ok(alice, 'room:history', { room: 'lobby' })).messages).toHaveLength(1);
    // The same clientId from a socket of another user is a new message.
    const fromAlice = await ok(alice, 'message:send', { room: 'lobby', text: 'mine', clientId: 'h1' });
    expect(fromAlice.message.seq).toBe(2);
  });

  it.each([
    ['no name', {}],
    ['an empty name', { name: '' }],
    ['a blank name', { name: '   ' }],
    ['a name of 33 characters', { name: 'n'.repeat(33) }],
    ['a name with a control character', { name: 'bo\u0007b' }],
    ['a name that is not a string', { name: 42 }],
  ])('answers 401 unauthorized to %s', async (_, extra) => {
    const { url } = await startServer();
    const res = await post(`${url}/api/rooms/lobby/messages`, { text: 'hi', clientId: 'h1', ...extra });
    expect(res).toEqual({ status: 401, body: { error: { code: 'unauthorized', message: expect.any(String) } } });
  });

  it.each([
    ['a blank text', 400, 'invalid_payload', { text: '  ', clientId: 'h1' }],
    ['a text with NUL', 400, 'invalid_payload', { text: 'a\u0000', clientId: 'h1' }],
    ['a text of 2001 characters', 413, 'too_large', { text: 'x'.repeat(2001), clientId: 'h1' }],
    ['a missing text', 400, 'invalid_payload', { clientId: 'h1' }],
    ['a text that is not a string', 400, 'invalid_payload', { text: 5, clientId: 'h1' }],
    ['a bad clientId', 400, 'invalid_payload', { text: 'hi', clientId: 'no spaces' }],
    ['a missing clientId', 400, 'invalid_payload', { text: 'hi' }],
  ])('answers %s with %d %s, like message:send', async (_, status, code, body) => {
    const { url } = await startServer();
    const res = await post(`${url}/api/rooms/lobby/messages`, { name: 'bot', ...body });
    expect(res).toEqual({ status, body: { error: { code, message: expect.any(String) } } });
  });

  it('stores a text of exactly 2000 characters', async () => {
    const { url } = await startServer();
    const res = await post(`${url}/api/rooms/lobby/messages`, { name: 'bot', text: 'x'.repeat(2000), clientId: 'h1' });
    expect(res.status).toBe(201);
  });

  it('answers 400 invalid_room for a bad room name', async () => {
    const { url } = await startServer();
    const res = await post(`${url}/api/rooms/Not_Ok/messages`, { name: 'bot', text: 'hi', clientId: 'h1' });
    expect(res).toEqual({ status: 400, body: { error: { code: 'invalid_room', message: expect.any(String) } } });
  });

  it('answers 400 invalid_payload to a body that is not JSON, and 413 too_large to a huge body', async () => {
    const { url } = await startServer();
    const bad = await post(`${url}/api/rooms/lobby/messages`, '{"text": ');
    expect(bad).toEqual({ status: 400, body: { error: { code: 'invalid_payload', message: expect.any(String) } } });
    const huge = await post(`${url}/api/rooms/lobby/messages`, { name: 'bot', clientId: 'h1', text: 'x'.repeat(1024 * 1024) });
    expect(huge).toEqual({ status: 413, body: { error: { code: 'too_large', message: expect.any(String) } } });
  });

  it('answers an unknown /api route with an error body, not HTML', async () => {
    const { url } = await startServer();
    const res = await getJson(`${url}/api/nope`);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'invalid_payload', message: expect.any(String) } });
  });
});

describe('HTTP in token mode', () => {
  async function tokenServer() {
    const server = await startServer({ authSecret: SECRET });
    const bearer = (claims: Record<string, unknown>) => ({ authorization: `Bearer ${token(claims)}` });
    return { ...server, bearer };
  }

  it.each([
    ['GET', '/api/rooms'],
    ['GET', '/api/rooms/lobby/messages'],
    ['POST', '/api/rooms/lobby/messages'],
  ])('%s %s answers 401 unauthorized without a bearer token', async (method, path) => {
    const { url } = await tokenServer();
    const res =
      method === 'GET' ? await getJson(`${url}${path}`) : await post(`${url}${path}`, { text: 'hi', clientId: 'h1', name: 'bot' });
    expect(res).toEqual({ status: 401, body: { error: { code: 'unauthorized', message: expect.any(String) } } });
  });

  it.each([
    ['a bad signature', () => token({ sub: 'u1' }, 'another-secret-0123456789')],
    ['an expired token', () => jwt.sign({ sub: 'u1', name: 'u1', exp: Math.floor(Date.now() / 1000) - 60 }, SECRET)],
    ['garbage', () => 'not.a.jwt'],
  ])('answers 401 unauthorized to %s', async (_, make) => {
    const { url } = await tokenServer();
    const headers = { authorization: `Bearer ${make()}` };
    expect((await getJson(`${url}/api/rooms`, headers)).status).toBe(401);
    expect((await getJson(`${url}/api/rooms/lobby/messages`, headers)).status).toBe(401);
    expect((await post(`${url}/api/rooms/lobby/messages`, { text: 'hi', clientId: 'h1' }, headers)).status).toBe(401);
  });

  it('answers 401 to a token sent without the Bearer scheme', async () => {
    const { url } = await tokenServer();
    expect((await getJson(`${url}/api/rooms`, { authorization: token({ sub: 'u1' }) })).status).toBe(401);
    expect((await getJson(`${url}/api/rooms`, { authorization: `Basic ${token({ sub: 'u1' })}` })).status).toBe(401);
  });

  it('takes the Bearer scheme in any case', async () => {
    const { url } = await tokenServer();
    expect((await getJson(`${url}/api/rooms`, { authorization: `bearer ${token({ sub: 'u1' })}` })).status).toBe(200);
    expect((await getJson(`${url}/api/rooms`, { authorization: `BEARER ${token({ sub: 'u1' })}` })).status).toBe(200);
  });

  it('answers 401 before looking at the room or the body', async () => {
    const { url } = await tokenServer();
    const res = await post(`${url}/api/rooms/NOT_A_ROOM/messages`, { text: '' });
    expect(res).toEqual({ status: 401, body: { error: { code: 'unauthorized', message: expect.any(String) } } });
    expect((await getJson(`${url}/api/rooms/NOT_A_ROOM/messages?limit=0`)).status).toBe(401);
  });

  it('posts as the token\'s user, ignoring a name in the body', async () => {
    const { url, bearer } = await tokenServer();
    const res = await post(`${url}/api/rooms/lobby/messages`, { text: 'hi', clientId: 'h1', name: 'mallory' }, bearer({ sub: 'u1', name: 'Una' }));
    expect(res.status).toBe(201);
    expect(res.body.message.user).toEqual({ id: 'u1', name: 'Una' });
  });

  it('answers 403 forbidden for a room outside the rooms claim, and serves the ones inside it', async () => {
    const { url, bearer } = await tokenServer();
    const headers = bearer({ sub: 'u1', rooms: ['lobby', 'team-*'] });
    for (const room of ['lobby', 'team-a', 'team-']) {
      expect((await getJson(`${url}/api/rooms/${room}/messages`, headers)).status).toBe(200);
      expect((await post(`${url}/api/rooms/${room}/messages`, { text: 'hi', clientId: `h-${room}` }, headers)).status).toBe(201);
    }
    for (const room of ['secret', 'lobby2', 'team']) {
      const read = await getJson(`${url}/api/rooms/${room}/messages`, headers);
      expect(read).toEqual({ status: 403, body: { error: { code: 'forbidden', message: expect.any(String) } } });
      const write = await post(`${url}/api/rooms/${room}/messages`, { text: 'hi', clientId: 'h1' }, headers);
      expect(write).toEqual({ status: 403, body: { error: { code: 'forbidden', message: expect.any(String) } } });
    }
  });

  it('GET /api/rooms lists only the rooms the caller\'s claim allows', async () => {
    const { url, bearer } = await tokenServer();
    for (const room of ['lobby', 'team-a', 'secret']) {
      const s = client(url, { token: token({ sub: `in-${room}` }) });
      await new Promise((resolve) => s.once('session', resolve).connect());
      await ok(s, 'room:join', { room });
    }
    const limited = await getJson(`${url}/api/rooms`, bearer({ sub: 'u1', rooms: ['lobby', 'team-*'] }));
    expect(limited.status).toBe(200);
    expect(limited.body.rooms.map((r: { room: string }) => r.room).sort()).toEqual(['lobby', 'team-a']);
    const all = await getJson(`${url}/api/rooms`, bearer({ sub: 'u2' }));
    expect(all.body.rooms.map((r: { room: string }) => r.room).sort()).toEqual(['lobby', 'secret', 'team-a']);
  });
});
