import type { PresenceEvent, TypingEvent } from '../../protocol';
import { call, collect, ok, waitFor } from '../helpers/events';
import { connect, startServer, type ClientSocket } from '../helpers/server';

/** Resolves once every event the server emitted to `socket` before now has arrived. */
const barrier = (socket: ClientSocket) => ok(socket, 'rooms:list', {});

const ALICE = { id: 'alice', name: 'alice' };
const BOB = { id: 'bob', name: 'bob' };

describe('presence', () => {
  it('tells the room when a user joins, with the count of users now present', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    const seen = waitFor<PresenceEvent>(alice, 'presence');
    await ok(bob, 'room:join', { room: 'lobby' });
    expect(await seen).toEqual({ room: 'lobby', event: 'join', user: BOB, members: 2, version: 2 });
  });

  it('tells the room when a user leaves with room:leave, with the count left', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'lobby' });
    const seen = waitFor<PresenceEvent>(alice, 'presence', (p) => p.event === 'leave');
    await ok(bob, 'room:leave', { room: 'lobby' });
    expect(await seen).toEqual({ room: 'lobby', event: 'leave', user: BOB, members: 1, version: 3 });
  });

  it('tells the room when a user disconnects, for every room it was in', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    for (const room of ['lobby', 'other']) {
      await ok(alice, 'room:join', { room });
      await ok(bob, 'room:join', { room });
    }
    const leaves = collect<PresenceEvent>(alice, 'presence');
    bob.disconnect();
    const events = await leaves.until(2);
    expect(events).toEqual(
      expect.arrayContaining([
        { room: 'lobby', event: 'leave', user: BOB, members: 1, version: 3 },
        { room: 'other', event: 'leave', user: BOB, members: 1, version: 3 },
      ]),
    );
    expect((await ok(alice, 'rooms:list', {})).rooms).toEqual([
      { room: 'lobby', members: 1, seq: 0 },
      { room: 'other', members: 1, seq: 0 },
    ]);
  });

  it('counts a user with two sockets once and says nothing when the second socket joins', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    const bob1 = await connect(url, 'bob');
    const bob2 = await connect(url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob1, 'room:join', { room: 'lobby' });
    const seen = collect<PresenceEvent>(alice, 'presence');
    const answer = await ok(bob2, 'room:join', { room: 'lobby' });
    expect(answer.members).toHaveLength(2);
    expect(answer.members).toEqual(expect.arrayContaining([ALICE, BOB]));
    await barrier(alice);
    expect(seen.items).toEqual([]);
    expect((await ok(alice, 'rooms:list', {})).rooms).toEqual([{ room: 'lobby', members: 2, seq: 0 }]);
  });

  it('takes a user out only when its last socket leaves, disconnects included', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    const bob1 = await connect(url, 'bob');
    const bob2 = await connect(url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob1, 'room:join', { room: 'lobby' });
    await ok(bob2, 'room:join', { room: 'lobby' });
    const seen = collect<PresenceEvent>(alice, 'presence');

    await ok(bob1, 'room:leave', { room: 'lobby' });
    await barrier(alice);
    expect(seen.items).toEqual([]);
    expect((await ok(alice, 'rooms:list', {})).rooms).toEqual([{ room: 'lobby', members: 2, seq: 0 }]);

    bob2.disconnect();
    await seen.until(1);
    expect(seen.items).toEqual([{ room: 'lobby', event: 'leave', user: BOB, members: 1, version: 3 }]);
  });

  it('says nothing when one of two sockets of a user disconnects', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    const bob1 = await connect(url, 'bob');
    const bob2 = await connect(url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob1, 'room:join', { room: 'lobby' });
    await ok(bob2, 'room:join', { room: 'lobby' });
    const seen = collect<PresenceEvent>(alice, 'presence');
    bob1.disconnect();
    // Then bob's last socket leaves: whichever the server handles first, alice
    // must hear of bob leaving exactly once.
    await ok(bob2, 'room:leave', { room: 'lobby' });
    await seen.until(1);
    await barrier(alice);
    expect(seen.items).toEqual([{ room: 'lobby', event: 'leave', user: BOB, members: 1, version: 3 }]);
  });

  it('sends the joiner its own presence join too (it is one of the room\'s sockets)', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    const seen = waitFor<PresenceEvent>(alice, 'presence');
    await ok(alice, 'room:join', { room: 'lobby' });
    expect(await seen).toEqual({ room: 'lobby', event: 'join', user: ALICE, members: 1, version: 1 });
  });

  it('numbers the changes of a room\'s members: join answers carry the version of their members, events the version after them', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    const bob1 = await connect(url, 'bob');
    const bob2 = await connect(url, 'bob');
    const seen = collect<PresenceEvent>(alice, 'presence');
    expect(await ok(alice, 'room:join', { room: 'lobby' })).toMatchObject({ members: [ALICE], presenceVersion: 1 });
    const bobIn = await ok(bob1, 'room:join', { room: 'lobby' });
    expect(bobIn.members).toEqual(expect.arrayContaining([ALICE, BOB]));
    expect(bobIn.presenceVersion).toBe(2);
    // bob's second socket changes no one's presence: same version, no event.
    expect(await ok(bob2, 'room:join', { room: 'lobby', since: 0 })).toMatchObject({ presenceVersion: 2 });
    await ok(bob1, 'room:leave', { room: 'lobby' });
    await ok(bob2, 'room:leave', { room: 'lobby' });
    // Joining a room already joined changes nothing and answers the current members and version.
    expect(await ok(alice, 'room:join', { room: 'lobby' })).toMatchObject({ members: [ALICE], presenceVersion: 3 });
    await barrier(alice);
    expect(seen.items.map((p) => [p.event, p.user.id, p.members, p.version])).toEqual([
      ['join', 'alice', 1, 1],
      ['join', 'bob', 2, 2],
      ['leave', 'bob', 1, 3],
    ]);
  });

  it('numbers each room\'s changes on their own', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'lobby' });
    expect(await ok(bob, 'room:join', { room: 'other' })).toMatchObject({ presenceVersion: 1 });
    expect(await ok(alice, 'room:join', { room: 'other' })).toMatchObject({ presenceVersion: 2 });
    expect(await ok(alice, 'room:join', { room: 'lobby' })).toMatchObject({ presenceVersion: 2 });
  });

  it('does not tell users outside the room', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    const carol = await connect(url, 'carol');
    await ok(carol, 'room:join', { room: 'elsewhere' });
    const seen = collect<PresenceEvent>(carol, 'presence');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(alice, 'room:leave', { room: 'lobby' });
    await barrier(carol);
    expect(seen.items).toEqual([]);
  });
});

