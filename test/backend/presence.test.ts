import calculateSlot from 'cluster-key-slot';
import { createClient, createCluster } from 'redis';
import type { User } from '../../protocol';
import { MemoryPresence } from '../../server/presence/memory';
import type { Presence, PresenceChange } from '../../server/presence/types';
import { defer } from '../helpers/cleanup';
import { waitFor } from '../helpers/events';
import { redisBackend, startRedis, useRedisCluster, type RedisAt } from '../helpers/redis';

/** Presence, with what the concrete classes offer tests besides the interface. */
type TestPresence = Presence & Pick<MemoryPresence, 'members' | 'snapshot'>;

/**
 * Makes two handles on one service's presence: two instances for Redis, the
 * same object in memory (a single instance sees every socket itself).
 */
type PresenceFactory = () => Promise<[TestPresence, TestPresence]>;

/** Three shards, emptied for every test. */
const cluster = useRedisCluster();

const factories: Array<[string, PresenceFactory]> = [
  [
    'memory',
    async () => {
      const presence = new MemoryPresence();
      return [presence, presence];
    },
  ],
  [
    'redis',
    async () => {
      const redis = await startRedis();
      const a = await redisBackend(redis.url);
      const b = await redisBackend(redis.url);
      return [a.presence, b.presence];
    },
  ],
  [
    'redis cluster',
    async () => {
      const nodes = await cluster.fresh();
      const a = await redisBackend(nodes);
      const b = await redisBackend(nodes);
      return [a.presence, b.presence];
    },
  ],
];

const alice: User = { id: 'alice', name: 'Alice' };
const bob: User = { id: 'bob', name: 'Bob' };
const carol: User = { id: 'carol', name: 'Carol' };
const byId = (users: User[]) => [...users].sort((x, y) => (x.id < y.id ? -1 : 1));

