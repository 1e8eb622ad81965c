import type { Message, MessageUpdateEvent, PresenceEvent } from '../../protocol';
import { channels } from '../../server/redis/keys';
import { defer } from '../helpers/cleanup';
import { call, collect, ok, waitFor } from '../helpers/events';
import { admin, cutSubscriber, readyz, redisBackend, startRedis, until } from '../helpers/redis';
import { connect, startServer } from '../helpers/server';

// An unhandled rejection (which would kill a production process) fails the
// test that was running: jest reports it as that test's error.

async function twoInstances(options: Parameters<typeof redisBackend>[1] = {}) {
  const redis = await startRedis();
  const a = await startServer({ backend: await redisBackend(redis.url, options) });
  const b = await startServer({ backend: await redisBackend(redis.url, options) });
  return { redis, a, b };
}

const texts = (messages: Message[]) => messages.map((m) => m.text);

describe('redis faults', () => {
  it('answers unavailable while redis is stopped, and after a restart has lost nothing and broadcasts again', async () => {
    const { redis, a, b } = await twoInstances();
    const alice = await connect(a.url, 'alice');
    const bob = await connect(b.url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'lobby' });
    const before = collect(bob, 'message');
    for (let i = 1; i <= 3; i++) await ok(alice, 'message:send', { room: 'lobby', text: `m${i}`, clientId: `c${i}` });
    await before.until(3);

    await redis.stop();
    await until('both instances answer 503 on /readyz', async () => (await readyz(a.url)) === 503 && (await readyz(b.url)) === 503);
    const down = await call(alice, 'message:send', { room: 'lobby', text: 'while down', clientId: 'down-1' });
    expect(down).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    const carol = await connect(b.url, 'carol');
    expect(await call(carol, 'room:join', { room: 'lobby' })).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    // A room new to the instance needs a subscription, which cannot be had now.
    expect(await call(carol, 'room:join', { room: 'quiet' })).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    expect(await call(carol, 'rooms:list', {})).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    const http = await fetch(`${b.url}/api/rooms/lobby/messages`);
    expect(http.status).toBe(503);
    expect((await fetch(`${a.url}/healthz`)).status).toBe(200);

    await redis.restart();
    await until('both instances answer 200 on /readyz', async () => (await readyz(a.url)) === 200 && (await readyz(b.url)) === 200);
    // node-redis subscribed both instances to the room's shard channel again.
    const op = await admin(redis.url);
    expect(await op.sendCommand(['PUBSUB', 'SHARDNUMSUB', channels.room('lobby')])).toEqual([channels.room('lobby'), 2]);
    // The subscription bob's instance had before the restart carries broadcasts again.
    const toBob = waitFor(bob, 'message');
    const retried = await ok(alice, 'message:send', { room: 'lobby', text: 'while down', clientId: 'down-1' });
    expect(retried.message.seq).toBe(4);
    expect(await toBob).toEqual(retried.message);
    const history = await ok(bob, 'room:history', { room: 'lobby' });
    expect(texts(history.messages)).toEqual(['m1', 'm2', 'm3', 'while down']);
    // And a room first joined after the restart works across instances too.
    await ok(carol, 'room:join', { room: 'after' });
    await ok(alice, 'room:join', { room: 'after' });
    const toCarol = waitFor(carol, 'message');
    await ok(alice, 'message:send', { room: 'after', text: 'new room', clientId: 'n1' });
    expect((await toCarol).text).toBe('new room');
  });

  it('answers unavailable within the command timeout while redis is frozen, and stores nothing late', async () => {
    const { redis, a, b } = await twoInstances();
    const alice = await connect(a.url, 'alice');
    const bob = await connect(b.url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'lobby' });
    await ok(alice, 'message:send', { room: 'lobby', text: 'before', clientId: 'c0' });

    redis.pause();
    const frozen = await call(alice, 'message:send', { room: 'lobby', text: 'frozen', clientId: 'f1' }, 3000);
    expect(frozen).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    await until('instance A answers 503 on /readyz', async () => (await readyz(a.url)) === 503);

    redis.resume();
    await until('both instances answer 200 on /readyz', async () => (await readyz(a.url)) === 200 && (await readyz(b.url)) === 200);
    // The send that Redis ran after it woke up was past its deadline: nothing was stored.
    expect(texts((await ok(bob, 'room:history', { room: 'lobby' })).messages)).toEqual(['before']);
    const toBob = waitFor(bob, 'message', (m) => m.text === 'frozen');
    const retried = await ok(alice, 'message:send', { room: 'lobby', text: 'frozen', clientId: 'f1' });
    expect(retried.message.seq).toBe(2);
    expect(await toBob).toEqual(retried.message);
  });

  it('answers unavailable to a change while redis is frozen and makes it nothing late; after a restart the revs go on from what was kept', async () => {
    const { redis, a, b } = await twoInstances();
    const alice = await connect(a.url, 'alice');
    const bob = await connect(b.url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'lobby' });
    const sent = (await ok<{ message: Message }>(alice, 'message:send', { room: 'lobby', text: 'before', clientId: 'c0' })).message;
    await ok(bob, 'reaction:add', { room: 'lobby', id: sent.id, reaction: '👍' });

    redis.pause();
    const frozen = await call(alice, 'message:edit', { room: 'lobby', id: sent.id, text: 'frozen' }, 3000);
    expect(frozen).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    await until('instance A answers 503 on /readyz', async () => (await readyz(a.url)) === 503);
    redis.resume();
    await until('both instances answer 200 on /readyz', async () => (await readyz(a.url)) === 200 && (await readyz(b.url)) === 200);
    // The edit Redis ran after it woke up was past its deadline: nothing changed, no rev taken.
    expect(await ok(bob, 'room:changes', { room: 'lobby', after: 0 })).toMatchObject({ rev: 2, messages: [{ text: 'before', rev: 2 }] });

    await redis.stop();
    await until('both instances answer 503 on /readyz', async () => (await readyz(a.url)) === 503 && (await readyz(b.url)) === 503);
    expect(await call(bob, 'reaction:remove', { room: 'lobby', id: sent.id, reaction: '👍' })).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    await redis.restart();
    await until('both instances answer 200 on /readyz', async () => (await readyz(a.url)) === 200 && (await readyz(b.url)) === 200);
    const toBob = waitFor<MessageUpdateEvent>(bob, 'message:update');
    const edited = (await ok<{ message: Message }>(alice, 'message:edit', { room: 'lobby', id: sent.id, text: 'after the restart' })).message;
    expect(edited).toEqual({ ...sent, text: 'after the restart', rev: 3, editedTs: expect.any(Number), reactions: { '👍': ['bob'] } });
    expect(await toBob).toEqual({ message: edited });
  });

  it('takes out of presence a user who left while redis was away, once it is back', async () => {
    const { redis, a, b } = await twoInstances();
    const alice = await connect(a.url, 'alice');
    const bob = await connect(b.url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    const { presenceVersion } = await ok(bob, 'room:join', { room: 'lobby' });
    await redis.stop();
    await until('instance A answers 503 on /readyz', async () => (await readyz(a.url)) === 503);
    const aliceLeaves = waitFor(bob, 'presence', (p) => p.event === 'leave' && p.user.id === 'alice', 10_000);
    alice.disconnect();
    await redis.restart();
    expect(await aliceLeaves).toEqual({ room: 'lobby', event: 'leave', user: { id: 'alice', name: 'alice' }, members: 1, version: presenceVersion + 1 });
    expect((await ok(bob, 'rooms:list', {})).rooms).toEqual([{ room: 'lobby', members: 1, seq: 0 }]);
  });

  it('takes the users of a dead instance out of presence and tells the other instances', async () => {
    const { a, b } = await twoInstances();
    const alice = await connect(a.url, 'alice');
    const bob = await connect(b.url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    const { presenceVersion } = await ok(bob, 'room:join', { room: 'lobby' });
    const aliceLeaves = waitFor(bob, 'presence', (p) => p.event === 'leave' && p.user.id === 'alice', 10_000);

    // The instance stops heartbeating and leaves its entries behind, as a crash would.
    await (a.backend as Awaited<ReturnType<typeof redisBackend>>).abandon();

    expect(await aliceLeaves).toEqual({ room: 'lobby', event: 'leave', user: { id: 'alice', name: 'alice' }, members: 1, version: presenceVersion + 1 });
    expect(await ok(bob, 'room:join', { room: 'lobby' })).toMatchObject({ members: [{ id: 'bob', name: 'bob' }], presenceVersion: presenceVersion + 1 });
    expect((await ok(bob, 'rooms:list', {})).rooms).toEqual([{ room: 'lobby', members: 1, seq: 0 }]);
  });

  it('announces again the users of an instance wrongly taken for dead, once it heartbeats again', async () => {
    const redis = await startRedis();
    // Heartbeats far apart: B takes A for dead between two of them, as after a freeze of A.
    const a = await startServer({ backend: await redisBackend(redis.url, { heartbeatMs: 1500 }) });
    const b = await startServer({ backend: await redisBackend(redis.url) });
    const alice = await connect(a.url, 'alice');
    const bob = await connect(b.url, 'bob');
    const { presenceVersion } = await ok(bob, 'room:join', { room: 'lobby' });
    const seen = collect<PresenceEvent>(bob, 'presence');
    const ofAlice = () => seen.items.filter((p) => p.user.id === 'alice');
    const backAgain = waitFor(bob, 'presence', () => ofAlice().length >= 3, 10_000);
    await ok(alice, 'room:join', { room: 'lobby' });

    await backAgain;
    expect(ofAlice().slice(0, 3)).toEqual([
      { room: 'lobby', event: 'join', user: { id: 'alice', name: 'alice' }, members: 2, version: presenceVersion + 1 },
      { room: 'lobby', event: 'leave', user: { id: 'alice', name: 'alice' }, members: 1, version: presenceVersion + 2 },
      { room: 'lobby', event: 'join', user: { id: 'alice', name: 'alice' }, members: 2, version: presenceVersion + 3 },
    ]);
    // alice's socket on A never left: it is still in the room.
    const toAlice = waitFor(alice, 'message');
    await ok(bob, 'message:send', { room: 'lobby', text: 'still there?', clientId: 'c1' });
    expect((await toAlice).text).toBe('still there?');
  });

  it.each(['sharded', 'classic'] as const)('tells a room the presence change it missed while its instance\'s bus link was down, once it is back (%s adapter)', async (adapter) => {
    const { redis, a, b } = await twoInstances({ adapter });
    const alice = await connect(a.url, 'alice');
    const bob = await connect(b.url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    const { presenceVersion } = await ok(bob, 'room:join', { room: 'lobby' });

    const op = await admin(redis.url);
    const restore = await cutSubscriber(op, b.backend as Awaited<ReturnType<typeof redisBackend>>);
    await until('instance B answers 503 on /readyz', async () => (await readyz(b.url)) === 503);
    const carol = await connect(a.url, 'carol');
    await ok(carol, 'room:join', { room: 'lobby' });
    await restore();

    const carolJoins = await waitFor<PresenceEvent>(bob, 'presence', (p) => p.user.id === 'carol', 10_000);
    expect(carolJoins).toEqual({ room: 'lobby', event: 'join', user: { id: 'carol', name: 'carol' }, members: 3, version: presenceVersion + 1 });
  });

  it.each(['sharded', 'classic'] as const)('hands an instance the messages it missed while its bus link was down, without waiting for the next one (%s adapter)', async (adapter) => {
    const { redis, a, b } = await twoInstances({ adapter });
    const alice = await connect(a.url, 'alice');
    const bob = await connect(b.url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'lobby' });
    const seen = collect(bob, 'message');

    const op = await admin(redis.url);
    const restore = await cutSubscriber(op, b.backend as Awaited<ReturnType<typeof redisBackend>>);
    await until('instance B answers 503 on /readyz', async () => (await readyz(b.url)) === 503);

    const missed = await ok(alice, 'message:send', { room: 'lobby', text: 'while B was deaf', clientId: 'm1' });
    await restore();
    await until('instance B answers 200 on /readyz', async () => (await readyz(b.url)) === 200);
    expect(await seen.until(1)).toEqual([missed.message]);
  });

  it.each(['sharded', 'classic'] as const)('hands an instance the changes it missed while its bus link was down: new messages as message, changed ones as message:update (%s adapter)', async (adapter) => {
    const { redis, a, b } = await twoInstances({ adapter });
    const alice = await connect(a.url, 'alice');
    const bob = await connect(b.url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'lobby' });
    const old = (await ok<{ message: Message }>(alice, 'message:send', { room: 'lobby', text: 'before', clientId: 'm0' })).message;
    await waitFor(bob, 'message', (m: Message) => m.id === old.id);
    const messages = collect<Message>(bob, 'message');
    const updates = collect<MessageUpdateEvent>(bob, 'message:update');

    const op = await admin(redis.url);
    const restore = await cutSubscriber(op, b.backend as Awaited<ReturnType<typeof redisBackend>>);
    await until('instance B answers 503 on /readyz', async () => (await readyz(b.url)) === 503);
    const change = async (event: string, payload: object) => (await ok<{ message: Message }>(alice, event, { room: 'lobby', ...payload })).message;
    await change('message:edit', { id: old.id, text: 'before, edited' });
    const oldNow = await change('reaction:add', { id: old.id, reaction: '👍' });
    const fresh = await change('message:send', { text: 'while B was deaf', clientId: 'm1' });
    const freshNow = await change('reaction:add', { id: fresh.id, reaction: '🎉' });
    // What B's own sockets send meanwhile still reaches them, and must not
    // make B take the changes before it for ones it had.
    const fromB = (await ok<{ message: Message }>(bob, 'message:send', { room: 'lobby', text: 'from B', clientId: 'b1' })).message;
    expect([oldNow.rev, freshNow.rev, fromB.rev]).toEqual([3, 5, 6]);
    const gotUpdate = waitFor<MessageUpdateEvent>(bob, 'message:update', (u) => u.message.id === old.id, 10_000);
    const gotFresh = waitFor<Message>(bob, 'message', (m) => m.id === fresh.id, 10_000);
    await restore();

    expect(await gotUpdate).toEqual({ message: oldNow });
    await gotFresh;
    await ok(bob, 'rooms:list', {});
    // The new message in its current state, once, in seq order with the rest; the older one's latest state as an update.
    expect(messages.items.filter((m) => m.id !== fromB.id)).toEqual([freshNow]);
    expect(messages.items.map((m) => m.seq)).toEqual([3, 2, 3]);
    expect(updates.items).toEqual([{ message: oldNow }]);
  });
});
