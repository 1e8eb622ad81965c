/**
 * Instance liveness over Redis: this instance's heartbeat, the reaper lock,
 * and the reaping of instances that stopped heartbeating. What an instance
 * had in the rooms is presence's (presence.ts); this module decides when an
 * instance is alive, dead, or was wrongly taken for dead, and asks presence
 * to act on it.
 */
import { DEFAULTS } from '../config';
import type { Logger } from '../logger';
import type { RedisLinks } from './connection';
import { keys } from './keys';
import { CLAIM_STALE, HEARTBEAT, RELEASE } from './presence-scripts';

export interface PresenceTimings {
  /** How often this instance says it is alive (and looks for dead ones). @default DEFAULTS.presenceHeartbeatMs */
  heartbeatMs?: number;
  /** An instance silent for this long is dead and its users are taken out. @default DEFAULTS.presenceStaleMs */
  staleMs?: number;
}

/** What liveness asks of the presence it keeps alive, each at its moment in a heartbeat round. */
export interface LivenessDuties {
  /** Redis forgot this instance (it was taken for dead, or lost its data): put its sockets back. */
  registerAgain(): Promise<void>;
  /** Repeat the leaves that failed while Redis was away; the other instances are listening again by then. */
  retryLeaves(): Promise<void>;
  /** Take every socket of a dead instance (or of this one, closing) out of its rooms. */
  removeInstance(presenceId: string): Promise<void>;
}

/**
 * Keeps this instance registered as alive (a heartbeat in the `instances`
 * sorted set, in Redis's clock) and, one instance at a time under a short
 * lock, reaps the instances whose heartbeat is older than `staleMs`.
 */
export class Liveness {
  private readonly heartbeatMs: number;
  private readonly staleMs: number;
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private registered = false;
  /** Redis forgot this instance's sockets and they are not all back yet. */
  private lost = false;
  /** Since when the link has been up without a break: reaping waits a full stale period after an outage. */
  private upSince = Date.now();
  private closed = false;

  constructor(
    private readonly links: RedisLinks,
    private readonly logger: Logger,
    /** Unique per process (a restarted instance must not pass for its former self). */
    private readonly presenceId: string,
    private readonly duties: LivenessDuties,
    timings: PresenceTimings = {},
  ) {
    this.heartbeatMs = timings.heartbeatMs ?? DEFAULTS.presenceHeartbeatMs;
    this.staleMs = timings.staleMs ?? DEFAULTS.presenceStaleMs;
    links.on('readiness', (ready) => {
      if (!ready) return;
      this.upSince = Date.now();
      // Say we are alive at once: others may be about to reap after the same outage.
      this.tick();
    });
  }

  /** Registers this instance and starts its heartbeat. */
  async start(): Promise<void> {
    await this.heartbeat();
    this.timer = setInterval(() => this.tick(), this.heartbeatMs);
    this.timer.unref();
  }

  /** Stops the heartbeat, takes this instance's remaining sockets out of every room, and unregisters it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.ticking;
    try {
      await this.reapInstance(this.presenceId);
    } catch (err) {
      this.logger.warn({ err }, 'could not remove this instance from presence; another instance will reap it');
    }
  }

  /** Stops the heartbeat and leaves everything in Redis as it is, as a crashed process would. */
  abandon(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  /** One heartbeat round, never two at once, never throwing. */
  private tick(): void {
    if (this.closed || this.ticking) return;
    this.ticking = this.round()
      .catch((err) => this.logger.debug({ err: (err as Error).message }, 'presence heartbeat round failed'))
      .finally(() => {
        this.ticking = undefined;
      });
  }

  private async round(): Promise<void> {
    await this.heartbeat();
    // The leaves are told to the rooms over the bus: give the other
    // instances, which reconnect with backoff, time to be listening again.
    if (Date.now() - this.upSince >= this.links.reconnectMaxMs) await this.duties.retryLeaves();
    if (Date.now() - this.upSince >= this.staleMs && this.links.ready()) await this.reap();
  }

  private async heartbeat(): Promise<void> {
    const added = await this.links.run('heartbeat', () => HEARTBEAT.run(this.links.command, [keys.instances], [this.presenceId]));
    if (added === 1 && this.registered) {
      this.logger.warn('presence of this instance was lost; registering its sockets again');
      this.lost = true;
    }
    this.registered = true;
    // Until it succeeds: the next heartbeat finds the instance registered and would not say so again.
    if (this.lost) {
      await this.duties.registerAgain();
      this.lost = false;
    }
  }

  /** Under the reaper lock, takes every stale instance's sockets out of presence. */
  private async reap(): Promise<void> {
    const { command } = this.links;
    const lockMs = Math.max(2 * this.heartbeatMs, 1000);
    const stale = (await this.links.run('stale instances', () =>
      CLAIM_STALE.run(command, [keys.instances, keys.reaperLock], [this.presenceId, lockMs, this.staleMs]),
    )) as string[] | null;
    if (!stale) return;
    try {
      for (const id of stale) {
        if (id === this.presenceId) continue;
        this.logger.warn({ instance: id }, 'reaping the presence of a silent instance');
        await this.reapInstance(id);
      }
    } finally {
      await this.links.run('reaper unlock', () => RELEASE.run(command, [keys.reaperLock], [this.presenceId])).catch(() => {});
    }
  }

  /** Takes one instance's sockets out of every room, then forgets the instance. */
  private async reapInstance(id: string): Promise<void> {
    await this.duties.removeInstance(id);
    await this.links.run('forget instance', () => this.links.command.zRem(keys.instances, id));
  }
}
