/**
 * A whole local topology: one Redis or a Redis Cluster (started here, or
 * given by URL), N Parley instance processes sharing it, and HAProxy in
 * front. Used by `npm run cluster`, the process-level tests and the load
 * tester; docker-compose.yml describes the same topologies with containers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startBalancer, type Balancer } from './balancer';
import { startInstance, type Instance } from './instance';
import { startRedis, type RedisServer } from './redis';
import { startRedisCluster, type RedisClusterServer } from './redis-cluster';

/** Instances in a cluster unless told otherwise (and in docker-compose.yml). */
export const DEFAULT_INSTANCES = 3;

export interface ClusterOptions {
  /** How many instances. @default 3 */
  instances?: number;
  /** A Redis to use; unset = start a private redis-server (append-only file on). */
  redisUrl?: string;
  /** A Redis Cluster to use, by some of its nodes' URLs. */
  redisClusterNodes?: string[];
  /** Start a Redis Cluster of this many shards instead of one redis-server. */
  redisShards?: number;
  /** Replicas of each of its masters. @default 0 */
  redisReplicas?: number;
  /** Its `cluster-node-timeout`: how soon a replica takes over from a dead master. @default 5000 */
  redisNodeTimeoutMs?: number;
  /** Data folder of the Redis (or Redis Cluster) started here. @default a temporary folder, removed on stop */
  redisDir?: string;
  /** Whether to put HAProxy in front. @default true */
  balancer?: boolean;
  /** Balancer port. @default a free port */
  balancerPort?: number;
  /** Address the balancer listens on. @default "127.0.0.1" */
  balancerHost?: string;
  /** Settings for every instance (`LIMITS`, `LOG_LEVEL`, heartbeat times, ...). */
  env?: Record<string, string | undefined>;
  /** Whether instances inherit this process's environment (see `InstanceOptions.inheritEnv`). @default true */
  inheritEnv?: boolean;
  /** Instance ids are `${prefix}1`, `${prefix}2`, ... @default "parley" */
  idPrefix?: string;
  /** Folder for one log file per process (`parley1.log`, `haproxy.log` ...). */
  logDir?: string;
  /** Called with every output line of every process, with the process's name. */
  onLine?: (source: string, line: string) => void;
  /** What every instance runs instead of the Parley server (see `InstanceOptions.entry`). */
  entry?: string;
  /** Options for node in every instance (see `InstanceOptions.nodeArgs`). */
  nodeArgs?: string[];
}

export interface Cluster {
  /** The Redis started here (undefined with `redisUrl`, or with a Redis Cluster). */
  readonly redis?: RedisServer;
  /** The Redis Cluster started here (with `redisShards`). */
  readonly redisCluster?: RedisClusterServer;
  /** The one Redis's URL; undefined on a Redis Cluster. */
  readonly redisUrl?: string;
  /** The Redis Cluster's nodes' URLs, as the instances have them; undefined on one Redis. */
  readonly redisNodes?: string[];
  readonly instances: Instance[];
  readonly balancer?: Balancer;
  /**
   * Stops everything in order: instances drain (SIGTERM) while Redis is still
   * up for their last presence updates, then the balancer, then Redis.
   * Idempotent; never throws.
   */
  stop(): Promise<void>;
}

/**
 * The environment every clustered instance runs with, before `options.env`
 * (docker-compose.yml sets the same): one Redis by URL, or a Redis
 * Cluster by its nodes' URLs.
 */
export function instanceEnv(redis: string | string[], instanceId: string): Record<string, string> {
  return {
    ...(Array.isArray(redis) ? { REDIS_CLUSTER_NODES: redis.join(',') } : { REDIS_URL: redis }),
    INSTANCE_ID: instanceId,
    // Behind the balancer, the client's address is the first X-Forwarded-For entry.
    TRUST_PROXY: 'on',
  };
}

/**
 * Starts Redis (unless given), the instances (in parallel), then the
 * balancer; resolves once every instance's `/readyz` answers 200 and the
 * balancer listens. On any failure, stops what it started and rejects.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const count = options.instances ?? DEFAULT_INSTANCES;
  if (!Number.isInteger(count) || count < 1) throw new Error(`instances must be a whole number from 1 (got ${count})`);
  const prefix = options.idPrefix ?? 'parley';
  if (options.logDir) fs.mkdirSync(options.logDir, { recursive: true });
  const logFile = (name: string) => (options.logDir ? path.join(options.logDir, `${name}.log`) : undefined);
  const lines = (name: string) => (options.onLine ? (line: string) => options.onLine!(name, line) : undefined);

  let redis: RedisServer | undefined;
  let redisCluster: RedisClusterServer | undefined;
  const instances: Instance[] = [];
  let balancer: Balancer | undefined;

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await Promise.all(instances.map((i) => i.stop().catch(() => null)));
      await balancer?.stop().catch(() => {});
      await redis?.destroy().catch(() => {});
      await redisCluster?.destroy().catch(() => {});
    })());

  try {
    let redisUrl = options.redisUrl;
    let redisNodes = options.redisClusterNodes;
    if (redisUrl && redisNodes) throw new Error('give a Redis URL or a Redis Cluster\'s nodes, not both');
    if (!redisUrl && !redisNodes) {
      if (options.redisShards !== undefined) {
        redisCluster = await startRedisCluster({
          shards: options.redisShards,
          replicas: options.redisReplicas,
          dir: options.redisDir,
          nodeTimeoutMs: options.redisNodeTimeoutMs,
        });
        redisNodes = redisCluster.urls;
      } else {
        redis = await startRedis({ dir: options.redisDir, appendonly: true });
        redisUrl = redis.url;
      }
    }
    const at = redisNodes ?? redisUrl!;
    const started = await Promise.allSettled(
      Array.from({ length: count }, (_, i) => {
        const instanceId = `${prefix}${i + 1}`;
        return startInstance({
          // Never both Redis settings: one inherited from this shell is taken away.
          env: { REDIS_URL: undefined, REDIS_CLUSTER_NODES: undefined, ...instanceEnv(at, instanceId), ...options.env, INSTANCE_ID: instanceId },
          inheritEnv: options.inheritEnv,
          logFile: logFile(instanceId),
          onLine: lines(instanceId),
          entry: options.entry,
          nodeArgs: options.nodeArgs,
        });
      }),
    );
    for (const result of started) if (result.status === 'fulfilled') instances.push(result.value);
    const failure = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;

    if (options.balancer ?? true) {
      balancer = await startBalancer({
        servers: instances.map((i) => ({ name: i.instanceId, address: `127.0.0.1:${i.port}` })),
        port: options.balancerPort,
        host: options.balancerHost,
        dir: options.logDir ? path.join(options.logDir, 'haproxy') : undefined,
        onLine: lines('haproxy'),
      });
    }
    return { redis, redisCluster, redisUrl, redisNodes, instances, balancer, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
