/**
 * Rules every connection is held to whatever the event: its token's expiry
 * (checked on every incoming event, and a timer that ends the session when
 * `exp` passes) and the number of rooms it may be in at once.
 *
 * The expiry check is a Socket.IO middleware (`socket.use`), which every
 * event passes through before any handler: an event added later is covered
 * without a line of its own.
 */
import type { ErrorBody } from '../../protocol';
import { AppError } from '../errors';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { ParleySocket } from '../sockets';

/** setTimeout's longest delay; a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What an event after the token's expiry is answered, and what `session:ended` says. */
const EXPIRED: ErrorBody = { code: 'unauthorized', message: 'token expired: connect again with a fresh token' };

function clearExpiry(this: ParleySocket): void {
  clearTimeout(this.data.expiryTimer);
}

export interface GuardOptions {
  /** Rooms one connection may be in at once. */
  maxRoomsPerConnection: number;
  logger: Logger;
  metrics: Metrics;
  /** @default Date.now */
  now?: () => number;
}

/** The per-connection rules: token expiry and rooms per connection. */
export class Guards {
  private readonly now: () => number;

  constructor(private readonly options: GuardOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Holds a newly connected socket to its token's `exp`: an event arriving
   * after it answers `unauthorized` (and is not carried out), and when it
   * passes the socket is told `session:ended` and disconnected. Identities
   * without an expiry (open mode) are left alone.
   */
  watch(socket: ParleySocket): void {
    const { expiresAt } = socket.data.identity;
    if (expiresAt === undefined) return;
    const { now, options } = this;

    socket.use((packet, next) => {
      if (now() < expiresAt) return next();
      options.metrics.errors.inc({ code: 'unauthorized' });
      const ack = packet[packet.length - 1];
      if (typeof ack === 'function') (ack as (answer: unknown) => void)({ ok: false, error: EXPIRED });
      // Not calling next() drops the event: no handler runs for it.
    });
    this.arm(socket);
    // Shared by every socket (the socket is `this`): one closure less per connection.
    socket.once('disconnect', clearExpiry);
  }

  /** Ends the socket's session once its token's `exp` has passed, or looks again later (timers are bounded). */
  private readonly arm = (socket: ParleySocket): void => {
    const expiresAt = socket.data.identity.expiresAt!;
    const left = expiresAt - this.now();
    if (left > 0) {
      socket.data.expiryTimer = setTimeout(this.arm, Math.min(left, MAX_TIMER_MS), socket);
      return;
    }
    this.options.logger.info({ socket: socket.id, user: socket.data.identity.user.id }, 'token expired: session ended');
    // Said before the disconnect, on the same connection, so the client
    // knows why: socket.io-client does not reconnect on its own after a
    // server-side disconnect, and a reconnect with the same token is refused.
    socket.emit('session:ended', EXPIRED);
    socket.disconnect(true);
  };

  /**
   * Throws `too_large` when the socket is in more rooms than allowed. Called
   * right after a join added its room (synchronously with the addition, so
   * concurrent joins cannot overshoot together); the join is then undone.
   */
  assertRoomSlots(socket: ParleySocket): void {
    const max = this.options.maxRoomsPerConnection;
    if (socket.data.rooms.size > max) {
      throw new AppError('too_large', `a connection may be in at most ${max} rooms: leave one first`);
    }
  }
}
