import type { User } from '../../protocol';

export interface JoinResult {
  /** No other socket of this user was in the room, on any instance. */
  first: boolean;
  /** The users present now, the joiner included. */
  members: User[];
}

export interface LeaveResult {
  /** The user has no socket left in the room, on any instance. */
  last: boolean;
  /** The count of users now present. */
  members: number;
}

/** Users who left a room without a socket of this instance (another instance died). */
export interface ReapedLeave {
  room: string;
  user: User;
  members: number;
}

/**
 * Who is in which room, service-wide. A user with several sockets counts once.
 *
 * Implementations: in memory (one instance) and Redis (any number, with a
 * heartbeat per instance so that the members of a dead instance are removed).
 */
export interface Presence {
  join(room: string, user: User, socketId: string): Promise<JoinResult>;
  leave(room: string, user: User, socketId: string): Promise<LeaveResult>;
  members(room: string): Promise<User[]>;
  /** Every room with members now, and how many. */
  rooms(): Promise<Array<{ room: string; members: number }>>;
  /** Registers who hears of users removed because their instance died. */
  onReaped(listener: (leave: ReapedLeave) => void): void;
  /** Stops timers; takes this instance's sockets out where it can. */
  close(): Promise<void>;
}
