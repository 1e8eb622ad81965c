/**
 * A Redis Cluster master killed (SIGKILL) while SDK clients send: with
 * three shards of one replica each and REDIS_WAIT_REPLICAS=1, every
 * acknowledged message reaches every member once and in order; sends
 * answer `unavailable` meanwhile, never `internal`; the instances follow
 * the new master on their own (commands and the room's sharded
 * subscription), and `/readyz` is 503 while the shard is down. The test
 * prints how long the room took to accept sends again.
 */
import calculateSlot from 'cluster-key-slot';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { startCluster } from '../../scripts/topology/cluster';
import { httpStatus, pollUntil } from '../../scripts/topology/instance';
import { channels } from '../../server/redis/keys';
import { defer } from '../helpers/cleanup';
import { admin } from '../helpers/redis';
import { allReceived, expectDeliveredOnceInOrder, FAST, report, ROOM, sendContinuously, spreadMembers } from '../faults/harness';

jest.setTimeout(120_000);

const MEMBERS = 6;
// How often /readyz is sampled during the failover: a period of observation, not a wait for an event.
const READYZ_SAMPLE_MS = 100;

/** The count of `parley_errors_total{code}` in an instance's /metrics (0 when never counted). */
async function errorsCounted(url: string, code: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = new RegExp(`^parley_errors_total\\{[^}]*code="${code}"[^}]*\\} (\\d+)`, 'm').exec(text);
  return line ? Number(line[1]) : 0;
}

describe('a Redis Cluster failover under load (three shards, one replica each, REDIS_WAIT_REPLICAS=1)', () => {
  it('loses no acknowledged message when the master of the room\'s shard is killed, answers unavailable meanwhile, and follows the new master', async () => {
    const cluster = await startCluster({
      instances: 3,
      inheritEnv: false,
      redisShards: 3,
      redisReplicas: 1,
      // A master unreachable for a second is taken for failed: the failover takes seconds, not the default 15.
      redisNodeTimeoutMs: 1000,
      env: { ...FAST, REDIS_PUBSUB: 'sharded', REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '300' },
      logDir: process.env.TEST_CLUSTER_LOGS,
    });
    defer(() => cluster.stop());
    const redis = cluster.redisCluster!;
    const slot = calculateSlot(ROOM);
    const victim = await redis.masterOf(slot);

    const members = await spreadMembers(cluster, cluster.instances[0], MEMBERS, MEMBERS / 3);
    const traffic = sendContinuously(members);
    await traffic.ackedCount(20);

    // What /readyz says on every instance from the kill on (no event tells).
    const readiness = new Map(cluster.instances.map((i) => [i.url, [] as number[]]));
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        await Promise.all(cluster.instances.map(async (i) => readiness.get(i.url)!.push(await httpStatus(`${i.url}/readyz`, 500))));
        await delay(READYZ_SAMPLE_MS);
      }
    })();

    // The first send refused after the kill, and the first one stored after that: when the room took sends again.
    const killedAt = performance.now();
    let firstRefusedAt: number | undefined;
    let firstOkAt: number | undefined;
    for (const m of members) {
      m.client.on('outbox', (e) => {
        const now = performance.now();
        if (e.status === 'queued' && e.attempts > 0 && now > killedAt) firstRefusedAt ??= now;
        if (e.status === 'sent' && firstRefusedAt !== undefined) firstOkAt ??= now;
      });
    }
    await victim.kill();

    // Its replica takes over; the old master comes back as a replica of it, as an operator would bring it back.
    await pollUntil('the replica to take over the room\'s slot', async () => (await redis.masterOf(slot).catch(() => victim)) !== victim, { timeoutMs: 30_000, intervalMs: 100 });
    const promotedAt = performance.now();
    const promoted = await redis.masterOf(slot);
    await victim.restart();
    await redis.waitHealthy();
    const backAt = performance.now();

    await traffic.ackedCount(traffic.acked.length + 10);
    await traffic.finish(5);
    watching = false;
    await watcher;
    const max = Math.max(...traffic.acked.map((a) => a.message.seq));
    await allReceived(members, max);
    expectDeliveredOnceInOrder(members, traffic);

    // Refused while the shard was down, and never with `internal`.
    const counted = await Promise.all(cluster.instances.map(async (i) => [await errorsCounted(i.url, 'unavailable'), await errorsCounted(i.url, 'internal')]));
    expect(counted.reduce((sum, [unavailable]) => sum + unavailable, 0)).toBeGreaterThan(0);
    expect(counted.map(([, internal]) => internal)).toEqual([0, 0, 0]);
    // Not ready while the shard was down; ready again after.
    for (const [url, statuses] of readiness) {
      expect({ url, down: statuses.includes(503) }).toEqual({ url, down: true });
      expect(await httpStatus(`${url}/readyz`)).toBe(200);
    }
    // The room's sharded subscription moved to the new master: every instance with members there hears it.
    const op = await admin(promoted.url);
    expect(await op.pubSubShardNumSub(channels.room(ROOM))).toEqual({ [channels.room(ROOM)]: 3 });

    expect(firstOkAt).toBeDefined();
    const after = (t: number) => `${Math.round(t - killedAt)} ms`;
    process.stdout.write(
      `[fault] Redis master SIGKILL: first send refused after ${after(firstRefusedAt!)}, replica promoted after ${after(promotedAt)}, old master back as its replica after ${after(backAt)}, first ok after ${after(firstOkAt!)}\n`,
    );
    report('SIGKILL of a Redis Cluster master', members, traffic, killedAt);
  });
});
