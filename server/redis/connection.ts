/**
 * The Redis links of an instance (commands, subscriptions), to one Redis or
 * to a Redis Cluster alike: their readiness, reconnection with backoff, a
 * health probe with the clock offset, the command timeout that turns a
 * failed or hung command into `UnavailableError`, and durable writes (WAIT
 * for replicas). What differs between one Redis and a cluster is behind
 * `Topology` (topology.ts, cluster-topology.ts).
 */
import { EventEmitter, on } from 'node:events';
import { ErrorReply } from 'redis';
import { backoffDelay } from '../../common/backoff';
import { DEFAULTS } from '../config';
import { UnavailableError } from '../errors';
import type { Logger } from '../logger';
import { RedisClusterTopology } from './cluster-topology';
import { SingleRedis, type RedisClient, type RedisCommands, type Topology } from './topology';

export type { RedisClient, RedisCommands };

/** Where Redis is: one server by URL, or a Redis Cluster by some of its nodes (seeds). */
export type RedisTarget = { url: string } | { clusterNodes: string[] };

export interface RedisLinkOptions {
  /**
   * A command that has not answered by then rejects with `UnavailableError`.
   * node-redis 4 has no per-command timeout, and a frozen Redis (SIGSTOP, a
   * stalled network) keeps the socket open without answering.
   * @default 2000
   */
  commandTimeoutMs?: number;
  /** How often the masters are probed with TIME (health and clock offset). @default 1000 */
  healthCheckMs?: number;
  /** Reconnection backoff: first delay and cap, in ms, with up to 50% jitter. @default 100 and 5000 */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /**
   * How many replicas must have a durable write (a message stored) before
   * it is acknowledged: `WAIT` on the write's own connection right after it.
   * Fewer within `waitTimeoutMs` answers `unavailable`. 0 = no waiting.
   * @default DEFAULTS.redisWaitReplicas
   */
  waitReplicas?: number;
  /** How long WAIT waits for the replicas. @default DEFAULTS.redisWaitTimeoutMs */
  waitTimeoutMs?: number;
}

const DEFAULT_OPTIONS: Required<RedisLinkOptions> = {
  commandTimeoutMs: 2000,
  healthCheckMs: 1000,
  reconnectMinMs: 100,
  reconnectMaxMs: 5000,
  waitReplicas: DEFAULTS.redisWaitReplicas,
  waitTimeoutMs: DEFAULTS.redisWaitTimeoutMs,
};

/**
 * Kinds of Redis error replies that mean "not now" rather than "wrong": the
 * caller may retry. MOVED and ASK reach a caller only when redirections run
 * out or on a connection used directly (durable writes): the slot is moving.
 */
const TRANSIENT_REPLIES = new Set(['LOADING', 'BUSY', 'MASTERDOWN', 'TRYAGAIN', 'CLUSTERDOWN', 'READONLY', 'OOM', 'NOREPLICAS', 'MOVED', 'ASK']);

/**
 * The kind of a Redis error reply (`NOSCRIPT`, `LOADING`, ...): the protocol
 * puts it as the first word of the reply, and node-redis hands the reply over
 * as text only. Undefined for anything that is not an error reply.
 */
export function replyKind(err: unknown): string | undefined {
  return err instanceof ErrorReply ? /^[A-Z]+/.exec(err.message)?.[0] : undefined;
}

/** What the links tell: every change of `ready()`, and the subscriber links back after an outage. */
export interface LinkEvents {
  readiness: [ready: boolean];
  /** A subscriber link is ready again after being down; node-redis has resubscribed what had succeeded. */
  'subscriber-restored': [];
  /** The subscriber links were replaced (a cluster's failover): every subscription must be made again. */
  'subscriber-replaced': [];
}

/**
 * The links of an instance to Redis: for commands (history, presence,
 * limits, publishing) and in subscriber mode (the bus), to one server or to
 * every master of a cluster. Tracks whether they are usable, reconnects
 * with capped exponential backoff, follows a cluster's failovers, and turns
 * a failed or hung command into `UnavailableError`.
 */
export class RedisLinks extends EventEmitter<LinkEvents> {
  private readonly options: Required<RedisLinkOptions>;
  private readonly topology: Topology;
  /** False after a command timed out or the health probe failed, until a probe succeeds. */
  private healthy = true;
  /** Redis clock minus ours, in ms, from the last probe; undefined until one succeeded. */
  private clockOffsetMs?: number;
  private healthTimer?: NodeJS.Timeout;
  private probing = false;
  private lastReady = false;
  /** The last WAIT found too few replicas: logged once until one finds enough. */
  private replicasShort = false;
  private closed = false;

