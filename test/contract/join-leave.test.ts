import { createMemoryBackend, type Backend } from '../../server/backend';
import type { Presence } from '../../server/presence/types';
import { call, collect, ok, waitFor } from '../helpers/events';
import { until } from '../helpers/process';
import { range, seed, seqs } from '../helpers/seed';
import { connect, startServer } from '../helpers/server';

/**
 * The in-memory backend, with presence joins held until `release()`: a stand-in
 * for a presence store across the network (Redis), where a join takes a round
 * trip during which the socket can leave or disconnect.
 */
function slowJoinBackend() {
  const base = createMemoryBackend({ historyMax: 1000, limits: false });
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let entered!: () => void;
  const joining = new Promise<void>((resolve) => (entered = resolve));
  let recorded!: () => void;
  const joined = new Promise<void>((resolve) => (recorded = resolve));
  const presence: Presence = Object.assign(Object.create(base.presence) as Presence, {
    join: async (...args: Parameters<Presence['join']>) => {
      entered();
      await gate;
      const result = await base.presence.join(...args);
      recorded();
      return result;
    },
  });
  const backend: Backend = { ...base, presence };
  /** `joining`: a join reached presence; `joined`: presence recorded it, after `release()`; `members`: who presence holds. */
  return { backend, joining, joined, release, members: (room: string) => base.presence.members(room) };
}

describe('room:join', () => {
  it('answers an empty room with seq 0, no messages and the joiner as the only member', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    const answer = await call(alice, 'room:join', { room: 'lobby' });
    expect(answer).toEqual({
      ok: true,
      room: 'lobby',
      seq: 0,
      rev: 0,
      messages: [],
      members: [{ id: 'alice', name: 'alice' }],
      hasMore: false,
      presenceVersion: 1,
    });
  });

  it('answers the members present in the room, the joiner included', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    const answer = await ok(bob, 'room:join', { room: 'lobby' });
    expect(answer.members).toHaveLength(2);
    expect(answer.members).toEqual(expect.arrayContaining([{ id: 'alice', name: 'alice' }, { id: 'bob', name: 'bob' }]));
  });

  it('without since, answers the latest 50 messages in ascending order, hasMore when older ones exist', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    await ok(alice, 'room:join', { room: 'lobby' });
    await seed(alice, 'lobby', 120);
    const bob = await connect(url, 'bob');
    const answer = await ok(bob, 'room:join', { room: 'lobby' });
    expect(answer.seq).toBe(120);
    expect(seqs(answer.messages)).toEqual(range(71, 120));
    expect(answer.messages[49]).toMatchObject({ text: 'm120', room: 'lobby' });
    expect(answer.hasMore).toBe(true);
  });

  it('without since, answers hasMore false when the room holds 50 messages or fewer', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    await ok(alice, 'room:join', { room: 'lobby' });
    await seed(alice, 'lobby', 50);
    const answer = await ok(await connect(url, 'bob'), 'room:join', { room: 'lobby' });
    expect(seqs(answer.messages)).toEqual(range(1, 50));
    expect(answer.hasMore).toBe(false);
  });

  describe('with since', () => {
    // Each case gets its own room of 600 messages (seeding is fast in memory).
    async function roomOf600() {
      const { url } = await startServer();
      const alice = await connect(url, 'alice');
      await ok(alice, 'room:join', { room: 'lobby' });
      await seed(alice, 'lobby', 600);
      return connect(url, 'bob');
    }

    it('answers the messages with seq > since, at most 500, hasMore when more follow', async () => {
      const bob = await roomOf600();
      const answer = await ok(bob, 'room:join', { room: 'lobby', since: 50 });
      expect(seqs(answer.messages)).toEqual(range(51, 550));
      expect(answer.hasMore).toBe(true);
      expect(answer.seq).toBe(600);
    });

    it('answers every message after since and hasMore false when fewer than 500 follow', async () => {
      const bob = await roomOf600();
      const answer = await ok(bob, 'room:join', { room: 'lobby', since: 580 });
      expect(seqs(answer.messages)).toEqual(range(581, 600));
      expect(answer.hasMore).toBe(false);
    });

    it('answers from seq 1 with since 0', async () => {
      const bob = await roomOf600();
      const answer = await ok(bob, 'room:join', { room: 'lobby', since: 0 });
      expect(seqs(answer.messages)).toEqual(range(1, 500));
      expect(answer.hasMore).toBe(true);
    });

    it('answers no messages when since is the latest seq or past it', async () => {
      const bob = await roomOf600();
      for (const since of [600, 601, 1_000_000]) {
        const answer = await ok(bob, 'room:join', { room: 'lobby', since });
        expect(answer).toMatchObject({ messages: [], hasMore: false, seq: 600 });
      }
    });
  });

  it('delivers every later message live after the join answer', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'lobby' });
    const seen = collect(bob, 'message');
    await seed(alice, 'lobby', 5);
    expect(seqs(await seen.until(5))).toEqual([1, 2, 3, 4, 5]);
  });

  it('joining a room twice is harmless: one membership, no second presence event', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    await ok(alice, 'room:join', { room: 'lobby' });
    const presence = collect(alice, 'presence');
    const again = await ok(alice, 'room:join', { room: 'lobby' });
    expect(again.members).toEqual([{ id: 'alice', name: 'alice' }]);
    const list = await ok(alice, 'rooms:list', {});
    expect(list.rooms).toEqual([{ room: 'lobby', members: 1, seq: 0 }]);
    expect(presence.items).toEqual([]);
  });

  it('answers invalid_room for a name outside ^[a-z0-9][a-z0-9_-]{0,63}$', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    for (const room of ['Lobby', '-lobby', '_x', '', 'a'.repeat(65), 'lob by', 'lobby:1', 'é']) {
      const answer = await call(alice, 'room:join', { room });
      expect(answer).toMatchObject({ ok: false, error: { code: 'invalid_room' } });
    }
    // The longest and shortest names are rooms.
    await ok(alice, 'room:join', { room: 'a'.repeat(64) });
    await ok(alice, 'room:join', { room: '0' });
    await ok(alice, 'room:join', { room: 'a-b_c-9' });
  });
});