describe.each(factories)('Presence (%s)', (_name, make) => {
  it('counts a user once however many sockets they have, first in and last out', async () => {
    const [a] = await make();
    const first = await a.join('lobby', alice, 's1');
    expect(first).toMatchObject({ first: true, members: [alice] });
    // A second socket changes no one's presence: the version stays.
    expect(await a.join('lobby', alice, 's2')).toEqual({ first: false, members: [alice], version: first.version });
    expect(await a.leave('lobby', alice, 's1')).toEqual({ last: false, members: 1, version: first.version });
    expect(await a.members('lobby')).toEqual([alice]);
    expect(await a.leave('lobby', alice, 's2')).toEqual({ last: true, members: 0, version: first.version + 1 });
    expect(await a.members('lobby')).toEqual([]);
  });

  it('lists every user present, the joiner included', async () => {
    const [a] = await make();
    await a.join('lobby', alice, 's1');
    const joined = await a.join('lobby', bob, 's2');
    expect(joined.first).toBe(true);
    expect(byId(joined.members)).toEqual([alice, bob]);
    expect(byId(await a.members('lobby'))).toEqual([alice, bob]);
    expect(await a.leave('lobby', bob, 's2')).toEqual({ last: true, members: 1, version: joined.version + 1 });
  });

  it('shares users across instances: sockets of one user on two instances count once', async () => {
    const [a, b] = await make();
    const aliceIn = await a.join('lobby', alice, 'a1');
    expect(aliceIn.first).toBe(true);
    expect(await b.join('lobby', alice, 'b1')).toEqual({ first: false, members: [alice], version: aliceIn.version });
    const bobJoin = await b.join('lobby', bob, 'b2');
    expect(byId(bobJoin.members)).toEqual([alice, bob]);
    expect(byId(await a.members('lobby'))).toEqual([alice, bob]);
    expect(await a.leave('lobby', alice, 'a1')).toEqual({ last: false, members: 2, version: bobJoin.version });
    expect(await b.leave('lobby', alice, 'b1')).toEqual({ last: true, members: 1, version: bobJoin.version + 1 });
    expect(await a.members('lobby')).toEqual([bob]);
  });

  it('ignores a repeated join of one socket and a leave of a socket never joined', async () => {
    const [a] = await make();
    const { version } = await a.join('lobby', alice, 's1');
    expect(await a.join('lobby', alice, 's1')).toEqual({ first: false, members: [alice], version });
    expect(await a.leave('lobby', bob, 'nobody')).toEqual({ last: false, members: 1, version });
    expect(await a.leave('empty', bob, 'nobody')).toEqual({ last: false, members: 0, version: 0 });
    expect(await a.leave('lobby', alice, 's1')).toEqual({ last: true, members: 0, version: version + 1 });
  });

  it('gives every change of a room its next version, service-wide, and answers the members with the version they reflect', async () => {
    const [a, b] = await make();
    expect(await a.snapshot('lobby')).toEqual({ members: [], version: 0 });
    expect(await a.lastChange('lobby')).toBeUndefined();
    const versions = [
      (await a.join('lobby', alice, 'a1')).version,
      (await b.join('lobby', bob, 'b1')).version,
      (await a.join('lobby', carol, 'a2')).version,
      (await b.leave('lobby', bob, 'b1')).version,
    ];
    // Consecutive, whichever instance made the change: a client that misses one can tell.
    expect(versions.map((v) => v - versions[0])).toEqual([0, 1, 2, 3]);
    const snapshot = await b.snapshot('lobby');
    expect(byId(snapshot.members)).toEqual([alice, carol]);
    expect(snapshot.version).toBe(versions[3]);
    expect(await a.lastChange('lobby')).toEqual({ room: 'lobby', event: 'leave', user: bob, members: 2, version: versions[3] });
    // Other rooms have versions of their own.
    const games = await b.join('games', bob, 'b2');
    expect((await a.snapshot('lobby')).version).toBe(versions[3]);
    expect(await a.lastChange('games')).toEqual({ room: 'games', event: 'join', user: bob, members: 1, version: games.version });
  });

  it('never gives a room a version it had before, even after it emptied', async () => {
    const [a, b] = await make();
    await a.join('lobby', alice, 'a1');
    const left = await a.leave('lobby', alice, 'a1');
    expect(await b.snapshot('lobby')).toEqual({ members: [], version: left.version });
    const again = await b.join('lobby', bob, 'b1');
    expect(again.version).toBe(left.version + 1);
  });

  it('lists the rooms with members now, on every instance, with their counts', async () => {
    const [a, b] = await make();
    expect(await a.rooms()).toEqual([]);
    await a.join('lobby', alice, 'a1');
    await b.join('lobby', bob, 'b1');
    await b.join('lobby', bob, 'b2');
    await b.join('games', bob, 'b3');
    const sorted = (rooms: Array<{ room: string; members: number }>) => [...rooms].sort((x, y) => (x.room < y.room ? -1 : 1));
    expect(sorted(await a.rooms())).toEqual([
      { room: 'games', members: 1 },
      { room: 'lobby', members: 2 },
    ]);
    await b.leave('games', bob, 'b3');
    await a.leave('lobby', alice, 'a1');
    expect(await b.rooms()).toEqual([{ room: 'lobby', members: 1 }]);
    await b.leave('lobby', bob, 'b1');
    await b.leave('lobby', bob, 'b2');
    expect(await a.rooms()).toEqual([]);
  });
});

describe('Presence (memory): rooms joined and left', () => {
  it('keep nothing once empty, and their versions still never go back', async () => {
    const presence = new MemoryPresence();
    let highest = 0;
    for (let i = 0; i < 1000; i++) {
      const joined = await presence.join(`room-${i}`, alice, 's1');
      await presence.join(`room-${i}`, bob, 's2');
      await presence.leave(`room-${i}`, alice, 's1');
      const left = await presence.leave(`room-${i}`, bob, 's2');
      expect(joined.version).toBeGreaterThan(highest);
      highest = left.version;
    }
    expect(presence.roomsKept()).toBe(0);
    expect(await presence.lastChange('room-0')).toBeUndefined();
    // A room used again counts on from where any room left off.
    expect((await presence.join('room-0', alice, 's3')).version).toBeGreaterThan(highest);
    expect(presence.roomsKept()).toBe(1);
  });
});

/** A Redis to use for one test, and an operator's client on it (for what only an operator does). */
type Fresh = () => Promise<{ at: RedisAt; op: Pick<ReturnType<typeof createClient>, 'pTTL' | 'del'>; clock: (key: string) => Promise<number> }>;