  /**
   * @param name shows in Redis's CLIENT LIST as `parley-cmd:<name>` and
   * `parley-sub:<name>`, so an operator can tell the instances apart.
   */
  constructor(
    target: RedisTarget,
    name: string,
    private readonly logger: Logger,
    options: RedisLinkOptions = {},
  ) {
    super();
    this.options = { ...DEFAULT_OPTIONS, ...options };
    // Jitter keeps a fleet of instances from reconnecting in lockstep after a
    // Redis restart. node-redis counts retries from 0.
    const backoff = { baseMs: this.options.reconnectMinMs, maxMs: this.options.reconnectMaxMs };
    const settings = {
      name,
      connectTimeoutMs: this.options.commandTimeoutMs,
      reconnectStrategy: (retries: number) => backoffDelay(retries + 1, backoff),
      logger,
    };
    this.topology = 'url' in target ? new SingleRedis(target.url, settings) : new RedisClusterTopology(target.clusterNodes, settings);
    this.topology.on('change', () => {
      if (this.topology.commandUp()) void this.probe();
      this.notifyReadiness();
    });
    this.topology.on('subscriber-restored', () => this.emit('subscriber-restored'));
    this.topology.on('subscriber-replaced', () => this.emit('subscriber-replaced'));
  }

  /** For commands: a client, or a cluster client that routes each command by its key. */
  get command(): RedisCommands {
    return this.topology.command;
  }

  /** For subscriptions: a client in subscriber mode, or a cluster client that subscribes on each channel's master. */
  get subscriber(): RedisCommands {
    return this.topology.subscriber;
  }

  /** Connects every link, retrying with backoff until Redis answers. */
  async connect(): Promise<void> {
    await this.topology.connect();
    await this.probe();
    this.healthTimer = setInterval(() => void this.probe(), this.options.healthCheckMs);
    this.healthTimer.unref();
    this.notifyReadiness();
  }

  /** Whether every link is connected and the masters answer in time. */
  ready(): boolean {
    return !this.closed && this.topology.commandUp() && this.topology.subscriberUp() && this.healthy;
  }

  /** Whether the subscriber links are up (a subscription can be made now). */
  subscriberReady(): boolean {
    return !this.closed && this.topology.subscriberUp();
  }

  /** Resolves once `ready()` is true (at once if it is); never, after `close()`. */
  async whenReady(): Promise<void> {
    if (this.ready()) return;
    for await (const [ready] of on(this, 'readiness')) if (ready) return;
  }

  /**
   * `ms` from now in Redis's clock (ms since the epoch), for scripts that
   * must not act after their caller gave up; 0 (no deadline) while the
   * offset between the clocks is unknown. On a cluster the offset is
   * measured against one master: the nodes' clocks are taken to agree
   * (NTP) well within a deadline's margin.
   */
  redisDeadline(ms: number): number {
    return this.clockOffsetMs === undefined ? 0 : Math.round(Date.now() + this.clockOffsetMs + ms);
  }

  get commandTimeoutMs(): number {
    return this.options.commandTimeoutMs;
  }

  /** How many replicas a durable write waits for (0: none). */
  get waitReplicas(): number {
    return this.options.waitReplicas;
  }

  /** The longest wait between reconnection attempts: by then every instance has tried again. */
  get reconnectMaxMs(): number {
    return this.options.reconnectMaxMs;
  }

  /** The connection to the master that serves `key`'s slot (for what is not a key command: PUBSUB, INFO). */
  clientFor(key: string): Promise<RedisClient> {
    return this.topology.clientFor(key);
  }

