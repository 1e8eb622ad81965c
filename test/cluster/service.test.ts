/**
 * Three instance processes on one real Redis, and on a Redis Cluster of
 * three shards, behind HAProxy, act as one service: whichever instance a
 * client is on, it sees the same messages, members, history and rooms. One
 * topology for each: no test here breaks anything.
 */
import { ParleyClient } from '../../client/sdk';
import type { ChangesAnswer, Message, MessageUpdateEvent, PresenceEvent } from '../../protocol';
import { pollUntil } from '../../scripts/topology/instance';
import { defer } from '../helpers/cleanup';
import { connectSession, useSharedCluster } from '../helpers/cluster';
import { collect, ok, waitFor } from '../helpers/events';
import { connect, type ClientSocket } from '../helpers/server';
import type { ClusterOptions } from '../../scripts/topology/cluster';

jest.setTimeout(60_000);

/** An SDK client on `url`, over WebSocket; closed after the test. */
async function sdkClient(url: string, name: string): Promise<ParleyClient> {
  const client = new ParleyClient({ url, auth: { name }, gapFillMs: 200, socket: { transports: ['websocket'] } });
  defer(() => client.close());
  await waitFor(client, 'session', () => true, 10_000);
  return client;
}

const topologies: Array<[string, ClusterOptions]> = [
  ['one Redis', {}],
  // A cluster's bus is sharded whatever TEST_REDIS_PUBSUB says.
  ['a Redis Cluster of three shards', { redisShards: 3, env: { REDIS_PUBSUB: 'sharded' } }],
];

