/**
 * One run against one target: start (or reach) it, connect and join the
 * clients, measure the profile's main stage (traffic, a search for the
 * highest rate, a connect storm, or idle connections), and stop what was
 * started. Everything the report shows comes from here.
 */
import { randomBytes } from 'node:crypto';
import { drive, type PhaseFigures, type SenderSocket } from './drive';
import { Fleet, layout, type ConnectFigures, type Layout } from './fleet';
import { heapAfterGc } from './heap';
import type { Options, TargetKind } from './options';
import type { Progress } from './progress';
import { RedisProbe } from './redis-probe';
import { snapshot, trafficBetween, type InstanceTraffic } from './redis-traffic';
import { metricsReading, procReading, ResourceMonitor, type ProcessFigures } from './resources';
import { round } from './samples';
import { findMax, unsustained, type SearchResult } from './search';
import { Tally } from './tally';
import { attachTarget, startTarget, type Target } from './target';

export interface HeapFigures {
  /** `inspector`: after a full GC, over the DevTools protocol; `metrics`: /metrics, no GC forced (rough). */
  source: 'inspector' | 'metrics';
  instances: Array<{
    instance: string;
    /** Connections of this run on the instance. */
    connections: number;
    beforeBytes: number;
    afterBytes: number;
    perConnectionBytes?: number;
    /** RSS growth per connection, from /proc (processes started here). */
    rssPerConnectionBytes?: number;
  }>;
}

export interface TrafficFigures extends InstanceTraffic {
  /** Rooms with at least one member on the instance. */
  roomsWithMembers: number;
  /** Acked sends into those rooms: what it must receive. */
  relevantBroadcasts: number;
  /** Acked sends into every room. */
  allBroadcasts: number;
  /** busBytes / relevantBroadcasts: about one broadcast's size when it receives only its rooms' traffic. */
  busBytesPerRelevantBroadcast?: number;
}

export interface RunResult {
  target: TargetKind;
  description: string;
  run: number;
  profile: string;
  load: {
    clients: number;
    rooms: number;
    membersPerRoom: { min: number; max: number };
    senders: number;
    rate: number;
    duration: number;
    warmup: number;
    placement: string;
  };
  connections: ConnectFigures & { dropped: number };
  /** The measured traffic phase (with --find-max: the highest sustained step). */
  traffic?: PhaseFigures;
  /** Acked sends of the measured phase by the instance their sender was connected to. */
  sendsByInstance?: Record<string, number>;
  findMax?: SearchResult;
  /** Over the main stage: traffic, the connect storm, or the idle hold. */
  resources: { stage: string; seconds: number; processes: ProcessFigures[] };
  redisTraffic: { instances?: TrafficFigures[]; unavailable?: string };
  heap: HeapFigures | { unavailable: string };
  /** What went wrong, one line each; empty when nothing did. */
  problems: string[];
}

/** Targets started and not yet stopped, for Ctrl-C and exit. */
export const running = new Set<Target>();
/** Targets being started: a signal waits for them, then stops them. */
export const starting = new Set<Promise<Target>>();

