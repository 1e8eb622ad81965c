import type { OutboxEntry, SendStatus } from '../../client/sdk';
import { createMemoryBackend } from '../../server/backend';
import { AppError, UnavailableError } from '../../server/errors';
import type { RateLimits } from '../../server/limits';
import { collect, waitFor } from '../helpers/events';
import { startServer, type TestServer } from '../helpers/server';
import { dropConnection, handshakeGate, sdkClient, serverSockets } from './sdk';

/** Every `message:send` payload that reached the server, and a way to tamper with the next answers. */
function watchSends(server: TestServer) {
  const clientIds: string[] = [];
  /** Replaces the ack of the next send(s): called with the server socket once the message is stored. */
  const instead: Array<(socket: { conn: { close(): void } }) => void> = [];
  server.app.io.on('connection', (socket) => {
    socket.use((packet, next) => {
      if (packet[0] === 'message:send') {
        clientIds.push((packet[1] as { clientId: string }).clientId);
        const replace = instead.shift();
        if (replace && typeof packet[packet.length - 1] === 'function') packet[packet.length - 1] = () => replace(socket);
      }
      next();
    });
  });
  return { clientIds, instead };
}

/** The statuses an entry went through, by clientId. */
function statusesOf(entries: OutboxEntry[], clientId: string): SendStatus[] {
  return entries.filter((e) => e.clientId === clientId).map((e) => e.status);
}