describe.each(topologies)('three instance processes on %s', (_name, topology) => {
  const cluster = useSharedCluster(topology);
  /** One client per instance, connected directly (not through the balancer). */
  const onEach = (name: string): Promise<ClientSocket[]> =>
    Promise.all(cluster().instances.map((i, n) => connect(i.url, `${name}${n + 1}`)));

  it('broadcasts a message sent on one instance to the room on every instance', async () => {
    const clients = await onEach('bcast');
    for (const c of clients) await ok(c, 'room:join', { room: 'broadcast' });
    const arrivals = clients.map((c) => waitFor<Message>(c, 'message', (m) => m.room === 'broadcast'));
    const { message } = await ok(clients[1], 'message:send', { room: 'broadcast', text: 'to everyone', clientId: 'b1' });
    for (const arrival of arrivals) expect(await arrival).toEqual(message);
  });

  it('shows the members of every instance, and presence joins and leaves reach every instance', async () => {
    const [a, b, c] = await onEach('pres');
    const seenOnA = collect<PresenceEvent>(a, 'presence');
    const joinOnA = await ok(a, 'room:join', { room: 'presence' });
    expect(joinOnA.members.map((u: { id: string }) => u.id)).toEqual(['pres1']);
    await ok(b, 'room:join', { room: 'presence' });
    const joinOnC = await ok(c, 'room:join', { room: 'presence' });
    expect(joinOnC.members.map((u: { id: string }) => u.id).sort()).toEqual(['pres1', 'pres2', 'pres3']);
    // Events from several instances: their order on the wire is not promised.
    await seenOnA.until(3);
    expect(seenOnA.items.map((p) => [p.event, p.user.id, p.members]).sort((x, y) => Number(x[2]) - Number(y[2]))).toEqual([
      ['join', 'pres1', 1],
      ['join', 'pres2', 2],
      ['join', 'pres3', 3],
    ]);

    const listed = await ok(b, 'rooms:list', {});
    expect(listed.rooms.find((r: { room: string }) => r.room === 'presence')).toMatchObject({ members: 3 });

    const leaveOnB = waitFor<PresenceEvent>(b, 'presence', (p) => p.event === 'leave');
    c.disconnect();
    expect(await leaveOnB).toEqual({ room: 'presence', event: 'leave', user: { id: 'pres3', name: 'pres3' }, members: 2, version: expect.any(Number) });
    const after = await ok(a, 'rooms:list', {});
    expect(after.rooms.find((r: { room: string }) => r.room === 'presence')).toMatchObject({ members: 2 });
  });

  it('answers the same history from every instance', async () => {
    const [writer] = await onEach('hist-writer');
    await ok(writer, 'room:join', { room: 'history' });
    for (let i = 1; i <= 5; i++) await ok(writer, 'message:send', { room: 'history', text: `m${i}`, clientId: `h${i}` });

    const readers = await onEach('hist-reader');
    const joins = await Promise.all(readers.map((r) => ok(r, 'room:join', { room: 'history' })));
    for (const join of joins) {
      expect(join.seq).toBe(5);
      expect(join.messages).toEqual(joins[0].messages);
    }
    expect(joins[0].messages.map((m: Message) => m.text)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);

    const pages = await Promise.all(
      cluster().instances.map(async (i) => (await fetch(`${i.url}/api/rooms/history/messages?after=2&limit=2`)).json()),
    );
    for (const page of pages) expect(page).toEqual({ messages: joins[0].messages.slice(2, 4), hasMore: true });
  });

  it('numbers sends from three instances at once 1..K with no gap or repeat, and every client gets all K in order', async () => {
    const PER_SENDER = 30;
    const total = 3 * PER_SENDER;
    const all = Array.from({ length: total }, (_, i) => i + 1);
    const senders = await onEach('burst');
    for (const s of senders) await ok(s, 'room:join', { room: 'burst' });
    const raw = senders.map((s) => collect<Message>(s, 'message'));
    // Listeners through the SDK, one per instance: the live stream of several
    // instances interleaves as their publishes reach Redis; the SDK puts it in
    // seq order (the contract's guarantee is what it hands over).
    const listeners = await Promise.all(cluster().instances.map((i, n) => sdkClient(i.url, `burst-listener${n + 1}`)));
    const handed = listeners.map((l) => {
      const got: number[] = [];
      l.on('message', (m) => got.push(m.seq));
      return got;
    });
    await Promise.all(listeners.map((l) => l.join('burst')));

    const answers = await Promise.all(
      senders.flatMap((s, n) =>
        Array.from({ length: PER_SENDER }, (_, i) => ok(s, 'message:send', { room: 'burst', text: `${n}:${i}`, clientId: `s${n}-${i}` })),
      ),
    );
    expect(answers.map((a) => a.message.seq).sort((x, y) => x - y)).toEqual(all);

    // Every socket of the room gets every message, once.
    for (const r of raw) expect((await r.until(total, 15_000)).map((m) => m.seq).sort((x, y) => x - y)).toEqual(all);
    for (const got of handed) {
      await pollUntil('the SDK to hand over every message', async () => got.length >= total, { timeoutMs: 15_000 });
      expect(got).toEqual(all);
    }
  });

  it('gives concurrent reactions from 30 users on three instances distinct revs with no gap, keeps every one, and tells every member of each once', async () => {
    const USERS = 30;
    const instances = cluster().instances;
    const members = await Promise.all(Array.from({ length: USERS }, (_, n) => connect(instances[n % instances.length].url, `reactor${n}`)));
    for (const m of members) await ok(m, 'room:join', { room: 'reactions' });
    const { message } = await ok<{ message: Message }>(members[0], 'message:send', { room: 'reactions', text: 'react!', clientId: 'r0' });
    const updates = members.map((m) => collect<MessageUpdateEvent>(m, 'message:update'));

    const answers = await Promise.all(
      members.map((m, n) => ok<{ message: Message }>(m, 'reaction:add', { room: 'reactions', id: message.id, reaction: n % 2 ? '👍' : '🎉' })),
    );
    const revs = Array.from({ length: USERS }, (_, i) => message.rev + 1 + i);
    expect(answers.map((a) => a.message.rev).sort((x, y) => x - y)).toEqual(revs);

    const { messages, rev } = await ok<ChangesAnswer>(members[1], 'room:changes', { room: 'reactions', after: 0 });
    expect(rev).toBe(message.rev + USERS);
    const users = (odd: boolean) => members.map((_, n) => `reactor${n}`).filter((_, n) => (n % 2 === 1) === odd).sort();
    expect(messages).toHaveLength(1);
    expect([[...messages[0].reactions['👍']].sort(), [...messages[0].reactions['🎉']].sort()]).toEqual([users(true), users(false)]);
    for (const u of updates) {
      const got = await u.until(USERS, 15_000);
      // Each rev once; the last one is the final state.
      expect(got.map((e) => e.message.rev).sort((x, y) => x - y)).toEqual(revs);
      expect(got.find((e) => e.message.rev === rev)!.message).toEqual(messages[0]);
    }
    // And nothing more comes: every member answers after what was sent to it.
    await Promise.all(members.map((m) => ok(m, 'rooms:list', {})));
    for (const u of updates) expect(u.items).toHaveLength(USERS);
  });

  it('spreads WebSocket connections through the balancer over the instances', async () => {
    const url = cluster().balancer!.url;
    const sessions = [];
    for (let i = 0; i < 3; i++) sessions.push(await connectSession(url, `spread${i}`));
    const ids = sessions.map((s) => s.session.instanceId).sort();
    expect(ids).toEqual(cluster().instances.map((i) => i.instanceId).sort());

    // And they are one service: a message sent through one reaches the others.
    for (const { socket } of sessions) await ok(socket, 'room:join', { room: 'via-balancer' });
    const arrivals = sessions.map(({ socket }) => waitFor<Message>(socket, 'message'));
    const { message } = await ok(sessions[2].socket, 'message:send', { room: 'via-balancer', text: 'hi', clientId: 'v1' });
    for (const arrival of arrivals) expect(await arrival).toEqual(message);
  });

  it('keeps a long-polling session on one instance with the sticky cookie, then upgrades it to WebSocket', async () => {
    const url = cluster().balancer!.url;
    // Polling only: every request of the session must reach the instance that
    // holds it, which only the balancer's cookie ensures (leastconn would
    // otherwise spread the requests).
    const polling = await Promise.all(
      [0, 1, 2].map((i) => connectSession(url, `poll${i}`, { transports: ['polling'], withCredentials: true })),
    );
    const upgrading = await connectSession(url, 'upgrade', { transports: ['polling', 'websocket'], withCredentials: true });
    const clients = [...polling, upgrading];
    for (const { socket } of clients) await ok(socket, 'room:join', { room: 'sticky' });
    const received = clients.map(({ socket }) => collect<Message>(socket, 'message'));
    for (let i = 0; i < 5; i++) await ok(clients[i % clients.length].socket, 'message:send', { room: 'sticky', text: `p${i}`, clientId: `p${i}` });
    for (const r of received) expect((await r.until(5)).map((m) => m.text)).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);

    for (const { socket } of polling) expect(socket.io.engine.transport.name).toBe('polling');
    const engine = upgrading.socket.io.engine;
    if (engine.transport.name !== 'websocket') await waitFor(engine, 'upgrade');
    expect(engine.transport.name).toBe('websocket');
    // The polling sessions lived through several round trips each without a drop.
    for (const { socket } of polling) expect(socket.connected).toBe(true);
  });
});
