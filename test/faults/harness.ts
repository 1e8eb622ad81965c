import { performance } from 'node:perf_hooks';
import type { Message, ParleyClient } from '../../client/sdk';
import { startCluster, type Cluster } from '../../scripts/topology/cluster';
import type { Instance } from '../../scripts/topology/instance';
import { defer } from '../helpers/cleanup';
import { sdkClient } from '../sdk/sdk';

/**
 * The fault tests' world: Redis with an append-only file, three instance
 * processes behind HAProxy, and SDK clients that join one room and keep
 * sending while something breaks. Afterwards every client must have been
 * handed every acknowledged message once, in order.
 */

/** Short heartbeats so that a frozen instance is noticed in seconds, not a minute. */
export const FAST = {
  LIMITS: 'off',
  LOG_LEVEL: 'warn',
  PING_INTERVAL_MS: '1000',
  PING_TIMEOUT_MS: '1000',
  PRESENCE_HEARTBEAT_MS: '500',
  PRESENCE_STALE_MS: '2000',
  DRAIN_TIMEOUT_MS: '3000',
  // TEST_REDIS_PUBSUB=classic runs the faults over classic pub/sub (empty: by Redis's version).
  REDIS_PUBSUB: process.env.TEST_REDIS_PUBSUB ?? '',
};

export const ROOM = 'faults';

export async function startFaultCluster(): Promise<Cluster> {
  const cluster = await startCluster({ instances: 3, inheritEnv: false, env: FAST });
  defer(() => cluster.stop());
  return cluster;
}

export interface Member {
  name: string;
  client: ParleyClient;
  /** Messages handed to the application, in the order they came. */
  got: Array<{ message: Message; at: number }>;
  /** When the client was last seen connected again after a drop. */
  reconnectedAt?: number;
  disconnectedAt?: number;
}

/**
 * Connects `count` clients through the balancer so that `onVictim` of them
 * are on `victim` and the rest on the other instances (connections that land
 * where no more are wanted are closed again), and joins them all to ROOM.
 */
export async function spreadMembers(cluster: Cluster, victim: Instance, count: number, onVictim: number): Promise<Member[]> {
  const url = cluster.balancer!.url;
  const members: Member[] = [];
  // Connections that landed where no more are wanted stay open until the
  // spread is done: the balancer counts connections (leastconn), so closing
  // them at once would send the next one to the same place again.
  const extras: ParleyClient[] = [];
  let victims = 0;
  let attempts = 0;
  while (members.length < count) {
    if (++attempts > count * 6) throw new Error('the balancer did not spread connections over the instances');
    const name = `m${attempts}`;
    // Delays longer than the unit tests': three processes and HAProxy share two cores.
    const client = sdkClient(url, name, {
      gapFillMs: 200,
      ackTimeoutMs: 3000,
      backoff: { baseMs: 100, maxMs: 1000 },
      socket: { transports: ['websocket'], reconnectionDelay: 100, reconnectionDelayMax: 500, randomizationFactor: 0.2 },
    });
    const session = await new Promise<string>((resolve, reject) => {
      client.once('session', (s) => resolve(s.instanceId));
      client.once('error', reject);
    });
    const onIt = session === victim.instanceId;
    if ((onIt && victims >= onVictim) || (!onIt && members.length - victims >= count - onVictim)) {
      extras.push(client);
      continue;
    }
    if (onIt) victims++;
    const member: Member = { name, client, got: [] };
    client.on('message', (message) => member.got.push({ message, at: performance.now() }));
    client.on('status', (status) => {
      if (status === 'connected') member.reconnectedAt = performance.now();
      else member.disconnectedAt ??= performance.now();
    });
    members.push(member);
  }
  for (const extra of extras) extra.close();
  await Promise.all(members.map((m) => m.client.join(ROOM)));
  return members;
}

