/**
 * Every setting of an instance: read from the environment once, checked, and
 * typed, with each default stated once (`DEFAULTS`).
 */
import fs from 'node:fs';
import { isIP } from 'node:net';
import os from 'node:os';
import { z } from 'zod';
import type { BusKind } from './backend';

/**
 * The default of every setting, stated here once: the environment schema
 * below and the modules that take a setting as an option (with tests passing
 * short timings) fall back to these.
 */
export const DEFAULTS = {
  port: 3000,
  host: '0.0.0.0',
  historyMax: 10_000,
  /** Messages the in-memory store keeps in all rooms together (the rooms written least recently go first). */
  memoryMaxMessages: 200_000,
  /**
   * Rooms the in-memory store keeps (the rooms written least recently go
   * first): room names are the client's to choose, and each kept room costs
   * its log and indexes however few messages it holds.
   */
  memoryMaxRooms: 10_000,
  logLevel: 'info',
  drainTimeoutMs: 10_000,
  pingIntervalMs: 20_000,
  pingTimeoutMs: 20_000,
  presenceHeartbeatMs: 5000,
  presenceStaleMs: 15_000,
  /** Replicas a stored message waits for before it is acknowledged (0: none), and for how long. */
  redisWaitReplicas: 0,
  redisWaitTimeoutMs: 500,
  /** The largest Socket.IO frame a client may send: a larger one closes its connection. */
  maxFrameBytes: 64 * 1024,
  /** The largest HTTP request body: a larger one answers 413 `too_large`. */
  maxBodyBytes: 64 * 1024,
  /**
   * Output queued for one connection and not yet taken by its peer: past it
   * the connection is ended (a client that stopped reading).
   */
  maxOutputBytes: 1024 * 1024,
  /** Rooms one connection may be in at once. */
  maxRoomsPerConnection: 100,
  /**
   * Connections open at once from one address (lifted by `LIMITS=off`):
   * enough for an office behind one NAT, each user with a few tabs; a bound,
   * so that an address cannot hold connections without end.
   */
  maxConnectionsPerAddress: 1000,
  /** Rate limits (points per window), lifted by `LIMITS=off`. */
  rateLimits: {
    // A user may post in bursts (a pasted list, a fast typist) but not flood a room.
    send: { points: 30, durationSec: 10 },
    join: { points: 60, durationSec: 10 },
    // The app says "typing" at most every 3 s per room, and "stopped".
    typing: { points: 30, durationSec: 10 },
    // Connections per address: enough for a household behind one NAT reconnecting at once.
    connect: { points: 120, durationSec: 60 },
    // Reads (history, changes, the rooms list; socket and HTTP) per user, or per
    // address for an anonymous HTTP read: a client catching up pages through
    // history and changes after every reconnect, which takes a few dozen reads,
    // not a loop that keeps the store busy for everyone else.
    read: { points: 200, durationSec: 10 },
  },
  /** Time to receive a whole HTTP request (headers and body) before it answers 408. */
  httpRequestTimeoutMs: 30_000,
  /** Time to receive an HTTP request's headers. */
  httpHeadersTimeoutMs: 10_000,
  /** How long an idle keep-alive HTTP connection stays open. */
  httpKeepAliveTimeoutMs: 5000,
} as const;

/** A rate limit: `points` events per `durationSec` seconds, per key. */
export interface RateRule {
  points: number;
  durationSec: number;
}

/** The rate limits of an instance, by kind (see `DEFAULTS.rateLimits`). */
export type RateRules = Record<keyof (typeof DEFAULTS)['rateLimits'], RateRule>;

/**
 * Every setting of an instance, read from the environment once and checked
 * here. A bad value stops start-up with one line that names the variable.
 * Defaults are in `DEFAULTS`.
 */
