/**
 * Faults with real processes: an instance killed, an instance drained, Redis
 * stopped and restarted. Each test breaks its own topology (three instances,
 * one Redis with an append-only file, HAProxy).
 */
import type { Message, PresenceEvent, SessionEvent } from '../../protocol';
import { connectSession, readyzBecomes, startTestCluster } from '../helpers/cluster';
import { call, ok, waitFor } from '../helpers/events';
import { connect } from '../helpers/server';

jest.setTimeout(90_000);

describe('faults in a cluster of processes', () => {
  it('takes the users of a killed instance out of their rooms, and the balancer sends newcomers elsewhere', async () => {
    const cluster = await startTestCluster();
    const [dying, a, b] = cluster.instances;
    const alice = await connect(a.url, 'alice');
    const bob = await connect(b.url, 'bob');
    const carol = await connect(dying.url, 'carol');
    const dave = await connect(dying.url, 'dave');
    for (const s of [alice, bob, carol, dave]) await ok(s, 'room:join', { room: 'lobby' });
    await ok(dave, 'room:join', { room: 'side' });
    const before = await ok(alice, 'rooms:list', {});
    expect(before.rooms).toEqual([
      { room: 'lobby', members: 4, seq: 0 },
      { room: 'side', members: 1, seq: 0 },
    ]);

    const left = (id: string) => waitFor<PresenceEvent>(bob, 'presence', (p) => p.event === 'leave' && p.user.id === id, 30_000);
    const carolLeft = left('carol');
    const daveLeft = left('dave');
    await dying.kill();
    // Within the contract's 30 s; PRESENCE_STALE_MS=2000 makes it a few seconds here.
    const leaves = await Promise.all([carolLeft, daveLeft]);
    expect(leaves.map((l) => [l.room, l.members]).sort()).toEqual([
      ['lobby', 2],
      ['lobby', 3],
    ]);

    const after = await ok(alice, 'rooms:list', {});
    expect(after.rooms).toEqual([{ room: 'lobby', members: 2, seq: 0 }]);
    const rejoined = await ok(bob, 'room:join', { room: 'lobby' });
    expect(rejoined.members.map((u: { id: string }) => u.id).sort()).toEqual(['alice', 'bob']);

    const newcomers = await Promise.all([0, 1, 2, 3].map((i) => connectSession(cluster.balancer!.url, `new${i}`)));
    for (const { session } of newcomers) expect([a.instanceId, b.instanceId]).toContain(session.instanceId);
  });

  it("moves a drained instance's clients through the balancer to another instance, then exits 0", async () => {
    const cluster = await startTestCluster();
    const url = cluster.balancer!.url;
    const reconnecting = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 500 };
    const clients = await Promise.all([0, 1, 2].map((i) => connectSession(url, `user${i}`, reconnecting)));
    const moving = clients[0];
    const victim = cluster.instances.find((i) => i.instanceId === moving.session.instanceId)!;
    const stayer = clients.find((c) => c.session.instanceId !== victim.instanceId)!;
    for (const { socket } of clients) await ok(socket, 'room:join', { room: 'drain' });

    const reason = waitFor<string>(moving.socket, 'disconnect');
    const nextSession = waitFor<SessionEvent>(moving.socket, 'session', () => true, 15_000);
    const exitCode = victim.stop();
    expect(await reason).toBe('transport close');
    const session = await nextSession;
    expect(session.instanceId).not.toBe(victim.instanceId);
    expect(cluster.instances.map((i) => i.instanceId)).toContain(session.instanceId);
    expect(await exitCode).toBe(0);

    // The moved client is a full member again once it re-joins.
    await ok(moving.socket, 'room:join', { room: 'drain' });
    const toStayer = waitFor<Message>(stayer.socket, 'message');
    const { message } = await ok(moving.socket, 'message:send', { room: 'drain', text: 'moved', clientId: 'd1' });
    expect(await toStayer).toEqual(message);
  });

  it('answers unavailable while Redis is down, turns /readyz 503 then 200, and keeps every message and the broadcasts after a restart', async () => {
    const cluster = await startTestCluster({ balancer: false });
    const [a, b, c] = cluster.instances;
    const alice = await connect(a.url, 'alice');
    const bob = await connect(b.url, 'bob');
    for (const s of [alice, bob]) await ok(s, 'room:join', { room: 'durable' });
    const before = [];
    for (let i = 1; i <= 3; i++) before.push((await ok(alice, 'message:send', { room: 'durable', text: `m${i}`, clientId: `m${i}` })).message);

    await cluster.redis!.stop();
    await Promise.all(cluster.instances.map((i) => readyzBecomes(i.url, 503)));
    const refused = await call(alice, 'message:send', { room: 'durable', text: 'lost?', clientId: 'down1' }, 10_000);
    expect(refused).toMatchObject({ ok: false, error: { code: 'unavailable' } });

    await cluster.redis!.restart();
    await Promise.all(cluster.instances.map((i) => readyzBecomes(i.url, 200, 30_000)));

    // Every message from before is still there, and nothing from the outage.
    const carol = await connect(c.url, 'carol');
    const join = await ok(carol, 'room:join', { room: 'durable' });
    expect(join.seq).toBe(3);
    expect(join.messages).toEqual(before);

    // Broadcasts cross instances again (the adapter resubscribed).
    const toBob = waitFor<Message>(bob, 'message', (m) => m.text === 'after', 15_000);
    const toCarol = waitFor<Message>(carol, 'message', (m) => m.text === 'after', 15_000);
    const { message } = await ok(alice, 'message:send', { room: 'durable', text: 'after', clientId: 'down1' });
    expect(message.seq).toBe(4);
    expect(await toBob).toEqual(message);
    expect(await toCarol).toEqual(message);
  });
});
