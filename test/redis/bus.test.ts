import net from 'node:net';
import type { BusKind } from '../../server/backend';
import { channels } from '../../server/redis/keys';
import { defer } from '../helpers/cleanup';
import { call, collect, ok, waitFor } from '../helpers/events';
import { admin, cutSubscriber, redisBackend, startRedis, until, type RedisServer } from '../helpers/redis';
import { connect, startServer } from '../helpers/server';

// An unhandled rejection (which would kill a production process) fails the
// test that was running: jest reports it as that test's error.

/**
 * A TCP proxy to Redis that can hold back what the subscriber links through
 * it send (their (un)subscriptions), then let it through: a subscriber link
 * that is up but slow, while the command link answers at once.
 */
async function subscriberGate(redis: RedisServer) {
  let holding = false;
  const held: Array<() => void> = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(redis.port, '127.0.0.1');
    sockets.add(client).add(upstream);
    let subscriber = false;
    client.on('data', (chunk) => {
      // node-redis names the connection (CLIENT SETNAME) before anything else.
      subscriber ||= chunk.includes('parley-sub:');
      if (subscriber && holding) held.push(() => upstream.write(chunk));
      else upstream.write(chunk);
    });
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  defer(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return {
    url: `redis://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    hold: () => (holding = true),
    release: () => {
      holding = false;
      for (const send of held.splice(0)) send();
    },
  };
}

describe.each(['sharded', 'classic'] as BusKind[])('the bus (%s pub/sub)', (adapter) => {
  async function twoInstances() {
    const redis = await startRedis();
    const a = await startServer({ backend: await redisBackend(redis.url, { adapter }) });
    const b = await startServer({ backend: await redisBackend(redis.url, { adapter }) });
    return { redis, a, b };
  }

  const [publish, count, list] = adapter === 'sharded' ? ['SPUBLISH', 'SHARDNUMSUB', 'SHARDCHANNELS'] : ['PUBLISH', 'NUMSUB', 'CHANNELS'];
  /** How many links are subscribed to `channel`. */
  async function subscribers(op: Awaited<ReturnType<typeof admin>>, channel: string): Promise<number> {
    return ((await op.sendCommand(['PUBSUB', count, channel])) as [string, number])[1];
  }

  it('answers a join only once the room\'s subscription is in place, and unavailable while it cannot be had', async () => {
    const redis = await startRedis();
    const gate = await subscriberGate(redis);
    const a = await startServer({ backend: await redisBackend(redis.url, { adapter }) });
    const b = await startServer({ backend: await redisBackend(gate.url, { adapter }) });
    const alice = await connect(a.url, 'alice');
    const bob = await connect(b.url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });

    // B's command link answers; its subscription to the room does not arrive.
    gate.hold();
    expect(await call(bob, 'room:join', { room: 'lobby' })).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    gate.release();

    await ok(bob, 'room:join', { room: 'lobby' });
    const toBob = waitFor(bob, 'message');
    const sent = await ok(alice, 'message:send', { room: 'lobby', text: 'heard at once', clientId: 'c1' });
    expect(await toBob).toEqual(sent.message);
  });

  it('subscribes a channel per chat room with sockets here, and none for users\' or sockets\' own rooms', async () => {
    const { redis, a } = await twoInstances();
    const op = await admin(redis.url);
    const alice = await connect(a.url, 'alice');
    await ok(alice, 'room:join', { room: 'lobby' });
    const subscribed = (await op.sendCommand(['PUBSUB', list])) as string[];
    const roomChannels = subscribed.filter((c) => c !== channels.all && !c.startsWith(`${channels.all}:`));
    expect(roomChannels).toEqual([channels.room('lobby')]);
    expect(await subscribers(op, channels.all)).toBe(2);
  });

  it('after an outage of its subscriber link, repeats the (un)subscriptions that failed before it says it is restored', async () => {
    const { redis, a, b } = await twoInstances();
    const op = await admin(redis.url);
    const bob = await connect(b.url, 'bob');
    await ok(bob, 'room:join', { room: 'lobby' });
    const stats = async () => Number(/rejected_connections:(\d+)/.exec(await op.info('stats'))?.[1]);

    const restore = await cutSubscriber(op, b.backend as Awaited<ReturnType<typeof redisBackend>>);
    // While the link is down: a room comes into being on B (by server code,
    // which cannot fail), and another one empties.
    b.app.io.in(bob.id!).socketsJoin('news');
    await ok(bob, 'room:leave', { room: 'lobby' });
    // A reconnection attempt was refused: what was queued on the link failed with it.
    const refused = await stats();
    await until('a reconnection attempt is refused', async () => (await stats()) > refused);

    const restored = waitFor(b.backend.bus!, 'restored', () => true, 10_000);
    await restore();
    await restored;
    expect(await subscribers(op, channels.room('news'))).toBe(1);
    expect(await subscribers(op, channels.room('lobby'))).toBe(0);
    // And the room subscribed late carries broadcasts.
    const carol = await connect(a.url, 'carol');
    await ok(carol, 'room:join', { room: 'news' });
    const toBob = waitFor(bob, 'message');
    await ok(carol, 'message:send', { room: 'news', text: 'late but there', clientId: 'n1' });
    expect((await toBob).text).toBe('late but there');
  });

  it('keeps delivering to its own sockets, and never fails, while publishing cannot reach redis (frozen, then stopped)', async () => {
    const redis = await startRedis();
    const a = await startServer({ backend: await redisBackend(redis.url, { adapter }) });
    const alice = await connect(a.url, 'alice');
    const bob = await connect(a.url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'lobby' });
    const typing = collect(bob, 'typing');

    redis.pause();
    await ok(alice, 'typing', { room: 'lobby', typing: true });
    // Heard while redis is still frozen: the publication holds it back no longer than the command timeout.
    await typing.until(1);
    redis.resume();

    await redis.stop();
    await ok(alice, 'typing', { room: 'lobby', typing: false });
    expect(await typing.until(2)).toEqual([
      { room: 'lobby', user: { id: 'alice', name: 'alice' }, typing: true },
      { room: 'lobby', user: { id: 'alice', name: 'alice' }, typing: false },
    ]);
  });

  it('drops malformed messages from the bus and carries on', async () => {
    const { redis, a, b } = await twoInstances();
    const op = await admin(redis.url);
    const alice = await connect(a.url, 'alice');
    const bob = await connect(b.url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'lobby' });
    const seen = collect(bob, 'message');
    const bad = [
      'not json',
      'null',
      '{"type":"3"}',
      // A broadcast without its data: the cluster protocol's own decoding throws.
      JSON.stringify({ type: 3, uid: 'elsewhere', nsp: '/' }),
      JSON.stringify({ type: 3, uid: 'elsewhere', nsp: '/', data: { opts: null } }),
    ];
    for (const channel of [channels.room('lobby'), channels.all]) {
      for (const message of bad) await op.sendCommand([publish, channel, message]);
    }
    const sent = await ok(alice, 'message:send', { room: 'lobby', text: 'still here', clientId: 'c1' });
    expect(await seen.until(1)).toEqual([sent.message]);
  });

  it('answers fetchSockets with the sockets of every instance', async () => {
    const { a, b } = await twoInstances();
    const alice = await connect(a.url, 'alice');
    const bob = await connect(b.url, 'bob');
    await connect(b.url, 'carol');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'lobby' });
    const inLobby = await a.app.io.in('lobby').fetchSockets();
    expect(inLobby.map((s) => s.id).sort()).toEqual([alice.id, bob.id].sort());
    expect(await b.app.io.fetchSockets()).toHaveLength(3);
  });
});
