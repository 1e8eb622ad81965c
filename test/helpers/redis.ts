import calculateSlot from 'cluster-key-slot';
import { createClient } from 'redis';
import { pollUntil } from '../../scripts/topology/instance';
import { command, startRedis as launch, type RedisServer, type StartRedisOptions } from '../../scripts/topology/redis';
import { startRedisCluster as launchCluster, type RedisClusterServer, type StartRedisClusterOptions } from '../../scripts/topology/redis-cluster';
import { createLogger } from '../../server/logger';
import { createRedisBackend, type RedisBackend, type RedisBackendOptions } from '../../server/redis/backend';
import { defer } from './cleanup';

export type { RedisClusterServer, RedisServer };

/** Where a backend connects: one Redis by URL, or a Redis Cluster by its nodes' URLs. */
export type RedisAt = string | string[];

/**
 * A private redis-server on a free port (never the shared one on 6379), with
 * its data in a temporary folder; stopped and removed after the test.
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const redis = await launch(options);
  defer(() => redis.destroy());
  return redis;
}

/** Cluster timings for tests: a master unreachable for a second is taken for failed. */
const TEST_CLUSTER: StartRedisClusterOptions = { nodeTimeoutMs: 1000 };

/** A private Redis Cluster (three shards unless told), its data in a temporary folder; destroyed after the test. */
export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisClusterServer> {
  const cluster = await launchCluster({ ...TEST_CLUSTER, ...options });
  defer(() => cluster.destroy());
  return cluster;
}

/**
 * One Redis Cluster for every test of a file (three shards unless told),
 * started before the first test and destroyed after the last: starting one
 * takes seconds. `fresh()` empties every master (FLUSHALL), so that a test
 * starts from nothing, and answers the nodes' URLs.
 */
export function useRedisCluster(options: StartRedisClusterOptions = {}): { cluster: () => RedisClusterServer; fresh: () => Promise<string[]> } {
  let cluster: RedisClusterServer | undefined;
  beforeAll(async () => {
    cluster = await launchCluster({ ...TEST_CLUSTER, ...options });
  }, 60_000);
  afterAll(() => cluster?.destroy(), 30_000);
  const running = () => {
    if (!cluster) throw new Error('the shared Redis Cluster did not start');
    return cluster;
  };
  return {
    cluster: running,
    async fresh() {
      const masters = (await running().roles()).filter((r) => r.role === 'master');
      for (const { server } of masters) {
        const reply = await command(server.port, 'FLUSHALL', 5000);
        if (reply !== '+OK') throw new Error(`FLUSHALL on ${server.port} answered ${reply}`);
      }
      return running().urls;
    },
  };
}

/**
 * One room name per master of `cluster`, `<prefix>-<n>` for the first n
 * whose slot (its keys' hash tag) that master serves, with the master.
 */
export async function roomOnEachShard(cluster: RedisClusterServer, prefix: string): Promise<Array<{ room: string; master: RedisServer }>> {
  const masters = (await cluster.roles()).filter((r) => r.role === 'master');
  return masters.map(({ server, slots }) => {
    for (let n = 0; ; n++) {
      const room = `${prefix}-${n}`;
      const slot = calculateSlot(room);
      if (slots.some(([from, to]) => slot >= from && slot <= to)) return { room, master: server };
    }
  });
}

let counter = 0;

/**
 * A Redis backend on `at` (a Redis URL, or a Redis Cluster's node URLs)
 * with short timings for tests (heartbeat 100 ms, stale after 600 ms,
 * commands time out after 500 ms); closed after the test.
 */
export async function redisBackend(
  at: RedisAt,
  options: RedisBackendOptions & { historyMax?: number; limits?: boolean; instanceId?: string } = {},
): Promise<RedisBackend> {
  const instanceId = options.instanceId ?? `redis-test-${process.pid}-${++counter}`;
  const target = Array.isArray(at) ? { redisClusterNodes: at } : { redisUrl: at };
  const backend = await createRedisBackend(
    { ...target, historyMax: options.historyMax ?? 10_000, limits: options.limits ?? false, instanceId },
    createLogger(instanceId, (process.env.TEST_LOG_LEVEL as 'info') ?? 'silent'),
    {
      heartbeatMs: 100,
      staleMs: 600,
      commandTimeoutMs: 500,
      healthCheckMs: 100,
      reconnectMinMs: 20,
      reconnectMaxMs: 200,
      ...options,
    },
  );
  defer(() => backend.close());
  return backend;
}

/**
 * Polls `check` until it returns true, failing after `timeoutMs` with `what`:
 * for conditions that have no event to wait on (an HTTP status, a link state).
 */
export function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  return pollUntil(what, async () => check(), { timeoutMs, intervalMs: 20 });
}

/** The status of `GET /readyz`. */
export async function readyz(url: string): Promise<number> {
  return (await fetch(`${url}/readyz`)).status;
}

/** A plain client for what only an operator does (CONFIG, CLIENT KILL). */
export async function admin(url: string) {
  const client = createClient({ url, socket: { reconnectStrategy: false } });
  client.on('error', () => {});
  await client.connect();
  defer(() => client.disconnect().catch(() => {}));
  return client;
}

/**
 * Cuts an instance's subscriber link and keeps it from coming back: Redis
 * refuses new connections past maxclients, and the instance is the only one
 * trying. Answers what lets it back in.
 */
export async function cutSubscriber(op: Awaited<ReturnType<typeof admin>>, backend: RedisBackend) {
  const clients = (await op.clientList()).filter((c) => c.name !== '');
  const sub = clients.find((c) => c.name === `parley-sub:${backend.presenceId}`);
  expect(sub).toBeDefined();
  const connected = (await op.clientList()).length;
  await op.configSet('maxclients', String(connected - 1));
  await op.clientKill({ filter: 'ID', id: Number(sub!.id) } as never);
  return async () => {
    await op.configSet('maxclients', '10000');
  };
}
