import type { TypingEvent } from '../../protocol';
import { DEFAULTS } from '../../server/config';
import { call, collect, ok } from '../helpers/events';
import { until } from '../helpers/process';
import { client, connect, refusal, startServer } from '../helpers/server';
import { WireClient } from '../helpers/wire';

/** Default rules with `kind` made small, for a test that runs past it quickly. */
const rules = (kind: keyof typeof DEFAULTS.rateLimits, points: number) => ({ ...DEFAULTS.rateLimits, [kind]: { points, durationSec: 60 } });

describe('rooms per connection', () => {
  it('answers a join past the bound with too_large, and leaving a room frees its slot', async () => {
    const { url } = await startServer({ maxRoomsPerConnection: 3 });
    const alice = await connect(url, 'alice');
    for (const room of ['r0', 'r1', 'r2']) await ok(alice, 'room:join', { room });
    expect(await call(alice, 'room:join', { room: 'r3' })).toEqual({ ok: false, error: { code: 'too_large', message: expect.stringContaining('3 rooms') } });
    // The refused join left no trace: the room has no member, and sending there is not_joined.
    expect((await ok(alice, 'rooms:list', {})).rooms.map((r: { room: string }) => r.room)).toEqual(['r0', 'r1', 'r2']);
    expect(await call(alice, 'message:send', { room: 'r3', text: 'hi', clientId: 'c1' })).toMatchObject({ ok: false, error: { code: 'not_joined' } });
    // A room already joined takes no new slot.
    await ok(alice, 'room:join', { room: 'r1' });
    await ok(alice, 'room:leave', { room: 'r0' });
    await ok(alice, 'room:join', { room: 'r3' });
  });

  it('holds under joins sent all at once', async () => {
    const { url } = await startServer({ maxRoomsPerConnection: 3 });
    const alice = await connect(url, 'alice');
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => call(alice, 'room:join', { room: `r${i}` })));
    expect(answers.filter((a) => a.ok)).toHaveLength(3);
    for (const a of answers.filter((a) => !a.ok)) expect(a).toMatchObject({ error: { code: 'too_large' } });
    expect((await ok(alice, 'rooms:list', {})).rooms).toHaveLength(3);
  });

  it('counts each connection on its own', async () => {
    const { url } = await startServer({ maxRoomsPerConnection: 1 });
    const a1 = await connect(url, 'alice');
    const a2 = await connect(url, 'alice');
    await ok(a1, 'room:join', { room: 'one' });
    await ok(a2, 'room:join', { room: 'two' });
  });
});

describe('rate limits as set', () => {
  it('typing: past the limit answers rate_limited with retryAfterMs, and relays nothing more', async () => {
    const { url } = await startServer({ limits: true, rateLimits: rules('typing', 3) });
    const alice = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'lobby' });
    const relayed = collect<TypingEvent>(bob, 'typing');
    for (let i = 0; i < 3; i++) await ok(alice, 'typing', { room: 'lobby', typing: i % 2 === 0 });
    const over = await call(alice, 'typing', { room: 'lobby', typing: true });
    expect(over).toMatchObject({ ok: false, error: { code: 'rate_limited', retryAfterMs: expect.any(Number) } });
    // Bob's own budget is untouched, and what he sends reaches Alice after all of hers reached him.
    await ok(bob, 'typing', { room: 'lobby', typing: true });
    await ok(bob, 'rooms:list', {});
    expect(relayed.items).toHaveLength(3);
  });

  it('sends, joins and connections per address follow their settings', async () => {
    const { url } = await startServer({ limits: true, rateLimits: { ...rules('send', 2), join: { points: 2, durationSec: 60 }, connect: { points: 2, durationSec: 60 } } });
    const alice = await connect(url, 'alice');
    await ok(alice, 'room:join', { room: 'a' });
    await ok(alice, 'room:join', { room: 'b' });
    expect(await call(alice, 'room:join', { room: 'c' })).toMatchObject({ ok: false, error: { code: 'rate_limited' } });
    await ok(alice, 'message:send', { room: 'a', text: '1', clientId: 'c1' });
    await ok(alice, 'message:send', { room: 'a', text: '2', clientId: 'c2' });
    expect(await call(alice, 'message:send', { room: 'a', text: '3', clientId: 'c3' })).toMatchObject({ ok: false, error: { code: 'rate_limited' } });
    await connect(url, 'bob');
    expect(await refusal(client(url, { name: 'carol' }))).toBe('rate_limited');
  });
});