export async function runOnce(kind: TargetKind, options: Options, progress: Progress, run: number): Promise<RunResult> {
  const label = `${kind}-${run}`;
  progress.line(`${kind} (run ${run}): ${options.urls ? 'reaching the service' : `starting Redis, ${options.instances} instance(s) and HAProxy`} ...`);
  const start = options.urls ? attachTarget(kind, kind === 'relay' ? options.relayUrls! : options.urls, options) : startTarget(kind, options, label);
  starting.add(start);
  const target = await start.finally(() => starting.delete(start));
  running.add(target);
  let redis: RedisProbe | undefined;
  const fleets: Fleet[] = [];
  try {
    if (target.redisUrl) {
      const probe = await RedisProbe.connect(target.redisUrl);
      if (typeof probe === 'string') progress.line(`redis: ${probe}; its figures are unavailable`);
      else redis = probe;
    }
    const nonce = randomBytes(3).toString('hex');
    const plan = layout(options, nonce);

    // Heap per connection: a few clients first, so that code compiled and
    // caches filled by the first connections are in the baseline, not
    // counted against the N measured.
    const measureHeap = options.inspect || options.profile === 'idle';
    let heapBefore: Map<string, { heap?: number; rss?: number }> | undefined;
    if (measureHeap) {
      const warm = new Fleet(layout({ clients: Math.max(20, Math.ceil(options.clients / 100)), rooms: Math.max(1, Math.ceil(options.rooms / 100)), senders: 1 }, `${nonce}w`), target, options, () => {});
      fleets.push(warm);
      await warm.connect(progress, `${nonce}w`);
      heapBefore = await readHeaps(target);
    }

    let tally: Tally | undefined;
    const fleet = new Fleet(plan, target, options, (client, frame) => tally?.delivered(client, frame));
    fleets.push(fleet);
    const storm = options.profile === 'connect-storm';
    const stormMonitor = storm ? new ResourceMonitor(target, redis) : undefined;
    await stormMonitor?.start();
    const connections = await fleet.connect(progress, nonce);
    const stormResources = await stormMonitor?.stop();
    learnInstances(target, fleet);

    // Only what joined counts: a member that failed to join is no receiver.
    const joinedRoomOf = plan.roomOf.map((r, i) => (fleet.sockets[i] ? r : -1));
    const joinedMembers = plan.rooms.map(() => 0);
    for (const r of joinedRoomOf) if (r >= 0) joinedMembers[r]++;
    const senders: SenderSocket[] = [];
    const senderRooms: number[] = [];
    for (const [n, client] of plan.senderClients.entries()) {
      const socket = fleet.sockets[client];
      if (!socket) continue;
      senders.push({ socket, room: plan.rooms[plan.senderRooms[n]] });
      senderRooms.push(plan.senderRooms[n]);
    }
    tally = new Tally(joinedRoomOf, joinedMembers, senderRooms);

    let traffic: PhaseFigures | undefined;
    let sendsByInstance: Record<string, number> | undefined;
    let search: SearchResult | undefined;
    let resources: RunResult['resources'];
    let redisTraffic: RunResult['redisTraffic'] = { unavailable: 'no traffic measured' };
    const ackTimeoutMs = options.ackTimeoutMs;
    if (options.rate > 0 && senders.length > 0) {
      if (options.warmup > 0) await drive(senders, tally, { rate: options.rate, seconds: options.warmup, ackTimeoutMs, label: 'warm-up' }, progress);
      const measure = async (rate: number, label: string) => {
        const monitor = new ResourceMonitor(target, redis);
        const links = await trafficStart(target, redis);
        await monitor.start();
        const phase = await drive(senders, tally!, { rate, seconds: options.duration, ackTimeoutMs, label }, progress);
        const used = await monitor.stop();
        const bus = await trafficEnd(target, redis, links, fleet, plan, tally!);
        const byInstance: Record<string, number> = {};
        tally!.ackedPerSender().forEach((n, s) => {
          const id = senders[s].socket.instanceId ?? 'unknown';
          byInstance[id] = (byInstance[id] ?? 0) + n;
        });
        return { phase, used, bus, byInstance };
      };
      if (options.findMax) {
        let bestExtras: Awaited<ReturnType<typeof measure>> | undefined;
        search = await findMax(
          async (rate, step) => {
            const m = await measure(rate, `step ${step} ${rate}/s`);
            if (!unsustained(m.phase, options.p99LimitMs) && (!bestExtras || m.phase.deliveriesPerSec > bestExtras.phase.deliveriesPerSec)) bestExtras = m;
            return m.phase;
          },
          { startRate: options.rate, p99LimitMs: options.p99LimitMs, maxSteps: options.maxSteps },
        );
        traffic = search.best;
        resources = { stage: 'highest sustained step', seconds: round(bestExtras?.used.wallS ?? 0), processes: bestExtras?.used.processes ?? [] };
        redisTraffic = bestExtras?.bus ?? { unavailable: 'no step was sustained' };
        sendsByInstance = bestExtras?.byInstance;
      } else {
        const m = await measure(options.rate, 'measure');
        traffic = m.phase;
        resources = { stage: 'measured traffic', seconds: round(m.used.wallS), processes: m.used.processes };
        redisTraffic = m.bus;
        sendsByInstance = m.byInstance;
      }
    } else if (stormResources) {
      resources = { stage: 'connect storm', seconds: round(stormResources.wallS), processes: stormResources.processes };
    } else {
      // Idle: hold the connections, then look at what they cost.
      const monitor = new ResourceMonitor(target, redis);
      await monitor.start();
      if (options.duration > 0) {
        progress.stage('idle', Math.ceil(options.duration));
        for (let s = 1; s <= Math.ceil(options.duration); s++) {
          await new Promise((r) => setTimeout(r, 1000));
          progress.update(s, `${connections.joined} clients idle`);
        }
        progress.done(`held ${connections.joined} idle clients for ${options.duration} s`);
      }
      const used = await monitor.stop();
      resources = { stage: 'idle connections', seconds: round(used.wallS), processes: used.processes };
    }

    let heap: RunResult['heap'] = { unavailable: 'measured only with --inspect (the idle profile has it)' };
    if (heapBefore) heap = await heapFigures(target, heapBefore, connections.spread);

    const result: RunResult = {
      target: kind,
      description: target.description,
      run,
      profile: options.profile,
      load: {
        clients: options.clients,
        rooms: options.rooms,
        membersPerRoom: { min: Math.min(...plan.membersOf), max: Math.max(...plan.membersOf) },
        senders: senders.length,
        rate: options.rate,
        duration: options.duration,
        warmup: options.warmup,
        placement: target.balancerUrl || options.placement !== 'balancer' ? options.placement : 'spread',
      },
      connections: { ...connections, dropped: fleet.dropped },
      traffic,
      sendsByInstance,
      findMax: search,
      resources,
      redisTraffic,
      heap,
      problems: [],
    };
    result.problems = problems(result, options);
    return result;
  } finally {
    for (const f of fleets) f.close();
    await redis?.close();
    progress.line(`${kind} (run ${run}): stopping what was started ...`);
    await target.stop();
    running.delete(target);
  }
}

