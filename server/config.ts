/**
 * Every setting of an instance: read from the environment once, checked, and
 * typed, with each default stated once (`DEFAULTS`).
 */
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
  logLevel: 'info',
  drainTimeoutMs: 10_000,
  pingIntervalMs: 20_000,
  pingTimeoutMs: 20_000,
  presenceHeartbeatMs: 5000,
  presenceStaleMs: 15_000,
} as const;

/**
 * The largest Socket.IO frame and HTTP body an instance accepts, in bytes: a
 * fixed limit on what a client can make an instance hold, not a setting.
 */
export const MAX_FRAME_BYTES = 64 * 1024;

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
  /** Redis for the bus, history and presence; unset = in-memory, single instance. */
  redisUrl?: string;
  /** How the bus uses Redis pub/sub; unset = `sharded` on Redis >= 7, else `classic`. */
  redisPubSub?: BusKind;
  /** HS256 secret; set = token mode, unset = open mode. */
  authSecret?: string;
  /** Browser origins allowed besides the server's own. @default [] */
  allowedOrigins: string[];
  /** Name of this instance in logs, metrics and `session`. @default hostname:port */
  instanceId: string;
  /** Honour `X-Forwarded-For` from a balancer. @default false */
  trustProxy: boolean;
  /** Rate limits on (sends, joins, connections per address). @default true */
  limits: boolean;
  /** Messages kept per room. */
  historyMax: number;
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
/** An IP address or a DNS name (what `listen` can bind). */
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
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
  REDIS_URL: z
    .string()
    .url()
    .refine((u) => /^rediss?:\/\//.test(u), 'must start with redis:// or rediss://')
    .optional(),
  REDIS_PUBSUB: z.enum(['sharded', 'classic']).optional(),
  AUTH_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  ALLOWED_ORIGINS: z
    .string()
    .transform((v) => v.split(',').map((o) => o.trim()).filter(Boolean))
    // An origin is scheme://host[:port]: "localhost:3000" would parse as a URL
    // with the scheme "localhost:" and silently allow nothing.
    .pipe(z.array(z.string().url().regex(/^https?:\/\/[^/]/i, 'each origin must start with http:// or https://').transform((o) => new URL(o).origin)))
    .default(''),
  INSTANCE_ID: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 of [A-Za-z0-9_.:-]').optional(),
  TRUST_PROXY: flag.default('off'),
  LIMITS: flag.default('on'),
  HISTORY_MAX: whole(100, 1_000_000).default(String(DEFAULTS.historyMax)),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default(DEFAULTS.logLevel),
  DRAIN_TIMEOUT_MS: whole(0, 600_000).default(String(DEFAULTS.drainTimeoutMs)),
  PING_INTERVAL_MS: whole(100, 300_000).default(String(DEFAULTS.pingIntervalMs)),
  PING_TIMEOUT_MS: whole(100, 300_000).default(String(DEFAULTS.pingTimeoutMs)),
  PRESENCE_HEARTBEAT_MS: whole(100, 60_000).default(String(DEFAULTS.presenceHeartbeatMs)),
  PRESENCE_STALE_MS: whole(200, 300_000).default(String(DEFAULTS.presenceStaleMs)),
} as const;

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
      throw new ConfigError(name, `${parsed.error.issues[0]?.message ?? 'invalid'} (got ${JSON.stringify(raw)})`);
    }
    values[name] = parsed.data;
  }
  const v = values as { [K in keyof typeof fields]: z.output<(typeof fields)[K]> };
  // A live instance misses a beat now and then: reaping after fewer than two
  // silent beats would take the users of a healthy instance out.
  if (v.PRESENCE_STALE_MS < 2 * v.PRESENCE_HEARTBEAT_MS) {
    throw new ConfigError('PRESENCE_STALE_MS', `must be at least twice PRESENCE_HEARTBEAT_MS (${v.PRESENCE_HEARTBEAT_MS})`);
  }
  return {
    port: v.PORT,
    host: v.HOST,
    redisUrl: v.REDIS_URL,
    redisPubSub: v.REDIS_PUBSUB,
    authSecret: v.AUTH_SECRET,
    allowedOrigins: v.ALLOWED_ORIGINS,
    instanceId: v.INSTANCE_ID ?? `${os.hostname()}:${v.PORT}`,
    trustProxy: v.TRUST_PROXY,
    limits: v.LIMITS,
    historyMax: v.HISTORY_MAX,
    logLevel: v.LOG_LEVEL,
    drainTimeoutMs: v.DRAIN_TIMEOUT_MS,
    pingIntervalMs: v.PING_INTERVAL_MS,
    pingTimeoutMs: v.PING_TIMEOUT_MS,
    presenceHeartbeatMs: v.PRESENCE_HEARTBEAT_MS,
    presenceStaleMs: v.PRESENCE_STALE_MS,
  };
}
