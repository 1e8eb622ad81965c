import type { User } from '../../protocol';
import { MemoryPresence } from '../../server/presence/memory';
import type { Presence } from '../../server/presence/types';
import { redisBackend, startRedis } from '../helpers/redis';

/**
 * Makes two handles on one service's presence: two instances for Redis, the
 * same object in memory (a single instance sees every socket itself).
 */
type PresenceFactory = () => Promise<[Presence, Presence]>;

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
];

const alice: User = { id: 'alice', name: 'Alice' };
const bob: User = { id: 'bob', name: 'Bob' };
const byId = (users: User[]) => [...users].sort((x, y) => (x.id < y.id ? -1 : 1));

describe.each(factories)('Presence (%s)', (_name, make) => {
  it('counts a user once however many sockets they have, first in and last out', async () => {
    const [a] = await make();
    expect(await a.join('lobby', alice, 's1')).toEqual({ first: true, members: [alice] });
    expect(await a.join('lobby', alice, 's2')).toEqual({ first: false, members: [alice] });
    expect(await a.leave('lobby', alice, 's1')).toEqual({ last: false, members: 1 });
    expect(await a.members('lobby')).toEqual([alice]);
    expect(await a.leave('lobby', alice, 's2')).toEqual({ last: true, members: 0 });
    expect(await a.members('lobby')).toEqual([]);
  });

  it('lists every user present, the joiner included', async () => {
    const [a] = await make();
    await a.join('lobby', alice, 's1');
    const joined = await a.join('lobby', bob, 's2');
    expect(joined.first).toBe(true);
    expect(byId(joined.members)).toEqual([alice, bob]);
    expect(byId(await a.members('lobby'))).toEqual([alice, bob]);
    expect(await a.leave('lobby', bob, 's2')).toEqual({ last: true, members: 1 });
  });

  it('shares users across instances: sockets of one user on two instances count once', async () => {
    const [a, b] = await make();
    expect((await a.join('lobby', alice, 'a1')).first).toBe(true);
    expect(await b.join('lobby', alice, 'b1')).toEqual({ first: false, members: [alice] });
    const bobJoin = await b.join('lobby', bob, 'b2');
    expect(byId(bobJoin.members)).toEqual([alice, bob]);
    expect(byId(await a.members('lobby'))).toEqual([alice, bob]);
    expect(await a.leave('lobby', alice, 'a1')).toEqual({ last: false, members: 2 });
    expect(await b.leave('lobby', alice, 'b1')).toEqual({ last: true, members: 1 });
    expect(await a.members('lobby')).toEqual([bob]);
  });

  it('ignores a repeated join of one socket and a leave of a socket never joined', async () => {
    const [a] = await make();
    await a.join('lobby', alice, 's1');
    expect(await a.join('lobby', alice, 's1')).toEqual({ first: false, members: [alice] });
    expect(await a.leave('lobby', bob, 'nobody')).toEqual({ last: false, members: 1 });
    expect(await a.leave('empty', bob, 'nobody')).toEqual({ last: false, members: 0 });
    expect(await a.leave('lobby', alice, 's1')).toEqual({ last: true, members: 0 });
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
