/**
 * Rules every connection is held to whatever the event: the number of rooms
 * it may be in at once.
 */
import { AppError } from '../errors';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { ParleySocket } from '../sockets';

export interface GuardOptions {
  /** Rooms one connection may be in at once. */
  maxRoomsPerConnection: number;
  logger: Logger;
  metrics: Metrics;
  /** @default Date.now */
  now?: () => number;
}

/** The per-connection rules. */
export class Guards {
  private readonly now: () => number;

  constructor(private readonly options: GuardOptions) {
    this.now = options.now ?? Date.now;
  }

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
