import { performance } from 'node:perf_hooks';
import { CHANGES_MAX_LIMIT, type ChangesAnswer } from '../../protocol';
import type { Message, ParleyClient } from '../../client/sdk';
import { startCluster, type Cluster } from '../../scripts/topology/cluster';
import type { Instance } from '../../scripts/topology/instance';
import { defer } from '../helpers/cleanup';
import { ok, waitFor } from '../helpers/events';
import { client } from '../helpers/server';
import { sdkClient } from '../sdk/sdk';

/**
 * The fault tests' world: Redis with an append-only file, three instance
 * processes behind HAProxy, and SDK clients that join one room and keep
 * sending, editing and reacting while something breaks. Afterwards every
 * client must have been handed every acknowledged message once, in order,
 * and every acknowledged change once, in rev order, ending with the state
 * the server has.
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

/** One `message` or `update` event as the application got it. */
export interface Handed {
  kind: 'message' | 'update';
  message: Message;
  at: number;
}

export interface Member {
  name: string;
  client: ParleyClient;
  /** Messages handed to the application, in the order they came. */
  got: Array<{ message: Message; at: number }>;
  /** Messages and updates handed to the application, in the order they came. */
  handed: Handed[];
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
    const member: Member = { name, client, got: [], handed: [] };
    client.on('message', (message) => {
      const at = performance.now();
      member.got.push({ message, at });
      member.handed.push({ kind: 'message', message, at });
    });
    client.on('update', (message) => member.handed.push({ kind: 'update', message, at: performance.now() }));
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
  /** Every change (edit, reaction added or removed) answered ok: the message's state after it, and when it was asked for. */
  changed: Array<{ message: Message; sentAt: number }>;
  /** Resolves once `n` messages were answered ok. */
  ackedCount(n: number): Promise<void>;
  /**
   * Has `member` edit its latest message and react to the latest message of
   * another member at once, besides its loop (queued in its outbox if it is
   * not connected); resolves once both were answered ok.
   */
  changeNow(member: Member): Promise<void>;
  /** Stops after each member sent `more` further messages; resolves when every send and change has settled. */
  finish(more: number): Promise<void>;
}

/** The reactions the traffic gives: a few, so that messages collect several from several users. */
const REACTIONS = ['👍', '🎉', '❤️'];

/**
 * Every member sends one message after another, and with each one changes
 * a message: in turn it edits its own previous message, reacts to the
 * latest message of another member, and takes that reaction back. Each
 * change is asked for right behind its send, so both wait in the outbox
 * while a fault lasts; the SDK resends them until the service answers ok.
 * Paced so that sending goes on while a fault happens.
 */
export function sendContinuously(members: Member[], paceMs = 40): Traffic {
  const acked: Traffic['acked'] = [];
  const changed: Traffic['changed'] = [];
  const countWaiters: Array<{ n: number; resolve: () => void }> = [];
  let limit = Infinity;
  const sent = members.map(() => 0);
  /** Each member's latest message answered ok. */
  const latest = new Map<Member, Message>();
  const change = (ask: () => Promise<Message>) => {
    const sentAt = performance.now();
    return ask().then((message) => void changed.push({ message, sentAt }));
  };
  const othersLatest = (member: Member) => [...acked].reverse().find((a) => a.message.user.id !== member.client.session?.user.id)?.message;
  const loops = members.map(async (member, i) => {
    const { client } = member;
    const reaction = REACTIONS[i % REACTIONS.length];
    let reacted: Message | undefined;
    while (sent[i] < limit) {
      const sentAt = performance.now();
      const sending = client.send(ROOM, `${member.name} #${sent[i]}`);
      const mine = latest.get(member);
      const turn = sent[i] % 3;
      let changing: Promise<void> | undefined;
      if (turn === 0 && mine) {
        changing = change(() => client.edit(ROOM, mine.id, `${mine.text} (edited)`));
      } else if (turn === 1) {
        const target = (reacted = othersLatest(member));
        if (target) changing = change(() => client.react(ROOM, target.id, reaction));
      } else if (turn === 2 && reacted) {
        const target = reacted;
        changing = change(() => client.unreact(ROOM, target.id, reaction));
      }
      const message = await sending;
      latest.set(member, message);
      acked.push({ message, sentAt });
      for (const w of [...countWaiters]) {
        if (acked.length >= w.n) {
          countWaiters.splice(countWaiters.indexOf(w), 1);
          w.resolve();
        }
      }
      await changing;
      sent[i]++;
      await new Promise((r) => setTimeout(r, paceMs));
    }
  });
  return {
    acked,
    changed,
    ackedCount: (n) =>
      acked.length >= n ? Promise.resolve() : new Promise((resolve) => countWaiters.push({ n, resolve })),
    async changeNow(member) {
      const { client } = member;
      const mine = latest.get(member);
      const target = othersLatest(member);
      await Promise.all([
        mine && change(() => client.edit(ROOM, mine.id, `${mine.text} (edited while away)`)),
        target && change(() => client.react(ROOM, target.id, '🔥')),
      ]);
    },
    async finish(more) {
      limit = Math.max(...sent) + more;
      await Promise.all(loops);
    },
  };
}