export interface Config {
  /** HTTP + Socket.IO port. */
  port: number;
  /** Bind address. */
  host: string;
  /** Redis for the bus, history and presence; unset (and no `redisClusterNodes`) = in-memory, single instance. */
  redisUrl?: string;
  /** Seed nodes of a Redis Cluster to use instead of `redisUrl` (`redis://host:port` each). */
  redisClusterNodes?: string[];
  /** How the bus uses Redis pub/sub; unset = `sharded` on Redis >= 7, else `classic`. A cluster is always sharded. */
  redisPubSub?: BusKind;
  /**
   * Replicas that must have a message before its send is acknowledged (WAIT
   * after the write), so that a failover cannot lose it; 0 = do not wait.
   */
  redisWaitReplicas: number;
  /** How long a send waits for those replicas before answering `unavailable`. */
  redisWaitTimeoutMs: number;
  /** HS256 secret; set = token mode, unset = open mode. */
  authSecret?: string;
  /** Browser origins allowed besides the server's own. @default [] */
  allowedOrigins: string[];
  /**
   * The server's own public origin(s): when set, "same origin" means one of
   * these, not whatever the request's `Host` header says (DNS rebinding).
   * @default [] (the Host header decides: development only)
   */
  publicOrigins: string[];
  /** PEM certificate chain and private key files: set = the instance serves HTTPS and WSS. */
  tlsCert?: string;
  tlsKey?: string;
  /** Bearer token `/metrics` requires; unset = no token. */
  metricsToken?: string;
  /** A separate address for `/metrics` (then not served on `PORT`); unset = on `PORT`. */
  metricsPort?: number;
  /** Bind address of the metrics port. @default HOST */
  metricsHost: string;
  /** Name of this instance in logs, metrics and `session`. @default hostname:port */
  instanceId: string;
  /** Honour `X-Forwarded-For` from a balancer. @default false */
  trustProxy: boolean;
  /** Rate limits on (sends, joins, typing, reads, connections per address) and the connections per address bounded. @default true */
  limits: boolean;
  /** Messages kept per room. */
  historyMax: number;
  /** In memory: messages kept in all rooms together. */
  memoryMaxMessages: number;
  /** In memory: rooms kept. */
  memoryMaxRooms: number;
  /** pino level. */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** How long draining waits for clients to move before exiting. */
  drainTimeoutMs: number;
  /**
   * Engine.IO heartbeat: a client that answers no ping within
   * `pingIntervalMs + pingTimeoutMs` is dropped, and a client whose server
   * froze notices within the same time and reconnects elsewhere.
   */
  pingIntervalMs: number;
  pingTimeoutMs: number;
  /**
   * Redis presence: how often an instance says it is alive, and how long an
   * instance may stay silent before the others take its users out of their
   * rooms (a crash). Short values suit fault tests; the defaults keep the
   * contract's "within 30 s". Ignored without `REDIS_URL`.
   */
  presenceHeartbeatMs: number;
  presenceStaleMs: number;
  maxFrameBytes: number;
  maxBodyBytes: number;
  maxOutputBytes: number;
  maxRoomsPerConnection: number;
  maxConnectionsPerAddress: number;
  rateLimits: RateRules;
  httpRequestTimeoutMs: number;
  httpHeadersTimeoutMs: number;
  httpKeepAliveTimeoutMs: number;
}

export class ConfigError extends Error {
  constructor(readonly variable: string, detail: string) {
    super(`${variable}: ${detail}`);
    this.name = 'ConfigError';
  }
}

/**
 * A whole number written in decimal digits. `z.coerce.number()` alone would
 * take " " as 0 and "1e3" or "0x10" as numbers: a typo must stop start-up
 * instead of binding port 0.
 */
const whole = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d{1,16}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
const port = whole(0, 65535);
const redisUrl = z
  .string()
  .url()
  .refine((u) => /^rediss?:\/\//.test(u), 'must start with redis:// or rediss://');
/** An IP address or a DNS name (what `listen` can bind). */
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** Comma-separated origins (`scheme://host[:port]`), normalised. */
const origins = z
  .string()
  .transform((v) => v.split(',').map((o) => o.trim()).filter(Boolean))
  // An origin is scheme://host[:port]: "localhost:3000" would parse as a URL
  // with the scheme "localhost:" and silently allow nothing.
  .pipe(z.array(z.string().url().regex(/^https?:\/\/[^/]/i, 'each origin must start with http:// or https://').transform((o) => new URL(o).origin)))
  .default('');
/** A rate limit written `points/seconds`, e.g. `30/10`. */
const rate = (fallback: RateRule) =>
  z
    .string()
    .trim()
    .regex(/^\d{1,7}\/\d{1,6}s?$/, 'must be points/seconds, e.g. 30/10')
    .transform((v) => {
      const [points, seconds] = v.replace(/s$/, '').split('/').map(Number);
      return { points, durationSec: seconds };
    })
    .refine((r) => r.points >= 1 && r.durationSec >= 1, 'points and seconds must be at least 1')
    .optional()
    .transform((r) => r ?? { ...fallback });
/** A file the instance must be able to read (a PEM file). */
const readable = z.string().refine((file) => {
  try {
    fs.accessSync(file, fs.constants.R_OK);
    return true;
  } catch {
    return false;
  }
}, 'must be a readable file');
const flag = z
  .string()
  .transform((v) => v.trim().toLowerCase())
  .pipe(z.enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off']))
  .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));

