/**
 * The two Redis connections of an instance (commands, subscriptions): their
 * readiness, reconnection with backoff, a health probe, and the command
 * timeout that turns a failed or hung command into `UnavailableError`.
 */
import { EventEmitter, on } from 'node:events';
import { createClient, ErrorReply, type RedisClientType } from 'redis';
import { backoffDelay } from '../../common/backoff';
import { UnavailableError } from '../errors';
import type { Logger } from '../logger';

/** The node-redis client type used throughout (no modules, functions or scripts). */
export type RedisClient = RedisClientType;

export interface RedisLinkOptions {
  /**
   * A command that has not answered by then rejects with `UnavailableError`.
   * node-redis 4 has no per-command timeout, and a frozen Redis (SIGSTOP, a
   * stalled network) keeps the socket open without answering.
   * @default 2000
   */
  commandTimeoutMs?: number;
  /** How often the command link is probed with TIME (health and clock offset). @default 1000 */
  healthCheckMs?: number;
  /** Reconnection backoff: first delay and cap, in ms, with up to 50% jitter. @default 100 and 5000 */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

const DEFAULTS: Required<RedisLinkOptions> = {
  commandTimeoutMs: 2000,
  healthCheckMs: 1000,
  reconnectMinMs: 100,
  reconnectMaxMs: 5000,
};

/** Kinds of Redis error replies that mean "not now" rather than "wrong": the caller may retry. */
const TRANSIENT_REPLIES = new Set(['LOADING', 'BUSY', 'MASTERDOWN', 'TRYAGAIN', 'CLUSTERDOWN', 'READONLY', 'OOM', 'NOREPLICAS']);

/**
 * The kind of a Redis error reply (`NOSCRIPT`, `LOADING`, ...): the protocol
 * puts it as the first word of the reply, and node-redis hands the reply over
 * as text only. Undefined for anything that is not an error reply.
 */
export function replyKind(err: unknown): string | undefined {
  return err instanceof ErrorReply ? /^[A-Z]+/.exec(err.message)?.[0] : undefined;
}

/** What the links tell: every change of `ready()`, and the subscriber link back after an outage. */
export interface LinkEvents {
  readiness: [ready: boolean];
  /** The subscriber link is ready again after being down; node-redis has resubscribed what had succeeded. */
  'subscriber-restored': [];
}

/**
 * The two connections of an instance to Redis: one for commands (history,
 * presence, limits, adapter publishing) and one in subscriber mode (the
 * adapter). Tracks whether both are usable, reconnects with capped
 * exponential backoff, and turns a failed or hung command into
 * `UnavailableError`.
 */
export class RedisLinks extends EventEmitter<LinkEvents> {
  readonly command: RedisClient;
  readonly subscriber: RedisClient;
  private readonly options: Required<RedisLinkOptions>;
  /** False after a command timed out or the health probe failed, until a probe succeeds. */
  private healthy = true;
  /** Redis clock minus ours, in ms, from the last probe; undefined until one succeeded. */
  private clockOffsetMs?: number;
  private healthTimer?: NodeJS.Timeout;
  private probing = false;
  private subscriberWasDown = false;
  private lastReady = false;
  private closed = false;

  /**
   * @param name shows in Redis's CLIENT LIST as `parley-cmd:<name>` and
   * `parley-sub:<name>`, so an operator can tell the instances apart.
   */
  constructor(
    url: string,
    name: string,
    private readonly logger: Logger,
    options: RedisLinkOptions = {},
  ) {
    super();
    this.options = { ...DEFAULTS, ...options };
    // Jitter keeps a fleet of instances from reconnecting in lockstep after a
    // Redis restart. node-redis counts retries from 0.
    const backoff = { baseMs: this.options.reconnectMinMs, maxMs: this.options.reconnectMaxMs };
    const reconnectStrategy = (retries: number) => backoffDelay(retries + 1, backoff);
    this.command = createClient({
      url,
      name: `parley-cmd:${name}`,
      // Fail fast while disconnected instead of queueing sends that the client will retry anyway.
      disableOfflineQueue: true,
      socket: { reconnectStrategy, connectTimeout: this.options.commandTimeoutMs },
    }) as RedisClient;
    this.subscriber = createClient({
      url,
      name: `parley-sub:${name}`,
      // Subscriptions are queued while down all the same (node-redis does not
      // apply this to them), but are dropped, and repeated by the bus, if a
      // reconnection attempt fails.
      disableOfflineQueue: true,
      socket: { reconnectStrategy, connectTimeout: this.options.commandTimeoutMs },
    }) as RedisClient;
    this.watch(this.command, 'command');
    this.watch(this.subscriber, 'subscriber');
  }

