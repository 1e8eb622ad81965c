/**
 * What the load is sent to: a cluster started here with the shared topology
 * launchers (Redis, instances of Parley or of the relay, HAProxy), or a
 * service already running (`--url`). Either way the tester learns where
 * clients connect, which instances there are, and what it may measure of
 * them (pids for /proc, inspectors, /metrics, Redis).
 */
import path from 'node:path';
import { startCluster, type Cluster } from '../../scripts/topology/cluster';
import { httpStatus, repoRoot } from '../../scripts/topology/instance';
import type { Options, TargetKind } from './options';

/** One instance of the target. */
export interface TargetInstance {
  /** Its `INSTANCE_ID`, as `session` reports it (for `--url`: learnt from the clients' sessions). */
  id: string;
  /** Its own URL (clients may connect to it directly). */
  url?: string;
  /** Its pid, when started here: CPU and memory from /proc. */
  pid?: number;
  /** Its DevTools endpoint, when started with `--inspect`. */
  inspector?: string;
}

export interface Target {
  kind: TargetKind;
  /** One line saying what it is. */
  description: string;
  /** The balancer's URL, if clients go through one. */
  balancerUrl?: string;
  /** Whether the balancer routes by the `SERVERID` cookie naming an instance id (ours does). */
  stickyCookie: boolean;
  balancerPid?: number;
  instances: TargetInstance[];
  redisUrl?: string;
  /** Redis's pid when started here. */
  redisPid?: number;
  /** A Redis Cluster's nodes started here (`redis shard 1`, `redis shard 1 replica`, ...): CPU and memory from /proc. */
  redisNodes?: Array<{ name: string; pid: number }>;
  /** Instances' URLs to read /metrics from. */
  metricsUrls: string[];
  /** Stops what was started here (nothing for `--url`). Idempotent. */
  stop(): Promise<void>;
  /** Kills at once what was started here (the tester is exiting). */
  kill(): void;
}

/** The relay's built entry point. */
export function relayEntry(): string {
  return path.join(repoRoot(), 'dist', 'bench', 'relay', 'main.js');
}

/** Settings of every instance the tester starts: no per-address limits (every client is this host), quiet logs. */
const INSTANCE_ENV = { LIMITS: 'off', LOG_LEVEL: 'warn' };

/** Starts Redis, `options.instances` instances of `kind` and HAProxy, and resolves once all are ready. */
export async function startTarget(kind: TargetKind, options: Options, runLabel: string): Promise<Target> {
  const env: Record<string, string> = { ...INSTANCE_ENV };
  if (options.redisWait !== undefined) env.REDIS_WAIT_REPLICAS = String(options.redisWait);
  if (kind === 'relay') {
    if (options.relayDropEvery) env.RELAY_DROP_EVERY = String(options.relayDropEvery);
    if (options.relayRepeatEvery) env.RELAY_REPEAT_EVERY = String(options.relayRepeatEvery);
  }
  const cluster: Cluster = await startCluster({
    instances: options.instances,
    // The instances inherit nothing from this shell: the same settings every run.
    inheritEnv: false,
    env,
    idPrefix: kind,
    entry: kind === 'relay' ? relayEntry() : undefined,
    // Port 0: each inspector picks a free port and prints it.
    nodeArgs: options.inspect ? ['--inspect=127.0.0.1:0'] : undefined,
    logDir: options.logDir ? path.join(options.logDir, runLabel) : undefined,
    redisShards: options.redisShards,
    redisReplicas: options.redisReplicas,
  });
  const instances = cluster.instances.map((i) => ({
    id: i.instanceId,
    url: i.url,
    pid: i.pid,
    inspector: /Debugger listening on (ws:\/\/\S+)/.exec(i.output())?.[1],
  }));
  if (options.inspect && instances.some((i) => !i.inspector)) {
    await cluster.stop();
    throw new Error('an instance started with --inspect did not print its inspector URL');
  }
  const redisNodes = cluster.redisCluster ? await nodeNames(cluster) : undefined;
  const redis = cluster.redisCluster ? `a Redis Cluster of ${options.redisShards} shard(s)${options.redisReplicas ? ` × ${1 + options.redisReplicas} nodes` : ''}` : 'Redis';
  return {
    kind,
    description: `${kind}: ${instances.length} instance(s) + ${redis} + HAProxy, started here`,
    balancerUrl: cluster.balancer?.url,
    stickyCookie: true,
    balancerPid: cluster.balancer?.pid,
    instances,
    redisUrl: cluster.redisUrl,
    redisPid: cluster.redis?.pid,
    redisNodes,
    metricsUrls: kind === 'parley' ? instances.map((i) => i.url) : [],
    stop: () => cluster.stop(),
    kill() {
      for (const instance of cluster.instances) instance.signal('SIGKILL');
      cluster.balancer?.signal('SIGKILL');
      // The Redis launcher kills its own process when this process exits.
    },
  };
}

/** The Redis Cluster's nodes by shard (in the order of their slots) and role. */
async function nodeNames(cluster: Cluster): Promise<Array<{ name: string; pid: number }>> {
  const roles = await cluster.redisCluster!.roles();
  const masters = roles.filter((r) => r.role === 'master').sort((a, b) => a.slots[0][0] - b.slots[0][0]);
  return roles
    .map((r) => {
      const shard = 1 + masters.findIndex((m) => (r.role === 'master' ? m === r : m.id === r.masterId));
      return { name: `redis shard ${shard}${r.role === 'replica' ? ' replica' : ''}`, pid: r.server.pid };
    })
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

/**
 * A service already running. A URL that answers HAProxy's `/balancer-health`
 * (deploy/haproxy.cfg.template's monitor URI) is taken for the balancer:
 * clients connect through it, and its /metrics (any instance's, by turns)
 * is not read.
 */
export async function attachTarget(kind: TargetKind, urls: string[], options: Options): Promise<Target> {
  const balancers = await Promise.all(urls.map(async (u) => (await httpStatus(`${u}/balancer-health`, 3000)) === 200));
  for (const [i, u] of urls.entries()) {
    if (!balancers[i] && (await httpStatus(`${u}/healthz`, 3000)) !== 200) throw new Error(`${u} does not answer /healthz`);
  }
  const balancerUrl = urls.find((_, i) => balancers[i]);
  if (balancerUrl && urls.length > 1) throw new Error(`--url ${balancerUrl} is a balancer: give it alone, or the instances alone`);
  const instanceUrls = balancerUrl ? [] : urls;
  return {
    kind,
    description: `${kind}: ${balancerUrl ? `the balancer at ${balancerUrl}` : `${urls.length} instance(s) at ${urls.join(', ')}`} (running)`,
    balancerUrl,
    // Another balancer's cookie is unknown here: only direct URLs can place clients.
    stickyCookie: false,
    // Filled in from the clients' `session` events when only a balancer is known.
    instances: instanceUrls.map((url) => ({ id: url, url })),
    redisUrl: options.redisUrl,
    metricsUrls: kind === 'parley' ? (options.metricsUrls ?? instanceUrls) : (options.metricsUrls ?? []),
    stop: async () => {},
    kill: () => {},
  };
}
