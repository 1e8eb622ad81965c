import type { Socket } from 'socket.io-client';
import { startCluster, type Cluster, type ClusterOptions } from '../../scripts/topology/cluster';
import { httpStatus, pollUntil } from '../../scripts/topology/instance';
import type { ClientToServerEvents, ServerToClientEvents, SessionEvent } from '../../protocol';
import { defer } from './cleanup';
import { client } from './server';

export type { Cluster };

/**
 * Settings for clustered test instances: no rate limits (every client is
 * 127.0.0.1), and short presence and Engine.IO timings so that a dead or
 * frozen instance is noticed in seconds.
 */
export const CLUSTER_TEST_ENV = {
  LIMITS: 'off',
  LOG_LEVEL: 'info',
  PRESENCE_HEARTBEAT_MS: '500',
  PRESENCE_STALE_MS: '2000',
  PING_INTERVAL_MS: '2000',
  PING_TIMEOUT_MS: '2000',
  DRAIN_TIMEOUT_MS: '5000',
  // TEST_REDIS_PUBSUB=classic runs the instances over classic pub/sub (empty: by Redis's version).
  REDIS_PUBSUB: process.env.TEST_REDIS_PUBSUB ?? '',
};

function options(overrides: ClusterOptions): ClusterOptions {
  return {
    instances: 3,
    // Nothing set on this machine (REDIS_URL, AUTH_SECRET, ...) leaks in.
    inheritEnv: false,
    ...overrides,
    env: { ...CLUSTER_TEST_ENV, ...overrides.env },
    // TEST_CLUSTER_LOGS=<dir> keeps every process's output there for a look afterwards.
    logDir: overrides.logDir ?? process.env.TEST_CLUSTER_LOGS,
  };
}

/**
 * A private Redis, three instance processes and HAProxy, for one test
 * (faults change it): stopped after the test.
 */
export async function startTestCluster(overrides: ClusterOptions = {}): Promise<Cluster> {
  const cluster = await startCluster(options(overrides));
  defer(() => cluster.stop());
  return cluster;
}

/**
 * One topology for every test of a file (where no test breaks it): started
 * before the first test and stopped after the last. Call at the top of a
 * `describe`; the getter answers the running cluster.
 */
export function useSharedCluster(overrides: ClusterOptions = {}): () => Cluster {
  let cluster: Cluster | undefined;
  beforeAll(async () => {
    cluster = await startCluster(options(overrides));
  }, 60_000);
  afterAll(() => cluster?.stop(), 60_000);
  return () => {
    if (!cluster) throw new Error('the shared cluster did not start');
    return cluster;
  };
}

/** Resolves once `url`'s `/readyz` answers `status`, polling (no event tells). */
export function readyzBecomes(url: string, status: number, timeoutMs = 15_000): Promise<void> {
  return pollUntil(`${url}/readyz to answer ${status}`, async () => (await httpStatus(`${url}/readyz`)) === status, {
    timeoutMs,
  });
}

type ClientOptions = NonNullable<Parameters<typeof client>[2]>;

/**
 * Connects as `name` and resolves with the socket and its first `session`
 * (which instance took it). Disconnected after the test.
 */
export async function connectSession(
  url: string,
  name: string,
  opts: ClientOptions = {},
): Promise<{ socket: Socket<ServerToClientEvents, ClientToServerEvents>; session: SessionEvent }> {
  const socket = client(url, { name }, opts);
  const session = await new Promise<SessionEvent>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no session within 10 s`)), 10_000);
    socket.once('session', (s) => {
      clearTimeout(timer);
      resolve(s);
    });
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${name}: connect_error ${err.message}`));
    });
    socket.connect();
  });
  return { socket, session };
}