/** For a service reached by URL: which instance id is behind each URL, or (behind a balancer) which instances there are. */
function learnInstances(target: Target, fleet: Fleet): void {
  if (target.instances.length > 0 && target.instances.every((i) => i.pid)) return;
  if (target.instances.length === 0) {
    const ids = new Set(fleet.sockets.map((s) => s?.instanceId).filter((id): id is string => !!id));
    for (const id of [...ids].sort()) target.instances.push({ id });
    return;
  }
  for (const instance of target.instances) {
    const id = fleet.idOfUrl.get(instance.url!);
    if (id) instance.id = id;
  }
}

/** The Redis port and the instances' pids, if the traffic can be measured here. */
function trafficSetup(target: Target, redis: RedisProbe | undefined): { port: number; pids: Map<number, string> } | string {
  if (target.redisNodes) return 'measured on one Redis: on a Redis Cluster an instance talks to every node';
  if (!redis || !target.redisUrl) return 'no Redis to ask (give --redis-url)';
  const url = new URL(target.redisUrl);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) return 'Redis is not on this host: its sockets cannot be read';
  const pids = new Map(target.instances.filter((i) => i.pid).map((i) => [i.pid!, i.id]));
  if (pids.size === 0) return 'the instances were not started here: their sockets cannot be told apart';
  return { port: Number(url.port || 6379), pids };
}

async function trafficStart(target: Target, redis: RedisProbe | undefined) {
  const setup = trafficSetup(target, redis);
  if (typeof setup === 'string') return setup;
  const before = await snapshot(setup.port, setup.pids);
  return typeof before === 'string' ? before : { ...setup, before };
}

