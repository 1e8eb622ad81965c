import type { Message, OutboxEntry, ParleyClient } from '../../client/sdk';
import { collect, waitFor } from '../helpers/events';
import { startServer, type TestServer } from '../helpers/server';
import { awayWhile, changeQuietly, dropConnection, handshakeGate, sdkClient, serverSockets, storeQuietly } from './sdk';

/** What `client` hands over from now on, in order: `m<seq>@<rev>` for a message, `u<seq>@<rev>` for an update. */
function handovers(client: ParleyClient): string[] {
  const items: string[] = [];
  client.on('message', (m) => items.push(`m${m.seq}@${m.rev}`));
  client.on('update', (m) => items.push(`u${m.seq}@${m.rev}`));
  return items;
}

/** Every packet of `event` that reached the server (with the sender's user id), and a way to replace the answers of the next ones. */
function watch(server: TestServer, event: string) {
  const payloads: unknown[] = [];
  const senders: string[] = [];
  /** Called instead of the ack of the next packet(s), with the server socket and the answer. */
  const instead: Array<(socket: { conn: { close(): void } }, answer: unknown, ack: (answer: unknown) => void) => void> = [];
  server.app.io.on('connection', (socket) => {
    socket.use((packet, next) => {
      if (packet[0] === event) {
        payloads.push(packet[1]);
        senders.push(socket.data.identity?.user.id ?? '');
        const replace = instead.shift();
        const ack = packet[packet.length - 1];
        if (replace && typeof ack === 'function') packet[packet.length - 1] = (answer: unknown) => replace(socket, answer, ack as (a: unknown) => void);
      }
      next();
    });
  });
  return { payloads, senders, instead, by: (user: string) => payloads.filter((_, i) => senders[i] === user) };
}

