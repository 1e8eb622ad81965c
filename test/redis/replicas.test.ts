/**
 * A message acknowledged only once a replica has it (REDIS_WAIT_REPLICAS):
 * over a Redis Cluster of one shard with one replica.
 */
import { createClient } from 'redis';
import type { Message, MessageUpdateEvent } from '../../protocol';
import { keys } from '../../server/redis/keys';
import { defer } from '../helpers/cleanup';
import { call, collect, ok, waitFor } from '../helpers/events';
import { redisBackend, useRedisCluster } from '../helpers/redis';
import { connect, startServer } from '../helpers/server';

const cluster = useRedisCluster({ shards: 1, replicas: 1 });

/** An instance that waits for one replica, up to 200 ms. */
async function instance() {
  return startServer({ backend: await redisBackend(cluster.cluster().urls, { waitReplicas: 1, waitTimeoutMs: 200 }) });
}

async function twoInstances() {
  await cluster.fresh();
  const a = await instance();
  const b = await instance();
  const alice = await connect(a.url, 'alice');
  const bob = await connect(b.url, 'bob');
  await ok(alice, 'room:join', { room: 'lobby' });
  await ok(bob, 'room:join', { room: 'lobby' });
  return { a, b, alice, bob };
}

async function replica() {
  const role = (await cluster.cluster().roles()).find((r) => r.role === 'replica')!;
  const client = createClient({ url: role.server.url });
  client.on('error', () => {});
  await client.connect();
  defer(() => client.disconnect().catch(() => {}));
  // A cluster's replica serves reads only to a connection that asks for it.
  await client.sendCommand(['READONLY']);
  return { server: role.server, client };
}

describe('sends acknowledged once a replica has them (WAIT)', () => {
  it('answers ok only when the message is on the replica', async () => {
    const { alice } = await twoInstances();
    const { client } = await replica();
    for (let i = 1; i <= 5; i++) {
      const { message } = await ok(alice, 'message:send', { room: 'lobby', text: `m${i}`, clientId: `c${i}` });
      // Read from the replica right after the answer: already there.
      const onReplica = await client.zRangeByScore(keys.log('lobby'), message.seq, message.seq);
      expect(onReplica.map((m) => JSON.parse(m) as Message)).toEqual([message]);
    }
  });

  it('answers unavailable while no replica confirms, broadcasts nothing, and answers the retry with the message stored then, broadcast once', async () => {
    const { alice, bob } = await twoInstances();
    const { server } = await replica();
    const toBob = collect<Message>(bob, 'message');
    server.pause();
    let paused = true;
    defer(() => {
      if (paused) server.resume();
    });
    const refused = await call(alice, 'message:send', { room: 'lobby', text: 'held', clientId: 'held-1' });
    expect(refused).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    // Another try while the replica is still away: a repeat, unavailable all the same, never a false ok.
    expect(await call(alice, 'message:send', { room: 'lobby', text: 'held', clientId: 'held-1' })).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    server.resume();
    paused = false;

    const arrives = waitFor<Message>(bob, 'message');
    const { message } = await ok(alice, 'message:send', { room: 'lobby', text: 'held', clientId: 'held-1' });
    expect(message).toMatchObject({ seq: 1, text: 'held' });
    expect(await arrives).toEqual(message);
    // A retry on the other instance is answered by the idempotency record.
    const elsewhere = await connect((await instance()).url, 'alice');
    await ok(elsewhere, 'room:join', { room: 'lobby' });
    expect((await ok(elsewhere, 'message:send', { room: 'lobby', text: 'held', clientId: 'held-1' })).message).toEqual(message);
    // The next message comes after it, and nothing came twice.
    const next = await ok(alice, 'message:send', { room: 'lobby', text: 'after', clientId: 'after-1' });
    expect(next.message.seq).toBe(2);
    expect((await toBob.until(2)).map((m) => m.text)).toEqual(['held', 'after']);
    expect(toBob.items).toHaveLength(2);
  });

  it('answers a change unavailable while no replica confirms it, and its retry, which finds it made, with the change, broadcast once', async () => {
    const { alice, bob } = await twoInstances();
    const { server } = await replica();
    const { message } = await ok(alice, 'message:send', { room: 'lobby', text: 'first', clientId: 'c1' });
    const updates = collect<MessageUpdateEvent>(bob, 'message:update');
    server.pause();
    let paused = true;
    defer(() => {
      if (paused) server.resume();
    });
    expect(await call(alice, 'message:edit', { room: 'lobby', id: message.id, text: 'edited' })).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    server.resume();
    paused = false;

    const arrives = waitFor<MessageUpdateEvent>(bob, 'message:update');
    const edited = (await ok(alice, 'message:edit', { room: 'lobby', id: message.id, text: 'edited' })).message;
    expect(edited).toMatchObject({ id: message.id, text: 'edited', rev: message.rev + 1 });
    expect(await arrives).toEqual({ message: edited });
    // The next change comes after it, and nothing came twice.
    const reacted = (await ok(bob, 'reaction:add', { room: 'lobby', id: message.id, reaction: '👍' })).message;
    expect((await updates.until(2)).map((u) => u.message)).toEqual([edited, reacted]);
    expect(updates.items).toHaveLength(2);
  });
});
