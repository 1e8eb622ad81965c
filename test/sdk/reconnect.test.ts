import { createMemoryBackend } from '../../server/backend';
import { collect, waitFor } from '../helpers/events';
import { startServer } from '../helpers/server';
import { awayWhile, dropConnection, handshakeGate, sdkClient, seqs, storeQuietly } from './sdk';
import type { JoinInfo, ParleyClient, SkippedEvent } from '../../client/sdk';

/** What `client` hands over from now on, in order: the seq of each message, and each skip. */
function handovers(client: ParleyClient): Array<number | SkippedEvent> {
  const items: Array<number | SkippedEvent> = [];
  client.on('message', (message) => items.push(message.seq));
  client.on('skipped', (skipped) => items.push(skipped));
  return items;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('SDK across reconnects', () => {
  it('re-joins with since after the transport drops and hands over what it missed, once, in order', async () => {
    const server = await startServer();
    const gate = handshakeGate(server, 'bob');
    const bob = sdkClient(server.url, 'bob');
    const alice = sdkClient(server.url, 'alice');
    await Promise.all([bob.join('lobby'), alice.join('lobby')]);
    const seen = collect(bob, 'message');
    await alice.send('lobby', 'before');
    await seen.until(1);

    gate.hold();
    const statuses = collect(bob, 'status');
    const rejoined = waitFor<JoinInfo>(bob, 'joined', (info) => info.rejoin);
    await dropConnection(server, bob);
    await alice.send('lobby', 'while away 1');
    await alice.send('lobby', 'while away 2');
    await statuses.until(1);
    expect(bob.status).toBe('reconnecting');
    gate.release();

    expect(await rejoined).toMatchObject({ room: 'lobby', seq: 3, rejoin: true });
    await alice.send('lobby', 'after');
    await seen.until(4);
    expect(seen.items.map((m) => m.text)).toEqual(['before', 'while away 1', 'while away 2', 'after']);
    expect(seqs(seen.items)).toEqual([1, 2, 3, 4]);
    expect(statuses.items).toEqual(['reconnecting', 'connected']);
    expect(bob.members('lobby').map((u) => u.id).sort()).toEqual(['alice', 'bob']);
  });

  it('pages on with room:changes after a re-join that missed more than one page', async () => {
    const server = await startServer();
    const gate = handshakeGate(server, 'bob');
    const bob = sdkClient(server.url, 'bob');
    await bob.join('lobby');
    const seen = collect(bob, 'message');

    const rejoined = await awayWhile(server, gate, bob, 'lobby', async () => {
      // More than a page of room:changes (500).
      for (let i = 1; i <= 777; i++) await storeQuietly(server, 'lobby', `m${i}`);
    });
    expect(rejoined.seq).toBe(777);
    expect(seqs(seen.items)).toEqual(Array.from({ length: 777 }, (_, i) => i + 1));
  });

  it('skips what the server no longer keeps after a long absence, and goes on live', async () => {
    const server = await startServer({ historyMax: 10 });
    const gate = handshakeGate(server, 'bob');
    const bob = sdkClient(server.url, 'bob');
    await bob.join('lobby');
    const seen = collect(bob, 'message');

    const rejoined = await awayWhile(server, gate, bob, 'lobby', async () => {
      for (let i = 1; i <= 30; i++) await storeQuietly(server, 'lobby', `m${i}`);
    });
    // 1..20 were trimmed from history: the sequence resumes at the oldest kept.
    expect(rejoined.seq).toBe(30);
    const alice = sdkClient(server.url, 'alice');
    await alice.join('lobby');
    await alice.send('lobby', 'live');
    await seen.until(11);
    expect(seqs(seen.items)).toEqual([21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31]);
  });

  it('tells skipped with exactly what history no longer keeps after a long absence, then the kept messages, once each', async () => {
    // The smallest HISTORY_MAX a deployment may set.
    const server = await startServer({ historyMax: 100 });
    const gate = handshakeGate(server, 'bob');
    const bob = sdkClient(server.url, 'bob');
    const alice = sdkClient(server.url, 'alice');
    await Promise.all([bob.join('lobby'), alice.join('lobby')]);
    const seen = collect(bob, 'message');
    const handed = handovers(bob);
    await alice.send('lobby', 'one');
    await alice.send('lobby', 'two');
    await seen.until(2);

    const rejoined = await awayWhile(server, gate, bob, 'lobby', async () => {
      // 3..252 stored while bob is away; the server keeps 153..252.
      for (let i = 3; i <= 252; i++) await storeQuietly(server, 'lobby', `m${i}`);
    });
    expect(rejoined.seq).toBe(252);
    await alice.send('lobby', 'live');
    await seen.until(103);
    expect(handed).toEqual([1, 2, { room: 'lobby', from: 3, to: 152 }, ...range(153, 253)]);
  });

  it('tells skipped when a live message leads to a gap that history was trimmed past', async () => {
    const server = await startServer({ historyMax: 100 });
    const bob = sdkClient(server.url, 'bob');
    await bob.join('lobby');
    const seen = collect(bob, 'message');
    const handed = handovers(bob);
    // 1..150 stored without a broadcast.
    for (let i = 1; i <= 150; i++) await storeQuietly(server, 'lobby', `m${i}`);
    const alice = sdkClient(server.url, 'alice');
    await alice.join('lobby');
    // 151 comes live and early, and the server now keeps 52..151: the gap before it is read from history.
    await alice.send('lobby', 'live');
    await seen.until(100);
    await alice.send('lobby', 'next');
    await seen.until(101);
    expect(handed).toEqual([{ room: 'lobby', from: 1, to: 51 }, ...range(52, 152)]);
  });

  it('comes back to an instance restarted on the same port, with what was stored meanwhile and what it sent meanwhile', async () => {
    // One backend for both instances, as Redis would be.
    const backend = createMemoryBackend({ historyMax: 10_000, limits: false });
    const first = await startServer({ backend, instanceId: 'first' });
    const bob = sdkClient(first.url, 'bob');
    const alice = sdkClient(first.url, 'alice');
    await Promise.all([bob.join('lobby'), alice.join('lobby')]);
    const bobSees = collect(bob, 'message');
    const aliceSees = collect(alice, 'message');
    expect(bob.session).toEqual({ user: { id: 'bob', name: 'bob' }, instanceId: 'first' });

    const down = waitFor(bob, 'status', (s) => s === 'reconnecting');
    await first.app.close();
    await down;
    await storeQuietly(first, 'lobby', 'stored while down');
    const sending = bob.send('lobby', 'sent while down');
    expect(bob.pending('lobby').map((e) => e.status)).toEqual(['queued']);

    await startServer({ backend, port: first.port, instanceId: 'second' });
    const message = await sending;
    expect(message).toMatchObject({ seq: 2, text: 'sent while down', clientId: sending.clientId });
    await alice.send('lobby', 'back');
    await bobSees.until(3);
    await aliceSees.until(3);
    for (const seen of [bobSees, aliceSees]) {
      expect(seen.items.map((m) => m.text)).toEqual(['stored while down', 'sent while down', 'back']);
    }
    expect(bob.session?.instanceId).toBe('second');
    expect(bob.pending()).toEqual([]);
  });
});