describe('room:leave', () => {
  it('answers ok and stops the room\'s messages reaching the socket', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'other' });
    expect(await call(bob, 'room:leave', { room: 'lobby' })).toEqual({ ok: true });
    const seen = collect(bob, 'message');
    await ok(alice, 'message:send', { room: 'lobby', text: 'after bob left', clientId: 'c1' });
    // A later message in a room bob is still in is a barrier: had the first one
    // been sent to bob, it would have arrived before this one.
    await ok(bob, 'message:send', { room: 'other', text: 'barrier', clientId: 'c2' });
    await seen.until(1);
    expect(seen.items.map((m) => m.text)).toEqual(['barrier']);
  });

  it('answers not_joined to a send after leaving', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(alice, 'room:leave', { room: 'lobby' });
    const answer = await call(alice, 'message:send', { room: 'lobby', text: 'hi', clientId: 'c1' });
    expect(answer).toMatchObject({ ok: false, error: { code: 'not_joined' } });
  });

  it('answers ok for a room that was never joined', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    expect(await call(alice, 'room:leave', { room: 'nowhere' })).toEqual({ ok: true });
  });

  it('answers invalid_room for a bad name', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    expect(await call(alice, 'room:leave', { room: 'No Such' })).toMatchObject({ ok: false, error: { code: 'invalid_room' } });
  });

  it('can be followed by a new join that answers the current history', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:leave', { room: 'lobby' });
    await seed(alice, 'lobby', 3);
    const answer = await ok(bob, 'room:join', { room: 'lobby', since: 0 });
    expect(seqs(answer.messages)).toEqual([1, 2, 3]);
    const live = waitFor(bob, 'message');
    await ok(alice, 'message:send', { room: 'lobby', text: 'live', clientId: 'live' });
    expect((await live).seq).toBe(4);
  });
});

describe('a join still in flight', () => {
  it('leaves no member behind when the socket disconnects before presence recorded it', async () => {
    const { backend, joining, joined, release, members } = slowJoinBackend();
    const { url, app } = await startServer({ backend });
    const alice = await connect(url, 'alice');
    alice.emit('room:join', { room: 'lobby' });
    await joining;
    alice.disconnect();
    // No event tells a test when the server has handled the disconnect.
    await until('the server to drop the socket', async () => app.io.of('/').sockets.size === 0);
    release();
    await joined;
    // A round trip lets the rest of the join handler run first.
    const bob = await connect(url, 'bob');
    expect((await ok(bob, 'rooms:list', {})).rooms).toEqual([]);
    expect(await members('lobby')).toEqual([]);
  });

  it('leaves no member behind when the socket leaves the room before presence recorded the join', async () => {
    const { backend, joining, release, members } = slowJoinBackend();
    const { url } = await startServer({ backend });
    const alice = await connect(url, 'alice');
    const answer = call(alice, 'room:join', { room: 'lobby' });
    await joining;
    await ok(alice, 'room:leave', { room: 'lobby' });
    release();
    expect(await answer).toMatchObject({ ok: false, error: { code: 'not_joined' } });
    expect((await ok(alice, 'rooms:list', {})).rooms).toEqual([]);
    expect(await members('lobby')).toEqual([]);
  });
});
