import type { ParleyError } from '../../client/sdk';
import { collect, waitFor } from '../helpers/events';
import { startServer } from '../helpers/server';
import { sdkClient, seqs, storeQuietly } from './sdk';

describe('SDK delivery order', () => {
  it('hands over the latest page on join, then live messages', async () => {
    const server = await startServer();
    for (let i = 1; i <= 60; i++) await storeQuietly(server, 'lobby', `old ${i}`);
    const bob = sdkClient(server.url, 'bob');
    const seen = collect(bob, 'message');
    const info = await bob.join('lobby');
    expect(info).toMatchObject({ room: 'lobby', seq: 60, hasOlder: true, rejoin: false });
    expect(info.members.map((u) => u.id)).toEqual(['bob']);
    expect(seqs(seen.items)).toEqual(range(11, 60));

    const alice = sdkClient(server.url, 'alice');
    await alice.join('lobby');
    const sent = await alice.send('lobby', 'hi');
    await seen.until(51);
    expect(seen.items[50]).toEqual(sent);
    expect(sent).toMatchObject({ seq: 61, text: 'hi', user: { id: 'alice', name: 'alice' } });
  });

  it('drops repeated broadcasts and puts out-of-order ones back in seq order', async () => {
    const server = await startServer();
    // A gap fill far away: only the live broadcasts can put things in order.
    const bob = sdkClient(server.url, 'bob', { gapFillMs: 60_000 });
    await bob.join('lobby');
    const seen = collect(bob, 'message');
    const [m1, m2, m3] = [await storeQuietly(server, 'lobby', 'one'), await storeQuietly(server, 'lobby', 'two'), await storeQuietly(server, 'lobby', 'three')];
    for (const m of [m3, m1, m3, m2, m1, m2]) server.app.io.to('lobby').emit('message', m);
    await seen.until(3);
    // A later message proves nothing else was coming.
    const alice = sdkClient(server.url, 'alice');
    await alice.join('lobby');
    await alice.send('lobby', 'four');
    await seen.until(4);
    expect(seen.items.map((m) => m.text)).toEqual(['one', 'two', 'three', 'four']);
    expect(seqs(seen.items)).toEqual([1, 2, 3, 4]);
  });

  it('fills a gap from room:changes when a message before a live one never comes', async () => {
    const server = await startServer();
    const bob = sdkClient(server.url, 'bob');
    await bob.join('lobby');
    const seen = collect(bob, 'message');
    await storeQuietly(server, 'lobby', 'missed');
    const alice = sdkClient(server.url, 'alice');
    await alice.join('lobby');
    await alice.send('lobby', 'live');
    await seen.until(2);
    expect(seen.items.map((m) => [m.seq, m.text])).toEqual([
      [1, 'missed'],
      [2, 'live'],
    ]);
    await alice.send('lobby', 'after');
    await seen.until(3);
    expect(seqs(seen.items)).toEqual([1, 2, 3]);
    expect(bob.lastSeq('lobby')).toBe(3);
  });

  it('pages history back with loadOlder without disturbing the live order', async () => {
    const server = await startServer();
    for (let i = 1; i <= 120; i++) await storeQuietly(server, 'lobby', `m${i}`);
    const bob = sdkClient(server.url, 'bob');
    const seen = collect(bob, 'message');
    await bob.join('lobby');
    expect(seqs(seen.items)).toEqual(range(71, 120));

    // Two calls at once read two consecutive pages, not the same one twice.
    const [first, second] = await Promise.all([bob.loadOlder('lobby'), bob.loadOlder('lobby')]);
    expect(seqs(first.messages)).toEqual(range(21, 70));
    expect(first.hasMore).toBe(true);
    expect(seqs(second.messages)).toEqual(range(1, 20));
    expect(second.hasMore).toBe(false);
    expect(await bob.loadOlder('lobby')).toEqual({ messages: [], hasMore: false });

    const alice = sdkClient(server.url, 'alice');
    await alice.join('lobby');
    await alice.send('lobby', 'new');
    await seen.until(51);
    expect(seqs(seen.items)).toEqual(range(71, 121));
  });

  it('keeps the member list from join answers and presence, and relays typing', async () => {
    const server = await startServer();
    const alice = sdkClient(server.url, 'alice');
    await alice.join('lobby');
    const bobArrives = waitFor(alice, 'members', (u) => u.members.length === 2);
    const bob = sdkClient(server.url, 'bob');
    const info = await bob.join('lobby');
    expect(info.members.map((u) => u.id).sort()).toEqual(['alice', 'bob']);
    await bobArrives;
    expect(alice.members('lobby').map((u) => u.id).sort()).toEqual(['alice', 'bob']);

    const typing = waitFor(alice, 'typing');
    bob.setTyping('lobby', true);
    expect(await typing).toEqual({ room: 'lobby', user: { id: 'bob', name: 'bob' }, typing: true });

    const bobLeaves = waitFor(alice, 'members', (u) => u.members.length === 1);
    await bob.leave('lobby');
    expect((await bobLeaves).members).toEqual([{ id: 'alice', name: 'alice' }]);
    expect(bob.joinedRooms()).toEqual([]);
  });

  it('rejects a join the server refuses for good, and a send to a room not joined', async () => {
    const server = await startServer();
    const bob = sdkClient(server.url, 'bob');
    const error = waitFor<ParleyError>(bob, 'error');
    await expect(bob.join('Not A Room')).rejects.toMatchObject({ code: 'invalid_room' });
    expect((await error).code).toBe('invalid_room');
    expect(bob.joinedRooms()).toEqual([]);
    await expect(bob.send('lobby', 'hi')).rejects.toMatchObject({ code: 'not_joined' });
  });
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