describe('SDK changes to messages', () => {
  it('hands changes over live in rev order, holding out-of-order updates and dropping repeats', async () => {
    const server = await startServer();
    // A gap fill far away: only the live broadcasts can put things in order.
    const bob = sdkClient(server.url, 'bob', { gapFillMs: 60_000 });
    await bob.join('lobby');
    const m1 = await storeQuietly(server, 'lobby', 'one', 'alice');
    const liked = await changeQuietly(server, m1, { kind: 'react', reaction: '👍' }, 'bob');
    const edited = await changeQuietly(server, m1, { kind: 'edit', text: 'one!' });
    const loved = await changeQuietly(server, m1, { kind: 'react', reaction: '❤️' });
    const handed = handovers(bob);
    const updates = collect<Message>(bob, 'update');
    for (const m of [loved, liked, loved, edited]) server.app.io.to('lobby').emit('message:update', { message: m });
    server.app.io.to('lobby').emit('message', m1);
    server.app.io.to('lobby').emit('message:update', { message: liked });
    await updates.until(3);
    // A later change proves nothing else was coming.
    const alice = sdkClient(server.url, 'alice');
    await alice.join('lobby');
    const last = await alice.react('lobby', m1.id, '🎉');
    await updates.until(4);
    expect(handed).toEqual(['m1@1', 'u1@2', 'u1@3', 'u1@4', 'u1@5']);
    expect(updates.items.at(-1)).toEqual(last);
    expect(last).toMatchObject({ text: 'one!', reactions: { '👍': ['bob'], '❤️': ['alice'], '🎉': ['alice'] }, editedTs: expect.any(Number) });
    expect(bob.lastRev('lobby')).toBe(5);
  });

  it('fills a rev gap from room:changes, paging while hasMore, new messages first in seq order', async () => {
    const server = await startServer();
    const reads = watch(server, 'room:changes');
    const bob = sdkClient(server.url, 'bob');
    const alice = sdkClient(server.url, 'alice');
    await Promise.all([bob.join('lobby'), alice.join('lobby')]);
    const seen = collect<Message>(bob, 'message');
    const handed = handovers(bob);
    const first = await alice.send('lobby', 'first');
    await seen.until(1);
    // Missed by bob: 600 messages (more than a page of room:changes) and an edit of the first.
    for (let i = 2; i <= 601; i++) await storeQuietly(server, 'lobby', `m${i}`, 'carol');
    await changeQuietly(server, first, { kind: 'edit', text: 'first, edited' });
    // A live message after them shows the gap; it is stored before the gap is read, so it comes with the read.
    await alice.send('lobby', 'live');
    await seen.until(602);
    // New messages first, in seq order, then the change of the older one.
    expect(handed).toEqual(['m1@1', ...Array.from({ length: 600 }, (_, i) => `m${i + 2}@${i + 2}`), 'm602@603', 'u1@602']);
    expect(reads.by('bob')).toEqual([
      { room: 'lobby', after: 1, limit: 500 },
      { room: 'lobby', after: 501, limit: 500 },
    ]);
  });

  it('catches up after a re-join with what changed meanwhile, old messages included, each once in its latest state', async () => {
    const server = await startServer();
    const gate = handshakeGate(server, 'bob');
    const bob = sdkClient(server.url, 'bob');
    const alice = sdkClient(server.url, 'alice');
    await Promise.all([bob.join('lobby'), alice.join('lobby')]);
    const updates = collect<Message>(bob, 'update');
    const messages = collect<Message>(bob, 'message');
    const [m1, m2, m3] = [await alice.send('lobby', 'one'), await alice.send('lobby', 'two'), await alice.send('lobby', 'three')];
    await messages.until(3);
    const handed = handovers(bob);

    const latest = new Map<string, Message>();
    const info = await awayWhile(server, gate, bob, 'lobby', async () => {
      for (const change of [
        alice.edit('lobby', m1.id, 'one, edited'),
        alice.react('lobby', m2.id, '👍'),
        alice.send('lobby', 'four'),
        alice.remove('lobby', m3.id),
      ]) {
        const m = await change;
        latest.set(m.id, m);
      }
      const m4 = [...latest.values()].find((m) => m.text === 'four')!;
      latest.set(m4.id, await alice.edit('lobby', m4.id, 'four, edited'));
      latest.set(m1.id, await alice.react('lobby', m1.id, '🎉'));
    });
    // 4 (written at rev 6, edited at 8) comes once as a message; then the others' changes by rev: 2 (5), 3 (7), 1 (9).
    expect(handed).toEqual(['m4@8', 'u2@5', 'u3@7', 'u1@9']);
    expect(info).toMatchObject({ seq: 4, rev: 9, rejoin: true });
    for (const m of [...messages.items.slice(3), ...updates.items]) expect(m).toEqual(latest.get(m.id));
    expect(updates.items.find((m) => m.id === m3.id)).toMatchObject({ deleted: true, text: '', reactions: {} });
  });

  it('applies edits and reactions made offline once each when back, behind the sends before them', async () => {
    const server = await startServer();
    const gate = handshakeGate(server, 'bob');
    const bob = sdkClient(server.url, 'bob');
    const alice = sdkClient(server.url, 'alice');
    await Promise.all([bob.join('lobby'), alice.join('lobby')]);
    const hers = await alice.send('lobby', 'hello bob');
    const aliceSees = handovers(alice);
    const aliceUpdates = collect<Message>(alice, 'update');

    gate.hold();
    await dropConnection(server, bob);
    const changes = collect<OutboxEntry>(bob, 'outbox');
    const sent = bob.send('lobby', 'helo');
    const liked = bob.react('lobby', hers.id, '👍');
    const party = bob.react('lobby', hers.id, '🎉');
    const unliked = bob.unreact('lobby', hers.id, '👍');
    expect(bob.pending('lobby').map((e) => [e.kind, e.status, e.messageId, e.reaction])).toEqual([
      ['send', 'queued', undefined, undefined],
      ['react', 'queued', hers.id, '👍'],
      ['react', 'queued', hers.id, '🎉'],
      ['unreact', 'queued', hers.id, '👍'],
    ]);
    gate.release();

    const mine = await sent;
    // Made offline before the message was stored: queued behind the send, its id known now.
    const fixed = await bob.edit('lobby', mine.id, 'hello');
    await Promise.all([liked, party, unliked]);
    await aliceUpdates.until(4);
    expect(aliceSees).toEqual(['m2@2', 'u1@3', 'u1@4', 'u1@5', 'u2@6']);
    expect(aliceUpdates.items.at(-2)).toMatchObject({ id: hers.id, reactions: { '🎉': ['bob'] } });
    expect(aliceUpdates.items.at(-1)).toEqual(fixed);
    expect(fixed).toMatchObject({ text: 'hello', editedTs: expect.any(Number) });
    expect(changes.items.filter((e) => e.kind === 'unreact').map((e) => e.status)).toEqual(['queued', 'sending', 'sent']);
    expect(bob.pending()).toEqual([]);
  });

  it('resends a change whose answer was lost with the connection, and the server applies it once', async () => {
    const server = await startServer();
    const reacts = watch(server, 'reaction:add');
    const bob = sdkClient(server.url, 'bob');
    const alice = sdkClient(server.url, 'alice');
    await Promise.all([bob.join('lobby'), alice.join('lobby')]);
    const hers = await alice.send('lobby', 'hi');
    const aliceUpdates = collect<Message>(alice, 'update');

    // Applied, then the transport closes instead of the answer going out.
    reacts.instead.push((socket) => socket.conn.close());
    const liked = await bob.react('lobby', hers.id, '👍');
    expect(reacts.payloads).toHaveLength(2);
    expect(liked).toMatchObject({ rev: 2, reactions: { '👍': ['bob'] } });
    const next = await alice.edit('lobby', hers.id, 'hi all');
    await aliceUpdates.until(2);
    expect(aliceUpdates.items.map((m) => m.rev)).toEqual([2, 3]);
    expect(next).toMatchObject({ rev: 3, reactions: { '👍': ['bob'] } });
  });

  it('rejects changes refused for good, marks them failed, and goes on with the next', async () => {
    const server = await startServer();
    const bob = sdkClient(server.url, 'bob');
    const alice = sdkClient(server.url, 'alice');
    await Promise.all([bob.join('lobby'), alice.join('lobby')]);
    const hers = await alice.send('lobby', 'mine');
    const gone = await alice.send('lobby', 'soon gone');
    await alice.remove('lobby', gone.id);

    const notAuthor = bob.edit('lobby', hers.id, 'hijacked');
    const unknown = bob.react('lobby', 'no-such-message', '👍');
    const deleted = bob.react('lobby', gone.id, '👍');
    const spaced = bob.react('lobby', hers.id, 'two words');
    const fine = bob.react('lobby', hers.id, '👍');
    await expect(notAuthor).rejects.toMatchObject({ name: 'ParleyError', code: 'forbidden' });
    await expect(unknown).rejects.toMatchObject({ code: 'not_found' });
    await expect(deleted).rejects.toMatchObject({ code: 'not_found' });
    await expect(spaced).rejects.toMatchObject({ code: 'invalid_payload' });
    expect(await fine).toMatchObject({ reactions: { '👍': ['bob'] } });
    expect(bob.pending('lobby').map((e) => [e.clientId, e.kind, e.status, e.error?.code])).toEqual([
      [notAuthor.clientId, 'edit', 'failed', 'forbidden'],
      [unknown.clientId, 'react', 'failed', 'not_found'],
      [deleted.clientId, 'react', 'failed', 'not_found'],
      [spaced.clientId, 'react', 'failed', 'invalid_payload'],
    ]);
    await expect(bob.retry(unknown.clientId)).rejects.toMatchObject({ code: 'not_found' });
    for (const e of bob.pending()) expect(bob.discard(e.clientId)).toBe(true);
    expect(bob.pending()).toEqual([]);
    await expect(bob.edit('elsewhere', hers.id, 'x')).rejects.toMatchObject({ code: 'not_joined' });
  });

  it('answers loadOlder with the changes handed over while its page was read', async () => {
    const server = await startServer();
    const stored: Message[] = [];
    for (let i = 1; i <= 60; i++) stored.push(await storeQuietly(server, 'lobby', `m${i}`, 'alice'));
    const history = watch(server, 'room:history');
    const bob = sdkClient(server.url, 'bob');
    const alice = sdkClient(server.url, 'alice');
    await Promise.all([bob.join('lobby'), alice.join('lobby')]);
    const updates = collect<Message>(bob, 'update');

    // The page is read, and its answer held until an edit of one of its messages has reached bob.
    const read = new Promise<() => void>((resolve) => history.instead.push((_socket, answer, ack) => resolve(() => ack(answer))));
    const older = bob.loadOlder('lobby');
    const release = await read;
    const edited = await alice.edit('lobby', stored[0].id, 'm1, edited');
    await updates.until(1);
    release();
    const { messages } = await older;
    expect(messages.map((m) => m.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(messages[0]).toEqual(edited);
    expect(messages[1]).toEqual(stored[1]);
  });

  it('lists the service’s rooms over the socket, waiting for the connection', async () => {
    const server = await startServer();
    const alice = sdkClient(server.url, 'alice');
    const bob = sdkClient(server.url, 'bob');
    await Promise.all([alice.join('lobby'), bob.join('lobby'), bob.join('dev')]);
    await alice.send('lobby', 'hi');
    // Asked before its connection is open.
    const carol = sdkClient(server.url, 'carol');
    const rooms = await carol.rooms();
    expect(rooms.sort((a, b) => a.room.localeCompare(b.room))).toEqual([
      { room: 'dev', members: 1, seq: 0 },
      { room: 'lobby', members: 2, seq: 1 },
    ]);
    // Offline (the server ended the session): no list, at once.
    const offline = waitFor(carol, 'status', (s) => s === 'offline');
    serverSockets(server, 'carol')[0].disconnect();
    await offline;
    await expect(carol.rooms()).rejects.toMatchObject({ code: 'disconnected' });
    carol.close();
    await expect(carol.rooms()).rejects.toMatchObject({ code: 'closed' });
  });
});
