import { performance } from 'node:perf_hooks';
import type { Cluster } from '../../scripts/topology/cluster';
import { pollUntil, httpStatus } from '../../scripts/topology/instance';
import {
  allReceived,
  allSettled,
  expectChangesOnceInRevOrder,
  expectDeliveredOnceInOrder,
  report,
  sendContinuously,
  serverState,
  spreadMembers,
  startFaultCluster,
  type Member,
  type Traffic,
} from './harness';

/*
 * The delivery guarantee under faults, with real processes: every message
 * answered ok reaches every member that stayed joined, in order, once; and
 * every edit and reaction answered ok reaches them once, in rev order.
 */

/** Waits for every member to have every message and every change, then checks they came once each, in order. */
async function expectGuarantee(cluster: Cluster, members: Member[], traffic: Traffic): Promise<void> {
  const max = Math.max(...traffic.acked.map((a) => a.message.seq));
  await allReceived(members, max);
  expectDeliveredOnceInOrder(members, traffic);
  const server = await serverState(cluster.balancer!.url);
  await allSettled(members, server);
  expectChangesOnceInRevOrder(members, traffic, server);
}

jest.setTimeout(120_000);

const MEMBERS = 6;

describe('the delivery guarantee under faults (Redis with AOF, three instances, HAProxy)', () => {
  it('holds when the instance half of the members are on is killed (SIGKILL) while they send', async () => {
    const cluster = await startFaultCluster();
    const victim = cluster.instances[0];
    const members = await spreadMembers(cluster, victim, MEMBERS, MEMBERS / 2);
    const traffic = sendContinuously(members);
    await traffic.ackedCount(20);

    // Its members edit and react the moment they lose the instance: the
    // changes wait in their outboxes until they are connected elsewhere.
    const stranded = members.filter((m) => m.client.session?.instanceId === victim.instanceId);
    const madeAway = stranded.map(
      (m) =>
        new Promise<Promise<void>>((resolve) =>
          m.client.once('status', (status) => {
            expect(status).not.toBe('connected');
            resolve(traffic.changeNow(m));
          }),
        ),
    );
    const faultAt = performance.now();
    await victim.kill();
    await Promise.all(await Promise.all(madeAway));
    await traffic.finish(10);

    await expectGuarantee(cluster, members, traffic);
    // Those on the dead instance are served by the others now.
    const now = new Set(members.map((m) => m.client.session?.instanceId));
    expect(now.has(victim.instanceId)).toBe(false);
    report('SIGKILL of an instance', members, traffic, faultAt);
  });

  it('holds when an instance drains (SIGTERM) while its members send, and it exits 0', async () => {
    const cluster = await startFaultCluster();
    const victim = cluster.instances[1];
    const members = await spreadMembers(cluster, victim, MEMBERS, MEMBERS / 2);
    const traffic = sendContinuously(members);
    await traffic.ackedCount(20);

    const faultAt = performance.now();
    const code = await victim.stop();
    expect(code).toBe(0);
    await traffic.finish(10);

    await expectGuarantee(cluster, members, traffic);
    report('SIGTERM (drain) of an instance', members, traffic, faultAt);
  });

  it('holds when an instance freezes (SIGSTOP) past the heartbeat timeout and then resumes (SIGCONT)', async () => {
    const cluster = await startFaultCluster();
    const victim = cluster.instances[2];
    const members = await spreadMembers(cluster, victim, MEMBERS, MEMBERS / 2);
    const traffic = sendContinuously(members);
    await traffic.ackedCount(20);

    const faultAt = performance.now();
    victim.pause();
    // Frozen until its members have moved and another instance reaped its
    // presence (PRESENCE_STALE_MS is 2 s): the others list only live members.
    const others = members.filter((m) => m.client.session?.instanceId !== victim.instanceId);
    await pollUntil(
      'members moving off the frozen instance',
      async () => members.every((m) => m.client.status === 'connected' && m.client.session?.instanceId !== victim.instanceId),
      { timeoutMs: 20_000 },
    );
    await traffic.ackedCount(traffic.acked.length + 10);
    victim.resume();
    await pollUntil('the resumed instance being ready again', async () => (await httpStatus(`${victim.url}/readyz`)) === 200, {
      timeoutMs: 20_000,
    });
    await traffic.finish(10);

    await expectGuarantee(cluster, members, traffic);
    // Every member is present exactly once, wherever it now is.
    expect(others[0].client.members('faults').map((u) => u.id).sort()).toEqual(members.map((m) => m.name).sort());
    report('SIGSTOP then SIGCONT of an instance', members, traffic, faultAt);
  });

  it('holds when Redis stops for a few seconds and starts again with its data', async () => {
    const cluster = await startFaultCluster();
    const members = await spreadMembers(cluster, cluster.instances[0], MEMBERS, 2);
    const traffic = sendContinuously(members);
    await traffic.ackedCount(20);

    const faultAt = performance.now();
    await cluster.redis!.stop();
    await pollUntil(
      'every instance reporting not ready',
      async () => (await Promise.all(cluster.instances.map((i) => httpStatus(`${i.url}/readyz`)))).every((s) => s === 503),
      { timeoutMs: 10_000 },
    );
    // Redis stays down until every member has a send or a change waiting in
    // its outbox that went out four times (answered `unavailable`, resent
    // with backoff), and an edit or a reaction made meanwhile queued behind
    // it: none of those is answered ok meanwhile.
    const answeredWhileDown = [traffic.acked.length, traffic.changed.length];
    await pollUntil(
      'a send or a change in every outbox tried four times, and a change queued',
      async () =>
        members.every((m) => {
          const pending = m.client.pending('faults');
          return pending.some((e) => e.attempts >= 4) && pending.some((e) => e.kind !== 'send');
        }),
      { timeoutMs: 20_000 },
    );
    expect([traffic.acked.length, traffic.changed.length]).toEqual(answeredWhileDown);
    await cluster.redis!.restart();
    await traffic.finish(10);

    await expectGuarantee(cluster, members, traffic);
    report('Redis stop and restart', members, traffic, faultAt);
  });
});