/**
 * Resolves once `done()` holds, checked whenever a member is handed a message
 * or an update; rejects with `laggards()` in the message after `timeoutMs`.
 */
function whenMembers(members: Member[], done: () => boolean, what: string, laggards: () => string, timeoutMs: number): Promise<void> {
  if (done()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`not every member ${what} within ${timeoutMs} ms: ${laggards()}`));
    }, timeoutMs);
    const check = () => {
      if (!done()) return;
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      for (const m of members) m.client.off('message', check).off('update', check);
    };
    for (const m of members) m.client.on('message', check).on('update', check);
  });
}

/** Resolves once every member was handed every message up to `seq`; rejects naming the laggards after `timeoutMs`. */
export function allReceived(members: Member[], seq: number, timeoutMs = 30_000): Promise<void> {
  const last = (m: Member) => m.got.at(-1)?.message.seq ?? 0;
  return whenMembers(
    members,
    () => members.every((m) => last(m) >= seq),
    `reached seq ${seq}`,
    () => members.map((m) => `${m.name}@${last(m)}`).join(', '),
    timeoutMs,
  );
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
    // As stored, or newer: a message changed before it was handed over comes in its latest state.
    for (const { message } of traffic.acked) expect(strip(byId.get(message.id))).toEqual(strip(message));
  }
  return max;
}

/** A message without what changes (text, reactions, rev): what its send stored for good. */
function strip(message: Message | undefined) {
  if (!message) return undefined;
  const { text: _t, reactions: _r, rev: _v, editedTs: _e, ...kept } = message;
  return kept;
}

/**
 * Every message of ROOM in its current state on the service, by id (read
 * with room:changes after 0, paging). Its socket reconnects on its own like
 * the members': after a fault the balancer may still count instances down.
 */
export async function serverState(url: string): Promise<Map<string, Message>> {
  const socket = client(url, { name: 'auditor' }, { transports: ['websocket'], reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 500 });
  const session = waitFor(socket, 'session', () => true, 15_000);
  socket.connect();
  await session;
  const state = new Map<string, Message>();
  try {
    for (let after = 0; ; ) {
      const page = await ok<ChangesAnswer>(socket, 'room:changes', { room: ROOM, after, limit: CHANGES_MAX_LIMIT });
      for (const message of page.messages) state.set(message.id, message);
      const last = page.messages.at(-1);
      if (!page.hasMore || !last) return state;
      after = last.rev;
    }
  } finally {
    socket.disconnect();
  }
}

/** Each message's latest state a member was handed, by id. */
function latestStates(member: Member): Map<string, Message> {
  const latest = new Map<string, Message>();
  for (const { message } of member.handed) latest.set(message.id, message);
  return latest;
}

