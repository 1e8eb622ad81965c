/**
 * Instances over a Redis Cluster of three shards: rooms whose keys live on
 * each shard, and sends into rooms on different shards at once.
 */
import type { Message } from '../../protocol';
import { command } from '../../scripts/topology/redis';
import { channels, keys } from '../../server/redis/keys';
import { collect, ok } from '../helpers/events';
import { admin, redisBackend, roomOnEachShard, until, useRedisCluster } from '../helpers/redis';
import { connect, startServer } from '../helpers/server';
import { sdkClient } from '../sdk/sdk';

const cluster = useRedisCluster();

/** Two instances in this process on the emptied cluster. */
async function twoInstances() {
  const nodes = await cluster.fresh();
  const a = await startServer({ backend: await redisBackend(nodes) });
  const b = await startServer({ backend: await redisBackend(nodes) });
  return { a, b };
}

/** What `key` is on the node at `port`: 1 if it holds it, 0 if not (a node answers MOVED for a key of another node's slot). */
async function holds(port: number, key: string): Promise<string | undefined> {
  return command(port, 'EXISTS', 2000, key);
}

describe('instances on a Redis Cluster of three shards', () => {
  it('serves a room on each shard: its keys and its bus channel on that shard\'s master, one service across instances', async () => {
    const { a, b } = await twoInstances();
    const rooms = await roomOnEachShard(cluster.cluster(), 'shard');
    expect(new Set(rooms.map((r) => r.master.port)).size).toBe(3);
    const alice = await connect(a.url, 'alice');
    const bob = await connect(b.url, 'bob');
    for (const { room, master } of rooms) {
      await ok(alice, 'room:join', { room });
      const joined = await ok(bob, 'room:join', { room });
      expect(joined.members.map((u: { id: string }) => u.id).sort()).toEqual(['alice', 'bob']);
      const toBob = collect<Message>(bob, 'message');
      const sent = await ok(alice, 'message:send', { room, text: `on ${master.port}`, clientId: `c-${room}` });
      expect(sent.message.seq).toBe(1);
      expect((await toBob.until(1)).filter((m) => m.room === room)).toEqual([sent.message]);
      toBob.stop();
      // Every key of the room on its shard's master, and only there.
      for (const key of [keys.seq(room), keys.log(room), keys.members(room), keys.presenceVersion(room)]) {
        expect(await holds(master.port, key)).toBe(':1');
        for (const other of rooms.filter((r) => r.master !== master)) expect(await holds(other.master.port, key)).toMatch(/^-MOVED /);
      }
      // Both instances hear the room's broadcasts on that master.
      const op = await admin(master.url);
      expect(await op.pubSubShardNumSub(channels.room(room))).toEqual({ [channels.room(room)]: 2 });
    }
    const listed = await ok(bob, 'rooms:list', {});
    expect(listed.rooms).toEqual(rooms.map(({ room }) => ({ room, members: 2, seq: 1 })).sort((x, y) => (x.room < y.room ? -1 : 1)));
    // History read from the other instance, from each shard.
    for (const { room, master } of rooms) {
      expect((await ok(bob, 'room:history', { room })).messages.map((m: Message) => m.text)).toEqual([`on ${master.port}`]);
    }
  });

  it('numbers concurrent sends from both instances into rooms on every shard 1..K per room, and each member gets them all once, in order', async () => {
    const PER_SENDER = 20;
    const { a, b } = await twoInstances();
    const rooms = (await roomOnEachShard(cluster.cluster(), 'busy')).map((r) => r.room);
    // Two senders per room, one on each instance; a raw listener and an SDK client on each instance.
    const senders = await Promise.all(rooms.flatMap((room) => [a, b].map((server, i) => connect(server.url, `${room}-sender${i}`))));
    const listeners = await Promise.all([a, b].map((server, i) => connect(server.url, `listener${i}`)));
    for (const [i, s] of senders.entries()) await ok(s, 'room:join', { room: rooms[Math.floor(i / 2)] });
    for (const l of listeners) for (const room of rooms) await ok(l, 'room:join', { room });
    const heard = listeners.map((l) => collect<Message>(l, 'message'));
    const sdks = [a, b].map((server, i) => sdkClient(server.url, `sdk${i}`));
    const handed = sdks.map((c) => collect<Message>(c, 'message'));
    for (const c of sdks) for (const room of rooms) await c.join(room);

    const answers = await Promise.all(
      senders.flatMap((s, i) =>
        Array.from({ length: PER_SENDER }, (_, n) => ok(s, 'message:send', { room: rooms[Math.floor(i / 2)], text: `${i}:${n}`, clientId: `s${i}-${n}` })),
      ),
    );
    const total = 2 * PER_SENDER;
    const all = Array.from({ length: total }, (_, i) => i + 1);
    for (const room of rooms) {
      const seqs = answers.filter((x) => x.message.room === room).map((x) => x.message.seq);
      expect(seqs.sort((x, y) => x - y)).toEqual(all);
    }
    // Every socket gets every message once; the live stream of two instances
    // interleaves as their publications reach Redis, and the SDK hands them
    // over in seq order (the contract's guarantee).
    for (const h of heard) {
      const got = await h.until(rooms.length * total, 15_000);
      for (const room of rooms) expect(got.filter((m) => m.room === room).map((m) => m.seq).sort((x, y) => x - y)).toEqual(all);
    }
    for (const h of handed) {
      const got = await h.until(rooms.length * total, 15_000);
      for (const room of rooms) expect(got.filter((m) => m.room === room).map((m) => m.seq)).toEqual(all);
    }
  });

  // node-redis subscribes a reconnected connection to all its channels in one
  // SSUBSCRIBE, which a cluster refuses when they are in several slots.
  it('carries the broadcasts of every room of a master again after that master restarted', async () => {
    const { a, b } = await twoInstances();
    const rooms = await roomOnEachShard(cluster.cluster(), 'restart');
    const [{ master }] = rooms;
    // Rooms in two slots of the restarted master, and one elsewhere.
    const second = (await roomOnEachShard(cluster.cluster(), 'second')).find((r) => r.master === master)!;
    const all = [...rooms.map((r) => r.room), second.room];
    const alice = await connect(a.url, 'alice');
    const bob = await connect(b.url, 'bob');
    for (const room of all) {
      await ok(alice, 'room:join', { room });
      await ok(bob, 'room:join', { room });
    }
    const toBob = collect<Message>(bob, 'message');

    await master.restart();
    await cluster.cluster().waitHealthy();
    await until('both instances are ready again', () => a.backend.ready() && b.backend.ready(), 15_000);
    const sent = [];
    for (const room of all) sent.push((await ok(alice, 'message:send', { room, text: `after ${room}`, clientId: `after-${room}` })).message);
    expect((await toBob.until(all.length, 10_000)).sort((x, y) => (x.room < y.room ? -1 : 1))).toEqual(sent.sort((x, y) => (x.room < y.room ? -1 : 1)));
  });
});
