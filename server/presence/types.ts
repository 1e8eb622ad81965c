/**
 * The presence interface (who is in which room, service-wide) and the shapes
 * it answers.
 *
 * Every change of a room's members (a user's first socket in, its last one
 * out, a dead instance's users reaped, a wrongly reaped instance's users back)
 * takes the room's next presence version, atomically with the change. The
 * events of one room come from several instances and can reach a client out
 * of order; the version lets it put them back in order and notice one that
 * was lost. Versions only grow, but need not be consecutive between two
 * snapshots read far apart (a room's counter may start again higher).
 */
import type { EventEmitter } from 'node:events';
import type { User } from '../../protocol';

export interface JoinResult {
  /** No other socket of this user was in the room, on any instance. */
  first: boolean;
  /** The users present now, the joiner included. */
  members: User[];
  /** The room's presence version that `members` reflects (after this join if `first`). */
  version: number;
}

export interface LeaveResult {
  /** The user has no socket left in the room, on any instance. */
  last: boolean;
  /** The count of users now present. */
  members: number;
  /** The room's presence version now (after this leave if `last`). */
  version: number;
}

/** A change of a room's members, as its presence event tells it. */
export interface PresenceChange {
  room: string;
  user: User;
  /** The count of users present after the change. */
  members: number;
  /** The room's presence version after the change. */
  version: number;
}

/** A room's members together with the presence version they reflect. */
export interface PresenceSnapshot {
  members: User[];
  version: number;
}

/** The last change of a room's members, as its presence event tells it. */
export interface LastChange extends PresenceChange {
  event: 'join' | 'leave';
}

/** What presence tells of the changes of members that no socket of this instance asked for. */
export interface PresenceEvents {
  /** Users taken out of a room without a socket of this instance asking: their instance died, or their leave failed while Redis was away. */
  reaped: [leave: PresenceChange];
  /** Users present again because their instance, taken for dead, registered its sockets again. */
  restored: [join: PresenceChange];
}

/**
 * Who is in which room, service-wide. A user with several sockets counts once.
 *
 * Implementations: in memory (one instance) and Redis (any number, with a
 * heartbeat per instance so that the members of a dead instance are removed).
 */
export interface Presence extends EventEmitter<PresenceEvents> {
  join(room: string, user: User, socketId: string): Promise<JoinResult>;
  leave(room: string, user: User, socketId: string): Promise<LeaveResult>;
  /** The room's last change of members; undefined if none is known (never, or long ago). */
  lastChange(room: string): Promise<LastChange | undefined>;
  /** Every room with members now, and how many. */
  rooms(): Promise<Array<{ room: string; members: number }>>;
}