async function trafficEnd(
  target: Target,
  redis: RedisProbe | undefined,
  start: Awaited<ReturnType<typeof trafficStart>>,
  fleet: Fleet,
  plan: Layout,
  tally: Tally,
): Promise<RunResult['redisTraffic']> {
  if (typeof start === 'string') return { unavailable: start };
  const measured = await trafficBetween(start.before, start.port, start.pids, redis!);
  if (typeof measured === 'string') return { unavailable: measured };
  // Which instances serve each room, from the clients' sessions.
  const served = plan.rooms.map(() => new Set<string>());
  for (const [i, socket] of fleet.sockets.entries()) if (socket?.instanceId) served[plan.roomOf[i]].add(socket.instanceId);
  const ackedPerRoom = tally.ackedPerRoom(plan.rooms.length);
  const all = ackedPerRoom.reduce((a, b) => a + b, 0);
  return {
    instances: measured.map((m) => {
      let rooms = 0;
      let relevant = 0;
      for (const [r, ids] of served.entries()) {
        if (!ids.has(m.instance)) continue;
        rooms++;
        relevant += ackedPerRoom[r];
      }
      return {
        ...m,
        roomsWithMembers: rooms,
        relevantBroadcasts: relevant,
        allBroadcasts: all,
        busBytesPerRelevantBroadcast: relevant > 0 ? round(m.busBytes / relevant) : undefined,
      };
    }),
  };
}

/** Heap of each instance: after a full GC through its inspector, else from /metrics. */
async function readHeaps(target: Target): Promise<Map<string, { heap?: number; rss?: number }>> {
  const heaps = new Map<string, { heap?: number; rss?: number }>();
  for (const instance of target.instances) {
    let heap: number | undefined;
    if (instance.inspector) heap = (await heapAfterGc(instance.inspector)).usedBytes;
    else if (instance.url && target.metricsUrls.includes(instance.url)) heap = (await metricsReading(instance.url))?.heapUsedBytes;
    heaps.set(instance.id, { heap, rss: instance.pid ? procReading(instance.pid)?.rssBytes : undefined });
  }
  return heaps;
}

async function heapFigures(target: Target, before: Map<string, { heap?: number; rss?: number }>, spread: Record<string, number>): Promise<RunResult['heap']> {
  const after = await readHeaps(target);
  const instances: HeapFigures['instances'] = [];
  for (const instance of target.instances) {
    const b = before.get(instance.id);
    const a = after.get(instance.id);
    if (b?.heap === undefined || a?.heap === undefined) continue;
    const connections = spread[instance.id] ?? 0;
    instances.push({
      instance: instance.id,
      connections,
      beforeBytes: b.heap,
      afterBytes: a.heap,
      perConnectionBytes: connections > 0 ? Math.round((a.heap - b.heap) / connections) : undefined,
      rssPerConnectionBytes: connections > 0 && a.rss !== undefined && b.rss !== undefined ? Math.round((a.rss - b.rss) / connections) : undefined,
    });
  }
  if (instances.length === 0) return { unavailable: target.kind === 'relay' && !target.instances.some((i) => i.inspector) ? 'the relay has no /metrics: start it here with --inspect' : 'no inspector and no /metrics to read the heap from' };
  return { source: target.instances.some((i) => i.inspector) ? 'inspector' : 'metrics', instances };
}

/** Everything that went wrong in a run, one line each. */
export function problems(result: RunResult, options: Options): string[] {
  const out: string[] = [];
  const c = result.connections;
  const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  const list = (r: Record<string, number>) => Object.entries(r).map(([k, n]) => `${k} ${n}`).join(', ');
  if (c.connected < c.attempted) out.push(`${c.attempted - c.connected} of ${c.attempted} connections failed (${list(c.connectFailed)})`);
  if (sum(c.joinFailed) > 0) out.push(`${sum(c.joinFailed)} joins failed (${list(c.joinFailed)})`);
  if (c.dropped > 0) out.push(`${c.dropped} connections were closed by the server during the run`);
  if (options.findMax) {
    if (!result.findMax?.best) out.push(`no rate was sustained (p99 within ${options.p99LimitMs} ms, nothing lost): lower --rate`);
    return out;
  }
  const t = result.traffic;
  if (!t) return out;
  if (t.lost > 0) out.push(`${t.lost} of ${t.expected} expected deliveries were lost`);
  if (t.repeated > 0) out.push(`${t.repeated} deliveries were repeats of one already received`);
  if (sum(t.refused) > 0) out.push(`${sum(t.refused)} sends were refused (${list(t.refused)})`);
  if (t.unanswered > 0) out.push(`${t.unanswered} sends had no answer within ${options.ackTimeoutMs / 1000} s`);
  if (t.misdelivered > 0) out.push(`${t.misdelivered} deliveries reached a client outside the message's room`);
  return out;
}