describe('read limit (LIMIT_READ)', () => {
  it('counts room:history, room:changes and rooms:list together per user, answering rate_limited with retryAfterMs past it', async () => {
    const { url } = await startServer({ limits: true, rateLimits: rules('read', 3) });
    const alice = await connect(url, 'alice');
    const aliceAgain = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    await ok(alice, 'room:history', { room: 'lobby' });
    await ok(alice, 'room:changes', { room: 'lobby', after: 0 });
    await ok(alice, 'rooms:list', {});
    for (const [event, payload] of [
      ['room:history', { room: 'lobby' }],
      ['room:changes', { room: 'lobby', after: 0 }],
      ['rooms:list', {}],
    ] as const) {
      expect(await call(alice, event, payload)).toEqual({
        ok: false,
        error: { code: 'rate_limited', message: expect.any(String), retryAfterMs: expect.any(Number) },
      });
    }
    // Another connection of the same user shares the budget; another user has one of their own.
    expect(await call(aliceAgain, 'rooms:list', {})).toMatchObject({ ok: false, error: { code: 'rate_limited' } });
    await ok(bob, 'room:history', { room: 'lobby' });
    // A malformed read is refused for its shape, whatever the budget.
    expect(await call(alice, 'room:history', { room: 7 })).toMatchObject({ ok: false, error: { code: 'invalid_payload' } });
  });

  it('counts the HTTP read routes per address in open mode: 429 rate_limited with Retry-After past it', async () => {
    const { url } = await startServer({ limits: true, rateLimits: rules('read', 3) });
    for (const path of ['/api/rooms', '/api/rooms/lobby/messages', '/api/rooms/lobby/changes']) expect((await fetch(url + path)).status).toBe(200);
    for (const path of ['/api/rooms', '/api/rooms/lobby/messages?limit=5', '/api/rooms/lobby/changes?after=0']) {
      const res = await fetch(url + path);
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await res.json()).toEqual({ error: { code: 'rate_limited', message: expect.any(String), retryAfterMs: expect.any(Number) } });
    }
    // Writes have their own budget.
    const post = await fetch(`${url}/api/rooms/lobby/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'alice', text: 'hi', clientId: 'c1' }),
    });
    expect(post.status).toBe(201);
  });

  it('with TRUST_PROXY counts an anonymous HTTP read by the balancer\'s X-Forwarded-For entry, not one the client put first', async () => {
    const { url } = await startServer({ limits: true, trustProxy: true, rateLimits: rules('read', 1) });
    const get = (xff: string) => fetch(`${url}/api/rooms`, { headers: { 'x-forwarded-for': xff } });
    expect((await get('203.0.113.1')).status).toBe(200);
    expect((await get('198.51.100.9, 203.0.113.1')).status).toBe(429);
    expect((await get('203.0.113.2')).status).toBe(200);
  });
});

describe('connections per address (MAX_CONNECTIONS_PER_ADDRESS)', () => {
  it('refuses a connection past the bound with connect_error rate_limited, and a closed one frees its place', async () => {
    // A connection rate that the polling below cannot reach.
    const { url } = await startServer({ limits: true, maxConnectionsPerAddress: 2, rateLimits: rules('connect', 10_000) });
    const first = await connect(url, 'alice');
    await connect(url, 'bob');
    expect(await refusal(client(url, { name: 'carol' }))).toBe('rate_limited');
    first.disconnect();
    await until('the closed connection to free its place', async () => (await refusal(client(url, { name: 'carol' })).catch(() => 'connected')) === 'connected', 5000);
  });

  it('counts by the balancer\'s X-Forwarded-For entry with TRUST_PROXY, which an entry the client put first does not dodge', async () => {
    const { url } = await startServer({ limits: true, trustProxy: true, maxConnectionsPerAddress: 1 });
    const via = (xff: string) => ({ extraHeaders: { 'x-forwarded-for': xff } });
    await connect(url, 'alice', via('203.0.113.1'));
    await connect(url, 'bob', via('203.0.113.2'));
    expect(await refusal(client(url, { name: 'carol' }, via('198.51.100.9, 203.0.113.1')))).toBe('rate_limited');
  });
});

describe('size limits as set', () => {
  it('MAX_FRAME_BYTES: announced in the open packet; a larger frame closes that connection only', async () => {
    const { url } = await startServer({ maxFrameBytes: 4096 });
    const bystander = await connect(url, 'bystander');
    const wire = await WireClient.open(url);
    expect(JSON.parse((wire.frames[0] as string).slice(1)).maxPayload).toBe(4096);
    wire.send('40{"name":"w"}');
    await wire.next((f) => typeof f === 'string' && f.startsWith('40'));
    wire.emit('rooms:list', { pad: 'x'.repeat(3000) }, 1);
    expect(await wire.ack(1)).toMatchObject({ ok: true });
    wire.emit('rooms:list', { pad: 'x'.repeat(5000) }, 2);
    await wire.waitClosed();
    await ok(bystander, 'rooms:list', {});
  });

  it('MAX_BODY_BYTES: a larger HTTP body answers 413 too_large', async () => {
    const { url } = await startServer({ maxBodyBytes: 1024 });
    const post = (pad: number) =>
      fetch(`${url}/api/rooms/lobby/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'alice', text: 'hi', clientId: `c${pad}`, pad: 'x'.repeat(pad) }),
      });
    expect((await post(500)).status).toBe(201);
    const big = await post(2000);
    expect(big.status).toBe(413);
    expect(await big.json()).toEqual({ error: { code: 'too_large', message: expect.any(String) } });
  });
});