const fields = {
  PORT: port.default(String(DEFAULTS.port)),
  HOST: z
    .string()
    .refine((h) => isIP(h) !== 0 || HOSTNAME.test(h), 'must be an IP address or a host name')
    .default(DEFAULTS.host),
  REDIS_URL: redisUrl.optional(),
  REDIS_CLUSTER_NODES: z
    .string()
    .transform((v) => v.split(',').map((u) => u.trim()).filter(Boolean))
    .pipe(z.array(redisUrl.refine((u) => /^rediss?:\/\/[^/]+:\d+\/?$/.test(u), 'each node is redis://host:port')).min(1, 'needs at least one node'))
    .optional(),
  REDIS_PUBSUB: z.enum(['sharded', 'classic']).optional(),
  // Below the 2 s command timeout, which bounds a whole send: the write and its WAIT.
  REDIS_WAIT_REPLICAS: whole(0, 16).default(String(DEFAULTS.redisWaitReplicas)),
  REDIS_WAIT_TIMEOUT_MS: whole(10, 1000).default(String(DEFAULTS.redisWaitTimeoutMs)),
  AUTH_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  ALLOWED_ORIGINS: origins,
  PUBLIC_ORIGIN: origins,
  TLS_CERT: readable.optional(),
  TLS_KEY: readable.optional(),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces').optional(),
  METRICS_PORT: port.optional(),
  METRICS_HOST: z
    .string()
    .refine((h) => isIP(h) !== 0 || HOSTNAME.test(h), 'must be an IP address or a host name')
    .optional(),
  INSTANCE_ID: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 of [A-Za-z0-9_.:-]').optional(),
  TRUST_PROXY: flag.default('off'),
  LIMITS: flag.default('on'),
  HISTORY_MAX: whole(100, 1_000_000).default(String(DEFAULTS.historyMax)),
  MEMORY_MAX_MESSAGES: whole(1000, 100_000_000).default(String(DEFAULTS.memoryMaxMessages)),
  MEMORY_MAX_ROOMS: whole(10, 10_000_000).default(String(DEFAULTS.memoryMaxRooms)),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default(DEFAULTS.logLevel),
  DRAIN_TIMEOUT_MS: whole(0, 600_000).default(String(DEFAULTS.drainTimeoutMs)),
  PING_INTERVAL_MS: whole(100, 300_000).default(String(DEFAULTS.pingIntervalMs)),
  PING_TIMEOUT_MS: whole(100, 300_000).default(String(DEFAULTS.pingTimeoutMs)),
  PRESENCE_HEARTBEAT_MS: whole(100, 60_000).default(String(DEFAULTS.presenceHeartbeatMs)),
  PRESENCE_STALE_MS: whole(200, 300_000).default(String(DEFAULTS.presenceStaleMs)),
  MAX_FRAME_BYTES: whole(1024, 100 * 1024 * 1024).default(String(DEFAULTS.maxFrameBytes)),
  MAX_BODY_BYTES: whole(1024, 100 * 1024 * 1024).default(String(DEFAULTS.maxBodyBytes)),
  MAX_OUTPUT_BYTES: whole(64 * 1024, 1024 * 1024 * 1024).default(String(DEFAULTS.maxOutputBytes)),
  MAX_ROOMS_PER_CONNECTION: whole(1, 100_000).default(String(DEFAULTS.maxRoomsPerConnection)),
  MAX_CONNECTIONS_PER_ADDRESS: whole(1, 10_000_000).default(String(DEFAULTS.maxConnectionsPerAddress)),
  LIMIT_SEND: rate(DEFAULTS.rateLimits.send),
  LIMIT_JOIN: rate(DEFAULTS.rateLimits.join),
  LIMIT_TYPING: rate(DEFAULTS.rateLimits.typing),
  LIMIT_CONNECT: rate(DEFAULTS.rateLimits.connect),
  LIMIT_READ: rate(DEFAULTS.rateLimits.read),
  HTTP_REQUEST_TIMEOUT_MS: whole(100, 3_600_000).default(String(DEFAULTS.httpRequestTimeoutMs)),
  HTTP_HEADERS_TIMEOUT_MS: whole(100, 3_600_000).default(String(DEFAULTS.httpHeadersTimeoutMs)),
  HTTP_KEEPALIVE_TIMEOUT_MS: whole(100, 3_600_000).default(String(DEFAULTS.httpKeepAliveTimeoutMs)),
} as const;

/** Variables whose values never appear in an error message. */
const SECRETS = new Set(['AUTH_SECRET', 'METRICS_TOKEN']);