describe('SDK outbox', () => {
  it('keeps sends made while disconnected and delivers them after the reconnect, once each, in order', async () => {
    const server = await startServer();
    const gate = handshakeGate(server, 'bob');
    const bob = sdkClient(server.url, 'bob');
    const alice = sdkClient(server.url, 'alice');
    await Promise.all([bob.join('lobby'), alice.join('lobby')]);
    const aliceSees = collect(alice, 'message');
    const bobSees = collect(bob, 'message');

    gate.hold();
    await dropConnection(server, bob);
    const changes = collect<OutboxEntry>(bob, 'outbox');
    const one = bob.send('lobby', 'one');
    const two = bob.send('lobby', 'two');
    expect(bob.pending('lobby').map((e) => [e.clientId, e.status])).toEqual([
      [one.clientId, 'queued'],
      [two.clientId, 'queued'],
    ]);
    gate.release();

    const [m1, m2] = await Promise.all([one, two]);
    expect([m1.seq, m2.seq]).toEqual([1, 2]);
    expect(m1.clientId).toBe(one.clientId);
    await alice.send('lobby', 'three');
    await aliceSees.until(3);
    await bobSees.until(3);
    expect(aliceSees.items.map((m) => m.text)).toEqual(['one', 'two', 'three']);
    expect(bobSees.items.map((m) => m.text)).toEqual(['one', 'two', 'three']);
    expect(statusesOf(changes.items, one.clientId)).toEqual(['queued', 'sending', 'sent']);
    expect(statusesOf(changes.items, two.clientId)).toEqual(['queued', 'sending', 'sent']);
    expect(bob.pending()).toEqual([]);
  });

  it('resends with the same clientId when the answer is lost with the connection, and the message arrives once', async () => {
    const server = await startServer();
    const sends = watchSends(server);
    const bob = sdkClient(server.url, 'bob');
    const alice = sdkClient(server.url, 'alice');
    await Promise.all([bob.join('lobby'), alice.join('lobby')]);
    const bobSees = collect(bob, 'message');
    const aliceSees = collect(alice, 'message');
    const changes = collect<OutboxEntry>(bob, 'outbox');

    // Stored, then the transport closes instead of the answer going out.
    sends.instead.push((socket) => socket.conn.close());
    const sending = bob.send('lobby', 'exactly once');
    const message = await sending;

    expect(sends.clientIds).toEqual([sending.clientId, sending.clientId]);
    expect(message).toMatchObject({ seq: 1, text: 'exactly once', clientId: sending.clientId });
    expect(await server.backend.store.lastSeqs(['lobby'])).toEqual([1]);
    expect(statusesOf(changes.items, sending.clientId)).toEqual(['queued', 'sending', 'queued', 'sending', 'sent']);
    expect(changes.items.at(-1)?.attempts).toBe(2);

    await alice.send('lobby', 'next');
    await bobSees.until(2);
    await aliceSees.until(2);
    expect(bobSees.items.map((m) => m.text)).toEqual(['exactly once', 'next']);
    expect(aliceSees.items.map((m) => m.text)).toEqual(['exactly once', 'next']);
  });

  it('resends with the same clientId when no answer comes in time', async () => {
    const server = await startServer();
    const sends = watchSends(server);
    const bob = sdkClient(server.url, 'bob', { ackTimeoutMs: 200 });
    await bob.join('lobby');
    const bobSees = collect(bob, 'message');

    // Stored and broadcast, but the answer never leaves the server.
    sends.instead.push(() => {});
    const sending = bob.send('lobby', 'slow');
    const message = await sending;
    expect(sends.clientIds).toEqual([sending.clientId, sending.clientId]);
    expect(message.seq).toBe(1);
    const after = await bob.send('lobby', 'after');
    expect(after.seq).toBe(2);
    await bobSees.until(2);
    expect(bobSees.items.map((m) => m.text)).toEqual(['slow', 'after']);
  });

  it('rejects sends refused for good, marks them failed, and goes on with the next', async () => {
    const server = await startServer();
    const bob = sdkClient(server.url, 'bob');
    await bob.join('lobby');
    const blank = bob.send('lobby', '   ');
    const long = bob.send('lobby', 'x'.repeat(2001));
    const fine = bob.send('lobby', 'fine');
    await expect(blank).rejects.toMatchObject({ name: 'ParleyError', code: 'invalid_payload' });
    await expect(long).rejects.toMatchObject({ code: 'too_large' });
    expect((await fine).seq).toBe(1);
    expect(bob.pending('lobby').map((e) => [e.clientId, e.status, e.error?.code])).toEqual([
      [blank.clientId, 'failed', 'invalid_payload'],
      [long.clientId, 'failed', 'too_large'],
    ]);

    const again = bob.retry(long.clientId);
    expect(again?.clientId).toBe(long.clientId);
    await expect(again).rejects.toMatchObject({ code: 'too_large' });
    expect(bob.discard(blank.clientId)).toBe(true);
    expect(bob.discard(long.clientId)).toBe(true);
    expect(bob.pending()).toEqual([]);
  });

  it('retries after unavailable with backoff, with the same clientId', async () => {
    const server = await startServer();
    const { store } = server.backend;
    const append = store.append.bind(store);
    const tried: string[] = [];
    // The store cannot be reached for the first two sends (as a Redis outage answers).
    store.append = async (input) => {
      tried.push(input.clientId);
      if (tried.length <= 2) throw new UnavailableError('store down', 10);
      return append(input);
    };
    const bob = sdkClient(server.url, 'bob');
    await bob.join('lobby');
    const changes = collect<OutboxEntry>(bob, 'outbox');
    const sending = bob.send('lobby', 'eventually');
    expect((await sending).seq).toBe(1);
    expect(tried).toEqual([sending.clientId, sending.clientId, sending.clientId]);
    expect(statusesOf(changes.items, sending.clientId)).toEqual(['queued', 'sending', 'queued', 'sending', 'queued', 'sending', 'sent']);
  });

  it('waits retryAfterMs after rate_limited, then sends', async () => {
    let refusals = 1;
    const limits: RateLimits = {
      consume: async (kind) => {
        if (kind === 'send' && refusals-- > 0) throw new AppError('rate_limited', 'slow down', 30);
      },
    };
    const server = await startServer({ backend: { ...createMemoryBackend({ historyMax: 100, limits: false }), limits } });
    const bob = sdkClient(server.url, 'bob');
    await bob.join('lobby');
    const changes = collect<OutboxEntry>(bob, 'outbox');
    const sending = bob.send('lobby', 'patient');
    expect((await sending).seq).toBe(1);
    expect(changes.items.at(-1)).toMatchObject({ status: 'sent', attempts: 2 });
  });

  it('re-joins and resends when the server answers not_joined', async () => {
    const server = await startServer();
    const bob = sdkClient(server.url, 'bob');
    const alice = sdkClient(server.url, 'alice');
    await Promise.all([bob.join('lobby'), alice.join('lobby')]);
    const aliceSees = collect(alice, 'message');
    // The server forgets bob's join, as an instance that has not seen it yet would.
    const [socket] = serverSockets(server, 'bob');
    socket.data.rooms.delete('lobby');
    await socket.leave('lobby');

    const rejoined = waitFor(bob, 'joined', (info) => info.rejoin);
    const sending = bob.send('lobby', 'still here');
    expect((await sending).seq).toBe(1);
    await rejoined;
    await alice.send('lobby', 'next');
    await aliceSees.until(2);
    expect(aliceSees.items.map((m) => m.text)).toEqual(['still here', 'next']);
  });

  it('stores a burst of sends to one room in the order they were made', async () => {
    const server = await startServer();
    const bob = sdkClient(server.url, 'bob');
    await bob.join('lobby');
    const texts = Array.from({ length: 20 }, (_, i) => `burst ${i}`);
    const messages = await Promise.all(texts.map((t) => bob.send('lobby', t)));
    expect(messages.map((m) => m.text)).toEqual(texts);
    expect(messages.map((m) => m.seq)).toEqual(texts.map((_, i) => i + 1));
  });

  it('rejects what is pending with closed when the client closes', async () => {
    const server = await startServer();
    const gate = handshakeGate(server, 'bob');
    const bob = sdkClient(server.url, 'bob');
    await bob.join('lobby');
    gate.hold();
    await dropConnection(server, bob);
    const sending = bob.send('lobby', 'never');
    const joining = bob.join('other');
    bob.close();
    await expect(sending).rejects.toMatchObject({ code: 'closed' });
    await expect(joining).rejects.toMatchObject({ code: 'closed' });
    expect(bob.status).toBe('offline');
    gate.release();
  });
});
