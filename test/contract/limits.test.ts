import type { Answer, Message } from '../../protocol';
import { call, ok } from '../helpers/events';
import { client, connect, startServer } from '../helpers/server';

/** Fires `count` sends at once and resolves with every answer. */
function burst(socket: Parameters<typeof call>[0], room: string, count: number, prefix = 'b'): Promise<Answer<{ message: Message }>[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) => call<{ message: Message }>(socket, 'message:send', { room, text: `${prefix}${i}`, clientId: `${prefix}${i}` })),
  );
}

/**
 * Opens `count` connections (a few at a time, each closed once it is
 * answered) with the given headers; resolves with how many connected and the
 * connect_error messages of the others.
 */
async function connectMany(url: string, count: number, headers: Record<string, string> = {}) {
  let connected = 0;
  const refused: string[] = [];
  for (let done = 0; done < count; ) {
    const batch = Math.min(20, count - done);
    await Promise.all(
      Array.from({ length: batch }, (_, i) => {
        const socket = client(url, { name: `c${done + i}` }, { extraHeaders: headers });
        return new Promise<void>((resolve) => {
          socket.once('connect', () => {
            connected++;
            socket.disconnect();
            resolve();
          });
          socket.once('connect_error', (err) => {
            refused.push(err.message);
            resolve();
          });
          socket.connect();
        });
      }),
    );
    done += batch;
  }
  return { connected, refused };
}

describe('rate limits (LIMITS on)', () => {
  it('answers a burst of sends with rate_limited and a retryAfterMs > 0 past the limit, storing nothing for those', async () => {
    const { url } = await startServer({ limits: true });
    const alice = await connect(url, 'alice');
    await ok(alice, 'room:join', { room: 'lobby' });
    const answers = await burst(alice, 'lobby', 60);
    const accepted = answers.filter((a) => a.ok);
    const limited = answers.filter((a): a is Extract<typeof a, { ok: false }> => !a.ok);
    expect(limited.length).toBeGreaterThan(0);
    expect(accepted.length).toBeGreaterThan(0);
    for (const a of limited) {
      expect(a.error.code).toBe('rate_limited');
      expect(a.error.retryAfterMs).toBeGreaterThan(0);
    }
    const history = await ok(alice, 'room:history', { room: 'lobby', limit: 100 });
    expect(history.messages).toHaveLength(accepted.length);
  });

  it('limits each user on its own: another user can still send', async () => {
    const { url } = await startServer({ limits: true });
    const alice = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'lobby' });
    const answers = await burst(alice, 'lobby', 60);
    expect(answers.some((a) => !a.ok)).toBe(true);
    await ok(bob, 'message:send', { room: 'lobby', text: 'still me', clientId: 'b1' });
  });

  it('answers POST over the limit with 429 rate_limited, retryAfterMs and Retry-After', async () => {
    const { url } = await startServer({ limits: true });
    const statuses: number[] = [];
    let limited: { headers: Headers; body: any } | undefined;
    for (let i = 0; i < 60 && !limited; i++) {
      const res = await fetch(`${url}/api/rooms/lobby/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'bot', text: `t${i}`, clientId: `c${i}` }),
      });
      statuses.push(res.status);
      if (res.status === 429) limited = { headers: res.headers, body: await res.json() };
      else await res.arrayBuffer();
    }
    expect(statuses[0]).toBe(201);
    expect(limited).toBeDefined();
    expect(limited!.body).toEqual({ error: { code: 'rate_limited', message: expect.any(String), retryAfterMs: expect.any(Number) } });
    expect(limited!.body.error.retryAfterMs).toBeGreaterThan(0);
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('answers a burst of joins with rate_limited past the limit', async () => {
    const { url } = await startServer({ limits: true });
    const alice = await connect(url, 'alice');
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => call(alice, 'room:join', { room: `r${i}` })));
    const limited = answers.filter((a) => !a.ok);
    expect(limited.length).toBeGreaterThan(0);
    for (const a of limited) expect(a).toMatchObject({ ok: false, error: { code: 'rate_limited', retryAfterMs: expect.any(Number) } });
  });

  it('refuses connections from one address past the limit with connect_error "rate_limited", X-Forwarded-For or not (no TRUST_PROXY)', async () => {
    const { url } = await startServer({ limits: true, trustProxy: false });
    const { connected, refused } = await connectMany(url, 140);
    expect(connected).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    expect(new Set(refused)).toEqual(new Set(['rate_limited']));
    // Without TRUST_PROXY the header is anybody's to forge: it must not open a new allowance.
    const forged = await connectMany(url, 1, { 'x-forwarded-for': '203.0.113.9' });
    expect(forged).toEqual({ connected: 0, refused: ['rate_limited'] });
  });

  it('with TRUST_PROXY, counts connections per X-Forwarded-For address', async () => {
    const { url } = await startServer({ limits: true, trustProxy: true });
    const first = await connectMany(url, 140, { 'x-forwarded-for': '203.0.113.1' });
    expect(first.refused.length).toBeGreaterThan(0);
    const other = await connectMany(url, 5, { 'x-forwarded-for': '203.0.113.2' });
    expect(other).toEqual({ connected: 5, refused: [] });
  });

  it('with TRUST_PROXY, takes the address the balancer appended, not one the client put before it', async () => {
    const { url } = await startServer({ limits: true, trustProxy: true });
    const first = await connectMany(url, 140, { 'x-forwarded-for': '203.0.113.1' });
    expect(first.refused.length).toBeGreaterThan(0);
    // The client forged a leading entry; the balancer appended the real address.
    const forged = await connectMany(url, 1, { 'x-forwarded-for': '198.51.100.7, 203.0.113.1' });
    expect(forged).toEqual({ connected: 0, refused: ['rate_limited'] });
  });

  it('keeps the size limits', async () => {
    const { url } = await startServer({ limits: true });
    const alice = await connect(url, 'alice');
    await ok(alice, 'room:join', { room: 'lobby' });
    const answer = await call(alice, 'message:send', { room: 'lobby', text: 'x'.repeat(2001), clientId: 'c1' });
    expect(answer).toMatchObject({ ok: false, error: { code: 'too_large' } });
  });
});

describe('LIMITS off', () => {
  it('lifts the send limit', async () => {
    const { url } = await startServer({ limits: false });
    const alice = await connect(url, 'alice');
    await ok(alice, 'room:join', { room: 'lobby' });
    const answers = await burst(alice, 'lobby', 100);
    expect(answers.filter((a) => !a.ok)).toEqual([]);
  });

  it('lifts the join limit', async () => {
    const { url } = await startServer({ limits: false });
    const alice = await connect(url, 'alice');
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => call(alice, 'room:join', { room: `r${i}` })));
    expect(answers.filter((a) => !a.ok)).toEqual([]);
  });

  it('lifts the per-address connection limit', async () => {
    const { url } = await startServer({ limits: false });
    expect(await connectMany(url, 140)).toEqual({ connected: 140, refused: [] });
  });

  it('keeps the size limits', async () => {
    const { url } = await startServer({ limits: false });
    const alice = await connect(url, 'alice');
    await ok(alice, 'room:join', { room: 'lobby' });
    const answer = await call(alice, 'message:send', { room: 'lobby', text: 'x'.repeat(2001), clientId: 'c1' });
    expect(answer).toMatchObject({ ok: false, error: { code: 'too_large' } });
  });
});