  /**
   * Runs a command with a deadline. Connection errors, transient error
   * replies and timeouts become `UnavailableError`; other error replies (a bug
   * in a script, say) pass through.
   */
  async run<T>(what: string, op: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        if (this.healthy) this.logger.warn({ what, timeoutMs: this.options.commandTimeoutMs }, 'redis command timed out');
        this.setHealthy(false);
        reject(new UnavailableError());
      }, this.options.commandTimeoutMs);
    });
    let pending: Promise<T>;
    try {
      pending = op();
    } catch (err) {
      clearTimeout(timer);
      throw this.translate(err, what);
    }
    // The command may still settle after the deadline: swallow that late rejection.
    pending.catch(() => {});
    try {
      return await Promise.race([pending, timeout]);
    } catch (err) {
      throw this.translate(err, what);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A write that is acknowledged to a client (a message stored): `op` runs
   * on the connection to the master of `key`'s slot, and then, with
   * `waitReplicas`, WAIT on that same connection makes sure the replicas
   * have it (WAIT counts what this connection wrote, everything before it
   * included) so that a failover cannot lose it. Too few replicas in time
   * answers `unavailable`: the write is on the master, and a retry with the
   * same idempotency key answers it. A script whose reply is acknowledged
   * must therefore write something even when it only answers an earlier
   * write (a repeat), or WAIT would not wait for that earlier write.
   */
  durable<T>(what: string, key: string, op: (client: RedisClient) => Promise<T>): Promise<T> {
    return this.run(what, async () => {
      const client = await this.topology.clientFor(key);
      let result: T;
      try {
        result = await op(client);
      } catch (err) {
        // This connection is no longer the slot's master (it moved, or failed over): follow the cluster.
        if (['MOVED', 'ASK', 'READONLY'].includes(replyKind(err) ?? '')) void this.topology.follow(key);
        throw err;
      }
      await this.confirm(client);
      return result;
    });
  }

  /** Redis's version (`INFO server`; on a cluster, of the master of slot 0's key). */
  async redisVersion(): Promise<string> {
    const info = await this.run('INFO server', async () => (await this.topology.clientFor('')).info('server'));
    return /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? '0';
  }

  /** Quits every link politely (pending commands finish), or drops them if Redis does not answer. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.healthTimer);
    await this.topology.close();
  }

  /** Drops every link at once, as a crashed process would: nothing is cleaned up in Redis. */
  async abandon(): Promise<void> {
    this.closed = true;
    clearInterval(this.healthTimer);
    await this.topology.abandon();
  }

  /** WAIT for `waitReplicas` on `client`; `UnavailableError` unless they all have its writes in time. */
  private async confirm(client: RedisClient): Promise<void> {
    const needed = this.options.waitReplicas;
    if (needed === 0) return;
    let acked: number;
    try {
      acked = Number(await client.sendCommand(['WAIT', String(needed), String(this.options.waitTimeoutMs)]));
    } catch {
      // A master demoted meanwhile refuses WAIT ("cannot be used with replica instances").
      acked = -1;
    }
    if (acked >= needed) {
      if (this.replicasShort) this.logger.info({ replicas: acked }, 'writes reach enough replicas again');
      this.replicasShort = false;
      return;
    }
    if (!this.replicasShort) {
      this.logger.warn({ needed, acked: Math.max(acked, 0), waitTimeoutMs: this.options.waitTimeoutMs }, 'a write did not reach enough replicas in time; answering unavailable');
    }
    this.replicasShort = true;
    throw new UnavailableError('stored, but not yet on enough replicas to survive a failover; retry with the same clientId');
  }

  private translate(err: unknown, what: string): unknown {
    if (err instanceof UnavailableError) return err;
    if (err instanceof ErrorReply && !TRANSIENT_REPLIES.has(replyKind(err) ?? '')) return err;
    this.logger.debug({ what, err: (err as Error)?.message }, 'redis command failed');
    return new UnavailableError();
  }

  /** Every master's clock (TIME): proves they answer, and measures the clock offset. */
  private async probe(): Promise<void> {
    if (this.probing || this.closed) return;
    if (!this.topology.commandUp()) {
      // A master that stopped answering may have been replaced by its replica.
      void this.topology.follow();
      return;
    }
    this.probing = true;
    try {
      const sent = Date.now();
      const time = await this.run('health probe', () => this.topology.probe());
      const received = Date.now();
      // The reply was made about half-way through the round trip.
      this.clockOffsetMs = time.getTime() - (sent + received) / 2;
      this.setHealthy(true);
    } catch {
      this.setHealthy(false);
      void this.topology.follow();
    } finally {
      this.probing = false;
    }
  }

  private setHealthy(healthy: boolean): void {
    if (this.healthy === healthy) return;
    this.healthy = healthy;
    if (healthy) this.logger.info('redis answers again');
    else this.logger.warn('redis does not answer in time');
    this.notifyReadiness();
  }

  private notifyReadiness(): void {
    const ready = this.ready();
    if (ready === this.lastReady) return;
    this.lastReady = ready;
    this.emit('readiness', ready);
  }
}