export interface Traffic {
  /** Every message answered ok, with when its send started. */
  acked: Array<{ message: Message; sentAt: number }>;
  /** Resolves once `n` messages were answered ok. */
  ackedCount(n: number): Promise<void>;
  /** Stops sending after each member sent `more` further messages; resolves when every send has settled. */
  finish(more: number): Promise<void>;
}

/**
 * Every member sends one message after another (the SDK resends until the
 * service answers ok), paced so that sending goes on while a fault happens.
 */
export function sendContinuously(members: Member[], paceMs = 40): Traffic {
  const acked: Traffic['acked'] = [];
  const countWaiters: Array<{ n: number; resolve: () => void }> = [];
  let limit = Infinity;
  const sent = members.map(() => 0);
  const loops = members.map(async (member, i) => {
    while (sent[i] < limit) {
      const sentAt = performance.now();
      const message = await member.client.send(ROOM, `${member.name} #${sent[i]}`);
      sent[i]++;
      acked.push({ message, sentAt });
      for (const w of [...countWaiters]) {
        if (acked.length >= w.n) {
          countWaiters.splice(countWaiters.indexOf(w), 1);
          w.resolve();
        }
      }
      await new Promise((r) => setTimeout(r, paceMs));
    }
  });
  return {
    acked,
    ackedCount: (n) =>
      acked.length >= n ? Promise.resolve() : new Promise((resolve) => countWaiters.push({ n, resolve })),
    async finish(more) {
      limit = Math.max(...sent) + more;
      await Promise.all(loops);
    },
  };
}

/** Resolves once every member was handed every message up to `seq`; rejects naming the laggards after `timeoutMs`. */
export function allReceived(members: Member[], seq: number, timeoutMs = 30_000): Promise<void> {
  const done = () => members.every((m) => (m.got.at(-1)?.message.seq ?? 0) >= seq);
  if (done()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      const behind = members.map((m) => `${m.name}@${m.got.at(-1)?.message.seq ?? 0}`).join(', ');
      reject(new Error(`not every member reached seq ${seq} within ${timeoutMs} ms: ${behind}`));
    }, timeoutMs);
    const check = () => {
      if (!done()) return;
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      for (const m of members) m.client.off('message', check);
    };
    for (const m of members) m.client.on('message', check);
  });
}

/**
 * The guarantee: every member got exactly 1..max once each in order, and
 * every acknowledged message is among them, as it was stored.
 */
export function expectDeliveredOnceInOrder(members: Member[], traffic: Traffic): number {
  const max = Math.max(...traffic.acked.map((a) => a.message.seq));
  const all = Array.from({ length: max }, (_, i) => i + 1);
  for (const m of members) {
    expect({ member: m.name, seqs: m.got.map((g) => g.message.seq) }).toEqual({ member: m.name, seqs: all });
    const byId = new Map(m.got.map((g) => [g.message.id, g.message]));
    for (const { message } of traffic.acked) expect(byId.get(message.id)).toEqual(message);
  }
  return max;
}

/** What a fault cost, for the report: the worst send-to-delivery delay and the slowest reconnection. */
export function report(name: string, members: Member[], traffic: Traffic, faultAt: number): void {
  const sentAt = new Map(traffic.acked.map((a) => [a.message.id, a.sentAt]));
  let worst = 0;
  for (const m of members) {
    for (const g of m.got) {
      const t = sentAt.get(g.message.id);
      if (t !== undefined) worst = Math.max(worst, g.at - t);
    }
  }
  const reconnect = Math.max(
    0,
    ...members.filter((m) => m.disconnectedAt !== undefined && m.reconnectedAt !== undefined).map((m) => m.reconnectedAt! - faultAt),
  );
  const line = `[fault] ${name}: ${traffic.acked.length} acked, ${members.length} members, worst send-to-delivery ${Math.round(worst)} ms, slowest reconnection ${Math.round(reconnect)} ms after the fault\n`;
  process.stdout.write(line);
}