/** Resolves once every member's latest state of every message is the service's; rejects naming the laggards after `timeoutMs`. */
export function allSettled(members: Member[], server: Map<string, Message>, timeoutMs = 30_000): Promise<void> {
  const behind = (m: Member) => {
    const latest = latestStates(m);
    return [...server.values()].filter((s) => (latest.get(s.id)?.rev ?? 0) < s.rev).length;
  };
  return whenMembers(
    members,
    () => members.every((m) => behind(m) === 0),
    'got the latest state of every message',
    () => members.map((m) => `${m.name} ${behind(m)} behind`).join(', '),
    timeoutMs,
  );
}

/**
 * The guarantee for changes: every member was handed each message's states
 * with strictly increasing revs (no change twice, none older after a newer
 * one), in rev order (a hand-over never has a rev below an `update` handed
 * over before it: only a catch-up's new messages, which come in seq order,
 * may have revs out of order among themselves), and ended with the state of
 * every message the service has, every acknowledged change in it.
 */
export function expectChangesOnceInRevOrder(members: Member[], traffic: Traffic, server: Map<string, Message>): void {
  expect(traffic.changed.length).toBeGreaterThan(0);
  for (const m of members) {
    const revsById = new Map<string, number[]>();
    let lastUpdateRev = 0;
    const outOfOrder: string[] = [];
    for (const { kind, message } of m.handed) {
      revsById.set(message.id, [...(revsById.get(message.id) ?? []), message.rev]);
      if (message.rev <= lastUpdateRev) outOfOrder.push(`${kind} ${message.seq}@${message.rev} after an update @${lastUpdateRev}`);
      if (kind === 'update') lastUpdateRev = message.rev;
    }
    expect({ member: m.name, outOfOrder }).toEqual({ member: m.name, outOfOrder: [] });
    const notIncreasing = [...revsById].filter(([, revs]) => revs.some((rev, i) => i > 0 && rev <= revs[i - 1]));
    expect({ member: m.name, notIncreasing }).toEqual({ member: m.name, notIncreasing: [] });
    const latest = latestStates(m);
    expect({ member: m.name, states: [...latest.values()].sort((a, b) => a.seq - b.seq) }).toEqual({
      member: m.name,
      states: [...server.values()].sort((a, b) => a.seq - b.seq),
    });
  }
  for (const { message } of traffic.changed) expect(server.get(message.id)!.rev).toBeGreaterThanOrEqual(message.rev);
}

/**
 * What a fault cost, for the report: the worst send-to-delivery delay of a
 * message and of a change (asked for, to a member handed a state with it),
 * and the slowest reconnection.
 */
export function report(name: string, members: Member[], traffic: Traffic, faultAt: number): void {
  const sentAt = new Map(traffic.acked.map((a) => [a.message.id, a.sentAt]));
  let worst = 0;
  let worstChange = 0;
  for (const m of members) {
    for (const g of m.got) {
      const t = sentAt.get(g.message.id);
      if (t !== undefined) worst = Math.max(worst, g.at - t);
    }
    for (const { message, sentAt: asked } of traffic.changed) {
      const reached = m.handed.find((h) => h.message.id === message.id && h.message.rev >= message.rev);
      if (reached) worstChange = Math.max(worstChange, reached.at - asked);
    }
  }
  const reconnect = Math.max(
    0,
    ...members.filter((m) => m.disconnectedAt !== undefined && m.reconnectedAt !== undefined).map((m) => m.reconnectedAt! - faultAt),
  );
  const line =
    `[fault] ${name}: ${traffic.acked.length} messages and ${traffic.changed.length} changes acked, ${members.length} members, ` +
    `worst send-to-delivery ${Math.round(worst)} ms (changes ${Math.round(worstChange)} ms), slowest reconnection ${Math.round(reconnect)} ms after the fault\n`;
  process.stdout.write(line);
}