const freshRedis: Array<[string, Fresh]> = [
  [
    'redis',
    async () => {
      const redis = await startRedis();
      const op = createClient({ url: redis.url });
      op.on('error', () => {});
      await op.connect();
      defer(() => op.disconnect().catch(() => {}));
      return { at: redis.url, op, clock: async () => (await op.time()).getTime() };
    },
  ],
  [
    'redis cluster',
    async () => {
      const nodes = await cluster.fresh();
      const op = createCluster({ rootNodes: nodes.map((url) => ({ url })) });
      op.on('error', () => {});
      await op.connect();
      defer(() => op.disconnect().catch(() => {}));
      // The clock of the master that holds `key`: a script reads its own node's clock.
      const clock = async (key: string) => {
        const node = await cluster.cluster().masterOf(calculateSlot(key));
        const client = createClient({ url: node.url });
        client.on('error', () => {});
        await client.connect();
        try {
          return (await client.time()).getTime();
        } finally {
          await client.disconnect();
        }
      };
      return { at: nodes, op, clock };
    },
  ],
];

describe.each(freshRedis)('Presence (%s): instances taken for dead', (_name, fresh) => {
  it('reaps a dead instance\'s users with the next versions, each reported with the version after it', async () => {
    const { at } = await fresh();
    const dying = await redisBackend(at);
    const survivor = await redisBackend(at);
    const heard = survivor.presence;
    await survivor.presence.join('lobby', bob, 'b1');
    await dying.presence.join('lobby', alice, 'd1');
    await dying.presence.join('lobby', alice, 'd2');
    const { version } = await dying.presence.join('lobby', carol, 'd3');
    const reaped: PresenceChange[] = [];
    heard.on('reaped', (leave: PresenceChange) => reaped.push(leave));
    const both = waitFor(heard, 'reaped', () => reaped.length === 2);

    await dying.abandon();
    await both;
    const inOrder = [...reaped].sort((x, y) => x.version - y.version);
    expect(inOrder.map((l) => [l.room, l.members, l.version - version])).toEqual([
      ['lobby', 2, 1],
      ['lobby', 1, 2],
    ]);
    expect(inOrder.map((l) => l.user.id).sort()).toEqual(['alice', 'carol']);
    expect(await survivor.presence.snapshot('lobby')).toEqual({ members: [bob], version: version + 2 });
    expect(await survivor.presence.lastChange('lobby')).toMatchObject({ event: 'leave', members: 1, version: version + 2 });
  });

  it('puts back the users of an instance that was only frozen, each with the version after the reap', async () => {
    const { at } = await fresh();
    // Heartbeats far apart: the other instance takes it for dead in between, as after a freeze.
    const sleepy = await redisBackend(at, { heartbeatMs: 1500 });
    const awake = await redisBackend(at);
    const fromAwake = awake.presence;
    const fromSleepy = sleepy.presence;
    await awake.presence.join('lobby', bob, 'b1');
    await sleepy.presence.join('lobby', alice, 's1');
    await sleepy.presence.join('lobby', alice, 's2');
    // bob also has a socket there: he stays present throughout, so no change of his is told.
    await sleepy.presence.join('lobby', bob, 's3');

    const reaped = await waitFor<PresenceChange>(fromAwake, 'reaped', () => true, 10_000);
    expect(reaped).toMatchObject({ room: 'lobby', user: alice, members: 1 });
    const restored = await waitFor<PresenceChange>(fromSleepy, 'restored', () => true, 10_000);
    expect(restored).toEqual({ room: 'lobby', user: alice, members: 2, version: reaped.version + 1 });
  });

  it('lets an emptied room\'s version expire, and starts a lost one again from Redis\'s clock, above the versions it gave', async () => {
    const { at, op, clock: redisNow } = await fresh();
    const a = await redisBackend(at);
    const ttl = () => op.pTTL('parley:{lobby}:pver');

    const joined = await a.presence.join('lobby', alice, 's1');
    expect(await ttl()).toBe(-1);
    const left = await a.presence.leave('lobby', alice, 's1');
    expect(left.version).toBe(joined.version + 1);
    expect(await ttl()).toBeGreaterThan(23 * 60 * 60 * 1000);
    expect(await a.presence.snapshot('lobby')).toEqual({ members: [], version: left.version });

    // Expired, or lost with Redis's data: the next change starts from the clock.
    await op.del(['parley:{lobby}:pver', 'parley:{lobby}:plast']);
    const clock = await redisNow('parley:{lobby}:pver');
    const again = await a.presence.join('lobby', bob, 's2');
    expect(again.version).toBeGreaterThan(clock);
    expect(await ttl()).toBe(-1);
  });
});
