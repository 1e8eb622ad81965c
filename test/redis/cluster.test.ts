import { createClient } from 'redis';
import { channels, keys } from '../../server/redis/keys';
import { defer } from '../helpers/cleanup';
import { call, collect, ok, waitFor } from '../helpers/events';
import { readyz, redisBackend, startRedis, until } from '../helpers/redis';
import { connect, startServer } from '../helpers/server';

async function twoOn(options: Parameters<typeof redisBackend>[1] = {}) {
  const redis = await startRedis();
  const a = await startServer({ backend: await redisBackend(redis.url, options) });
  const b = await startServer({ backend: await redisBackend(redis.url, options) });
  return { redis, a, b };
}

describe.each(['sharded', 'classic'] as const)('instances on one redis (%s adapter)', (adapter) => {
  /** Two instances in this process sharing one private redis-server. */
  async function twoInstances(options: Parameters<typeof redisBackend>[1] = {}) {
    return twoOn({ adapter, ...options });
  }

  it('delivers a message sent on A to the sockets on B, once, and to the sender', async () => {
    const { a, b } = await twoInstances();
    const alice = await connect(a.url, 'alice');
    const bob = await connect(b.url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'lobby' });
    const toBob = collect(bob, 'message');
    const toAlice = waitFor(alice, 'message');
    const sent = await ok(alice, 'message:send', { room: 'lobby', text: 'hi', clientId: 'c1' });
    const again = await ok(bob, 'message:send', { room: 'lobby', text: 'back', clientId: 'c1' });
    expect(await toAlice).toEqual(sent.message);
    expect(await toBob.until(2)).toEqual([sent.message, again.message]);
    expect(again.message.seq).toBe(2);
  });

  // The sharded adapter publishes to a room with a 20-character name (the
  // length of a socket id) on its main channel rather than the room's own.
  it('delivers across instances in a room whose name is 20 characters long', async () => {
    const { a, b } = await twoInstances();
    const room = 'twenty-characters-ok';
    expect(room).toHaveLength(20);
    const alice = await connect(a.url, 'alice');
    const bob = await connect(b.url, 'bob');
    await ok(alice, 'room:join', { room });
    await ok(bob, 'room:join', { room });
    const toBob = waitFor(bob, 'message');
    const sent = await ok(alice, 'message:send', { room, text: 'long name', clientId: 'c1' });
    expect(await toBob).toEqual(sent.message);
  });

  it('answers a join on B with the same history and seq as on A', async () => {
    const { a, b } = await twoInstances();
    const alice = await connect(a.url, 'alice');
    await ok(alice, 'room:join', { room: 'lobby' });
    for (let i = 1; i <= 3; i++) await ok(alice, 'message:send', { room: 'lobby', text: `m${i}`, clientId: `c${i}` });
    const onB = await ok(await connect(b.url, 'bob'), 'room:join', { room: 'lobby' });
    const onA = await ok(await connect(a.url, 'carol'), 'room:join', { room: 'lobby' });
    expect(onB.seq).toBe(3);
    expect(onB.messages.map((m: { text: string }) => m.text)).toEqual(['m1', 'm2', 'm3']);
    expect(onB.messages).toEqual(onA.messages);
    const since = await ok(await connect(b.url, 'dave'), 'room:join', { room: 'lobby', since: 2 });
    expect(since.messages.map((m: { seq: number }) => m.seq)).toEqual([3]);
  });

  it('answers a repeated clientId on another instance with the original, broadcasting nothing', async () => {
    const { a, b } = await twoInstances();
    const onA = await connect(a.url, 'alice');
    const onB = await connect(b.url, 'alice');
    await ok(onA, 'room:join', { room: 'lobby' });
    await ok(onB, 'room:join', { room: 'lobby' });
    const seen = collect(onB, 'message');
    const first = await ok(onA, 'message:send', { room: 'lobby', text: 'once', clientId: 'retry' });
    const repeat = await ok(onB, 'message:send', { room: 'lobby', text: 'once', clientId: 'retry' });
    const next = await ok(onB, 'message:send', { room: 'lobby', text: 'two', clientId: 'next' });
    await seen.until(2);
    expect(repeat.message).toEqual(first.message);
    expect(seen.items.map((m) => m.seq)).toEqual([1, 2]);
    expect(next.message.seq).toBe(2);
  });

  it('shares presence: members and join/leave events across instances', async () => {
    const { a, b } = await twoInstances();
    const alice = await connect(a.url, 'alice');
    const bob = await connect(b.url, 'bob');
    const aliceIn = await ok(alice, 'room:join', { room: 'lobby' });
    const bobJoins = waitFor(alice, 'presence', (p) => p.user.id === 'bob' && p.event === 'join');
    const joined = await ok(bob, 'room:join', { room: 'lobby' });
    expect(joined.members.map((u: { id: string }) => u.id).sort()).toEqual(['alice', 'bob']);
    // One version per room, shared by the instances: each change takes the next.
    const version = aliceIn.presenceVersion;
    expect(joined.presenceVersion).toBe(version + 1);
    expect(await bobJoins).toEqual({ room: 'lobby', event: 'join', user: { id: 'bob', name: 'bob' }, members: 2, version: version + 1 });

    // A second socket of alice's, on the other instance: no presence event, still two members.
    const events = collect(bob, 'presence');
    const alice2 = await connect(b.url, 'alice');
    const second = await ok(alice2, 'room:join', { room: 'lobby' });
    expect(second.members).toHaveLength(2);
    expect(second.presenceVersion).toBe(version + 1);
    const aliceLeaves = waitFor(bob, 'presence', (p) => p.user.id === 'alice' && p.event === 'leave');
    alice.disconnect();
    await ok(alice2, 'room:leave', { room: 'lobby' });
    expect(await aliceLeaves).toEqual({ room: 'lobby', event: 'leave', user: { id: 'alice', name: 'alice' }, members: 1, version: version + 2 });
    expect(events.items).toHaveLength(1);
  });

  it('lists the rooms of every instance in rooms:list and GET /api/rooms', async () => {
    const { a, b } = await twoInstances();
    const alice = await connect(a.url, 'alice');
    const bob = await connect(b.url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(alice, 'message:send', { room: 'lobby', text: 'x', clientId: 'c1' });
    await ok(bob, 'room:join', { room: 'games' });
    await ok(bob, 'room:join', { room: 'lobby' });
    const expected = [
      { room: 'games', members: 1, seq: 0 },
      { room: 'lobby', members: 2, seq: 1 },
    ];
    expect((await ok(alice, 'rooms:list', {})).rooms).toEqual(expected);
    expect(await (await fetch(`${b.url}/api/rooms`)).json()).toEqual({ rooms: expected });
    await ok(bob, 'room:leave', { room: 'games' });
    expect((await ok(bob, 'rooms:list', {})).rooms).toEqual([{ room: 'lobby', members: 2, seq: 1 }]);
  });

  it('delivers a message posted over HTTP on B to a socket on A', async () => {
    const { a, b } = await twoInstances();
    const alice = await connect(a.url, 'alice');
    await ok(alice, 'room:join', { room: 'lobby' });
    const got = waitFor(alice, 'message');
    const res = await fetch(`${b.url}/api/rooms/lobby/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bob', text: 'over http', clientId: 'h1' }),
    });
    expect(res.status).toBe(201);
    expect(await got).toMatchObject({ seq: 1, text: 'over http', user: { id: 'bob' } });
    expect(await readyz(a.url)).toBe(200);
  });

  it('relays typing to the other users on every instance, not to the typist’s own sockets', async () => {
    const { a, b } = await twoInstances();
    const alice = await connect(a.url, 'alice');
    const aliceOnB = await connect(b.url, 'alice');
    const bob = await connect(b.url, 'bob');
    for (const s of [alice, aliceOnB, bob]) await ok(s, 'room:join', { room: 'lobby' });
    const toAliceOnB = collect(aliceOnB, 'typing');
    const toBob = waitFor(bob, 'typing');
    await ok(alice, 'typing', { room: 'lobby', typing: true });
    expect(await toBob).toEqual({ room: 'lobby', user: { id: 'alice', name: 'alice' }, typing: true });
    // bob's own typing reaches alice's sockets: the relay works both ways, and by then any stray event would have come.
    const back = waitFor(aliceOnB, 'typing');
    await ok(bob, 'typing', { room: 'lobby', typing: true });
    await back;
    expect(toAliceOnB.items.map((t) => t.user.id)).toEqual(['bob']);
    expect((await call(bob, 'typing', { room: 'nope', typing: true })).ok).toBe(false);
  });
});

describe('the sharded adapter', () => {
  it('subscribes to a channel per chat room that has sockets here, none for user rooms, and drops it when the room empties', async () => {
    const { redis, a } = await twoOn({ adapter: 'sharded' });
    const op = createClient({ url: redis.url });
    op.on('error', () => {});
    await op.connect();
    defer(() => op.disconnect().catch(() => {}));
    const subscribed = async () => ((await op.sendCommand(['PUBSUB', 'SHARDCHANNELS'])) as string[]).sort();

    const alice = await connect(a.url, 'alice');
    await ok(alice, 'room:join', { room: 'lobby' });
    expect((await subscribed()).filter((c) => c.includes('user:'))).toEqual([]);
    expect(await subscribed()).toContain(channels.room('lobby'));
    await ok(alice, 'room:leave', { room: 'lobby' });
    await until('the lobby channel is dropped', async () => !(await subscribed()).includes(channels.room('lobby')));
  });
});

describe('an instance that closes', () => {
  it('takes its users out of presence and leaves no trace of itself in redis', async () => {
    const { redis, a, b } = await twoOn();
    const alice = await connect(a.url, 'alice');
    const bob = await connect(b.url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(alice, 'room:join', { room: 'games' });
    await ok(bob, 'room:join', { room: 'lobby' });
    const aliceLeaves = waitFor(bob, 'presence', (p) => p.event === 'leave' && p.user.id === 'alice');
    await a.app.close();
    expect(await aliceLeaves).toMatchObject({ room: 'lobby', members: 1 });
    expect((await ok(bob, 'rooms:list', {})).rooms).toEqual([{ room: 'lobby', members: 1, seq: 0 }]);

    const op = createClient({ url: redis.url });
    op.on('error', () => {});
    await op.connect();
    defer(() => op.disconnect().catch(() => {}));
    const id = (a.backend as Awaited<ReturnType<typeof redisBackend>>).presenceId;
    expect(await op.zRange(keys.instances, 0, -1)).not.toContain(id);
    expect(await op.exists(keys.instanceRooms(id))).toBe(0);
    expect(await op.hKeys(keys.sockets('games'))).toEqual([]);
  });
});