  /** Connects both links, retrying with backoff until Redis answers. */
  async connect(): Promise<void> {
    await Promise.all([this.command.connect(), this.subscriber.connect()]);
    await this.probe();
    this.healthTimer = setInterval(() => void this.probe(), this.options.healthCheckMs);
    this.healthTimer.unref();
    this.notifyReadiness();
  }

  /** Whether both links are connected and the command link answers in time. */
  ready(): boolean {
    return !this.closed && this.command.isReady && this.subscriber.isReady && this.healthy;
  }

  /** Resolves once `ready()` is true (at once if it is); never, after `close()`. */
  async whenReady(): Promise<void> {
    if (this.ready()) return;
    for await (const [ready] of on(this, 'readiness')) if (ready) return;
  }

  /**
   * `ms` from now in Redis's clock (ms since the epoch), for scripts that
   * must not act after their caller gave up; 0 (no deadline) while the
   * offset between the clocks is unknown.
   */
  redisDeadline(ms: number): number {
    return this.clockOffsetMs === undefined ? 0 : Math.round(Date.now() + this.clockOffsetMs + ms);
  }

  get commandTimeoutMs(): number {
    return this.options.commandTimeoutMs;
  }

  /** The longest wait between reconnection attempts: by then every instance has tried again. */
  get reconnectMaxMs(): number {
    return this.options.reconnectMaxMs;
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

  /** Quits both links politely (pending commands finish), or drops them if Redis does not answer. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.healthTimer);
    await Promise.all(
      [this.command, this.subscriber].map(async (client) => {
        if (!client.isOpen) return;
        try {
          await this.run('quit', () => client.quit());
        } catch {
          await client.disconnect().catch(() => {});
        }
      }),
    );
  }

  /** Drops both links at once, as a crashed process would: nothing is cleaned up in Redis. */
  async abandon(): Promise<void> {
    this.closed = true;
    clearInterval(this.healthTimer);
    await Promise.all([this.command, this.subscriber].map((c) => (c.isOpen ? c.disconnect().catch(() => {}) : undefined)));
  }

  private translate(err: unknown, what: string): unknown {
    if (err instanceof UnavailableError) return err;
    if (err instanceof ErrorReply && !TRANSIENT_REPLIES.has(replyKind(err) ?? '')) return err;
    this.logger.debug({ what, err: (err as Error)?.message }, 'redis command failed');
    return new UnavailableError();
  }

  private watch(client: RedisClient, link: 'command' | 'subscriber'): void {
    const log = this.logger.child({ redis: link });
    let lastError = '';
    const down = () => {
      if (link === 'subscriber') this.subscriberWasDown = true;
      this.notifyReadiness();
    };
    // Without an 'error' listener node-redis would throw from its event emitter and kill the process.
    client.on('error', (err: Error) => {
      // One line per distinct error while reconnecting, not one per attempt.
      if (err.message !== lastError) log.warn({ err: err.message }, 'redis link error');
      lastError = err.message;
      down();
    });
    client.on('end', down);
    client.on('reconnecting', down);
    client.on('ready', () => {
      if (lastError) log.info('redis link is back');
      lastError = '';
      if (link === 'command') void this.probe();
      if (link === 'subscriber' && this.subscriberWasDown) {
        this.subscriberWasDown = false;
        this.emit('subscriber-restored');
      }
      this.notifyReadiness();
    });
  }

  /** TIME on the command link: proves it answers, and measures the clock offset. */
  private async probe(): Promise<void> {
    if (this.probing || this.closed || !this.command.isReady) return;
    this.probing = true;
    try {
      const sent = Date.now();
      const time = await this.run('health probe', () => this.command.time());
      const received = Date.now();
      // The reply was made about half-way through the round trip.
      this.clockOffsetMs = time.getTime() - (sent + received) / 2;
      this.setHealthy(true);
    } catch {
      this.setHealthy(false);
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
