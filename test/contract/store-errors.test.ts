import type { Message } from '../../protocol';
import { createMemoryBackend, type Backend } from '../../server/backend';
import { UnavailableError } from '../../server/errors';
import type { MessageStore } from '../../server/store/types';
import { call, collect, ok } from '../helpers/events';
import { connect, startServer, type ClientSocket } from '../helpers/server';

/**
 * The in-memory backend with a switch on its store: `fail('unreachable')`
 * makes every store call reject as a store across the network does when it
 * cannot be reached (`UnavailableError`), `fail('bug')` with a plain Error,
 * `fail(undefined)` puts it back. The single-instance server never loses its
 * store; these are the contract's `unavailable` and `internal` answers.
 */
function switchableBackend() {
  const base = createMemoryBackend({ historyMax: 1000, limits: false });
  let failure: 'unreachable' | 'bug' | undefined;
  const store = new Proxy(base.store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        if (failure === 'unreachable') throw new UnavailableError();
        if (failure === 'bug') throw new Error('a bug with a secret stack');
        return value.apply(target, args);
      };
    },
  }) as MessageStore;
  const backend: Backend = { ...base, store };
  return { backend, fail: (f: typeof failure) => (failure = f) };
}

/** Resolves once every event emitted to `socket` before now has arrived. */
const barrier = (socket: ClientSocket) => ok(socket, 'rooms:list', {});

describe('a store that cannot be reached', () => {
  it('answers message:send with unavailable and a retryAfterMs, stores and broadcasts nothing; a retry with the same clientId stores once', async () => {
    const { backend, fail } = switchableBackend();
    const { url } = await startServer({ backend });
    const alice = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'lobby' });
    const seen = collect<Message>(bob, 'message');
    fail('unreachable');
    const answer = await call(alice, 'message:send', { room: 'lobby', text: 'hello', clientId: 'retry-me' });
    expect(answer).toEqual({ ok: false, error: { code: 'unavailable', message: expect.any(String), retryAfterMs: expect.any(Number) } });
    expect(!answer.ok && answer.error.retryAfterMs).toBeGreaterThan(0);
    fail(undefined);
    await barrier(bob);
    expect(seen.items).toEqual([]);

    const first = await ok(alice, 'message:send', { room: 'lobby', text: 'hello', clientId: 'retry-me' });
    const again = await ok(alice, 'message:send', { room: 'lobby', text: 'hello', clientId: 'retry-me' });
    expect(first.message.seq).toBe(1);
    expect(again.message).toEqual(first.message);
    await seen.until(1);
    await barrier(bob);
    expect(seen.items).toEqual([first.message]);
  });

  it('answers room:join with unavailable, leaves the socket out of the room and announces nothing', async () => {
    const { backend, fail } = switchableBackend();
    const { url } = await startServer({ backend });
    const alice = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    await ok(bob, 'room:join', { room: 'lobby' });
    const presence = collect(bob, 'presence');
    fail('unreachable');
    expect(await call(alice, 'room:join', { room: 'lobby' })).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    fail(undefined);
    await barrier(bob);
    expect(presence.items).toEqual([]);
    expect((await ok(alice, 'rooms:list', {})).rooms).toEqual([{ room: 'lobby', members: 1, seq: 0 }]);
    const send = await call(alice, 'message:send', { room: 'lobby', text: 'hi', clientId: 'c1' });
    expect(send).toMatchObject({ ok: false, error: { code: 'not_joined' } });
    // A retry starts clean.
    const retry = await ok(alice, 'room:join', { room: 'lobby' });
    expect(retry.members).toHaveLength(2);
    await presence.until(1);
    expect(presence.items).toEqual([{ room: 'lobby', event: 'join', user: { id: 'alice', name: 'alice' }, members: 2, version: expect.any(Number) }]);
  });

  it('answers room:history with unavailable', async () => {
    const { backend, fail } = switchableBackend();
    const { url } = await startServer({ backend });
    const alice = await connect(url, 'alice');
    fail('unreachable');
    expect(await call(alice, 'room:history', { room: 'lobby' })).toMatchObject({ ok: false, error: { code: 'unavailable' } });
  });

  it('answers the HTTP routes with 503 unavailable and Retry-After', async () => {
    const { backend, fail } = switchableBackend();
    const { url } = await startServer({ backend });
    fail('unreachable');
    const read = await fetch(`${url}/api/rooms/lobby/messages`);
    expect(read.status).toBe(503);
    expect(Number(read.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await read.json()).toEqual({ error: { code: 'unavailable', message: expect.any(String), retryAfterMs: expect.any(Number) } });
    const write = await fetch(`${url}/api/rooms/lobby/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bot', text: 'hi', clientId: 'h1' }),
    });
    expect(write.status).toBe(503);
    expect(await write.json()).toMatchObject({ error: { code: 'unavailable' } });
  });
});

describe('an unexpected failure', () => {
  it('answers internal with no detail to the socket, and the instance keeps serving', async () => {
    const { backend, fail } = switchableBackend();
    const { url } = await startServer({ backend });
    const alice = await connect(url, 'alice');
    await ok(alice, 'room:join', { room: 'lobby' });
    fail('bug');
    const answer = await call(alice, 'message:send', { room: 'lobby', text: 'hi', clientId: 'c1' });
    expect(answer).toEqual({ ok: false, error: { code: 'internal', message: 'internal error' } });
    expect(JSON.stringify(answer)).not.toContain('secret');
    fail(undefined);
    await ok(alice, 'message:send', { room: 'lobby', text: 'hi', clientId: 'c1' });
  });

  it('answers HTTP with 500 internal and no stack trace', async () => {
    const { backend, fail } = switchableBackend();
    const { url } = await startServer({ backend });
    fail('bug');
    const res = await fetch(`${url}/api/rooms/lobby/messages`);
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(JSON.parse(body)).toEqual({ error: { code: 'internal', message: 'internal error' } });
    expect(body).not.toContain('secret');
  });
});
