/**
 * The Socket.IO types of the server (its `Server` and `Socket` typed with the
 * contract) and the names of the rooms a socket is in: chat rooms, and one
 * room per user.
 */
import type { Server, Socket } from 'socket.io';
import { ROOM_PATTERN, type ClientToServerEvents, type ServerToClientEvents, type User } from '../protocol';
import type { Identity } from './auth';

/** What each socket carries. */
export interface SocketData {
  identity: Identity;
  /** Rooms this socket joined, kept for the presence leave on disconnect. */
  rooms: Set<string>;
  /** The timer that ends the session when the token expires (realtime/guards.ts). */
  expiryTimer?: NodeJS.Timeout;
}

export type ParleyServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

export type ParleySocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

/**
 * The Socket.IO room holding every socket of one user on this instance, used
 * to leave a user's own sockets out of a broadcast. Nothing is ever sent to
 * it. Its name cannot be a chat room's: those never contain a colon.
 */
export function userRoom(user: User): string {
  return `user:${user.id}`;
}

/**
 * Whether a Socket.IO room is a chat room, by its name alone, so that every
 * instance answers alike for any room: not a user's room (it has a colon),
 * nor, but for the rare socket id that happens to be lower-case, a socket's
 * own room (its id).
 */
export function isChatRoom(room: string): boolean {
  return ROOM_PATTERN.test(room);
}