/**
 * Reads the config from an environment. An empty variable counts as unset.
 * @throws ConfigError naming the first bad variable.
 */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const values: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(fields)) {
    const raw = env[name];
    const parsed = (schema as z.ZodTypeAny).safeParse(raw === '' ? undefined : raw);
    if (!parsed.success) {
      // A secret is not echoed into logs: its length is enough to spot a typo.
      const got = SECRETS.has(name) ? `${raw?.length ?? 0} characters` : JSON.stringify(raw);
      throw new ConfigError(name, `${parsed.error.issues[0]?.message ?? 'invalid'} (got ${got})`);
    }
    values[name] = parsed.data;
  }
  const v = values as { [K in keyof typeof fields]: z.output<(typeof fields)[K]> };
  // A live instance misses a beat now and then: reaping after fewer than two
  // silent beats would take the users of a healthy instance out.
  if (v.PRESENCE_STALE_MS < 2 * v.PRESENCE_HEARTBEAT_MS) {
    throw new ConfigError('PRESENCE_STALE_MS', `must be at least twice PRESENCE_HEARTBEAT_MS (${v.PRESENCE_HEARTBEAT_MS})`);
  }
  if ((v.TLS_CERT === undefined) !== (v.TLS_KEY === undefined)) {
    throw new ConfigError(v.TLS_CERT === undefined ? 'TLS_CERT' : 'TLS_KEY', 'TLS_CERT and TLS_KEY go together');
  }
  // Node cuts a request off at requestTimeout only once its headers are in.
  if (v.HTTP_HEADERS_TIMEOUT_MS > v.HTTP_REQUEST_TIMEOUT_MS) {
    throw new ConfigError('HTTP_HEADERS_TIMEOUT_MS', `must not exceed HTTP_REQUEST_TIMEOUT_MS (${v.HTTP_REQUEST_TIMEOUT_MS})`);
  }
  if (v.METRICS_PORT !== undefined && v.METRICS_PORT !== 0 && v.METRICS_PORT === v.PORT) {
    throw new ConfigError('METRICS_PORT', 'must differ from PORT');
  }
  if (v.REDIS_URL && v.REDIS_CLUSTER_NODES) {
    throw new ConfigError('REDIS_CLUSTER_NODES', 'set either REDIS_URL (one Redis) or REDIS_CLUSTER_NODES (a Redis Cluster), not both');
  }
  // Classic pub/sub on a cluster sends every message to every node: the bus's channels would not scale.
  if (v.REDIS_CLUSTER_NODES && v.REDIS_PUBSUB === 'classic') {
    throw new ConfigError('REDIS_PUBSUB', 'a Redis Cluster (REDIS_CLUSTER_NODES) takes sharded pub/sub only');
  }
  return {
    port: v.PORT,
    host: v.HOST,
    redisUrl: v.REDIS_URL,
    redisClusterNodes: v.REDIS_CLUSTER_NODES,
    redisPubSub: v.REDIS_PUBSUB,
    redisWaitReplicas: v.REDIS_WAIT_REPLICAS,
    redisWaitTimeoutMs: v.REDIS_WAIT_TIMEOUT_MS,
    authSecret: v.AUTH_SECRET,
    allowedOrigins: v.ALLOWED_ORIGINS,
    publicOrigins: v.PUBLIC_ORIGIN,
    tlsCert: v.TLS_CERT,
    tlsKey: v.TLS_KEY,
    metricsToken: v.METRICS_TOKEN,
    metricsPort: v.METRICS_PORT,
    metricsHost: v.METRICS_HOST ?? v.HOST,
    instanceId: v.INSTANCE_ID ?? `${os.hostname()}:${v.PORT}`,
    trustProxy: v.TRUST_PROXY,
    limits: v.LIMITS,
    historyMax: v.HISTORY_MAX,
    memoryMaxMessages: v.MEMORY_MAX_MESSAGES,
    memoryMaxRooms: v.MEMORY_MAX_ROOMS,
    logLevel: v.LOG_LEVEL,
    drainTimeoutMs: v.DRAIN_TIMEOUT_MS,
    pingIntervalMs: v.PING_INTERVAL_MS,
    pingTimeoutMs: v.PING_TIMEOUT_MS,
    presenceHeartbeatMs: v.PRESENCE_HEARTBEAT_MS,
    presenceStaleMs: v.PRESENCE_STALE_MS,
    maxFrameBytes: v.MAX_FRAME_BYTES,
    maxBodyBytes: v.MAX_BODY_BYTES,
    maxOutputBytes: v.MAX_OUTPUT_BYTES,
    maxRoomsPerConnection: v.MAX_ROOMS_PER_CONNECTION,
    maxConnectionsPerAddress: v.MAX_CONNECTIONS_PER_ADDRESS,
    rateLimits: { send: v.LIMIT_SEND, join: v.LIMIT_JOIN, typing: v.LIMIT_TYPING, connect: v.LIMIT_CONNECT, read: v.LIMIT_READ },
    httpRequestTimeoutMs: v.HTTP_REQUEST_TIMEOUT_MS,
    httpHeadersTimeoutMs: v.HTTP_HEADERS_TIMEOUT_MS,
    httpKeepAliveTimeoutMs: v.HTTP_KEEPALIVE_TIMEOUT_MS,
  };
}