describe('typing', () => {
  it('relays typing to the room\'s other users, answering ok', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'lobby' });
    const seen = collect<TypingEvent>(bob, 'typing');
    expect(await call(alice, 'typing', { room: 'lobby', typing: true })).toEqual({ ok: true });
    await ok(alice, 'typing', { room: 'lobby', typing: false });
    expect(await seen.until(2)).toEqual([
      { room: 'lobby', user: ALICE, typing: true },
      { room: 'lobby', user: ALICE, typing: false },
    ]);
  });

  it('does not reach the sender, the sender\'s other socket, or users outside the room', async () => {
    const { url } = await startServer();
    const alice1 = await connect(url, 'alice');
    const alice2 = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    const carol = await connect(url, 'carol');
    await ok(alice1, 'room:join', { room: 'lobby' });
    await ok(alice2, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'lobby' });
    await ok(carol, 'room:join', { room: 'elsewhere' });
    const toAlice1 = collect(alice1, 'typing');
    const toAlice2 = collect(alice2, 'typing');
    const toCarol = collect(carol, 'typing');
    const toBob = waitFor(bob, 'typing');
    await ok(alice1, 'typing', { room: 'lobby', typing: true });
    await toBob;
    await Promise.all([barrier(alice1), barrier(alice2), barrier(carol)]);
    expect(toAlice1.items).toEqual([]);
    expect(toAlice2.items).toEqual([]);
    expect(toCarol.items).toEqual([]);
  });

  it('answers not_joined for a room the socket has not joined, and relays nothing', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    await ok(bob, 'room:join', { room: 'lobby' });
    const seen = collect(bob, 'typing');
    const answer = await call(alice, 'typing', { room: 'lobby', typing: true });
    expect(answer).toMatchObject({ ok: false, error: { code: 'not_joined' } });
    await barrier(bob);
    expect(seen.items).toEqual([]);
  });

  it('answers invalid_payload naming typing when it is not a boolean', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    await ok(alice, 'room:join', { room: 'lobby' });
    for (const typing of ['yes', 1, null, undefined]) {
      const answer = await call(alice, 'typing', { room: 'lobby', typing });
      expect(answer).toMatchObject({ ok: false, error: { code: 'invalid_payload', message: expect.stringContaining('typing') } });
    }
  });
});
