/** The SDK's public types: the options, the connection status, what a join and a page answer, and the events. */
import type { ManagerOptions, SocketOptions } from 'socket.io-client';
import type { HandshakeAuth, Message, PresenceEvent, SessionEvent, TypingEvent, User } from '../../protocol';
import type { BackoffOptions } from '../../common/backoff';
import type { ParleyError } from './errors';
import type { OutboxEntry } from './outbox';

/**
 * The connection as a UI shows it:
 * - `connecting`: opening the first connection;
 * - `connected`: connected; joined rooms are live (or re-joining);
 * - `reconnecting`: the connection dropped and is being reopened on its own;
 * - `offline`: the browser is offline, the server refused the handshake or
 *   closed the session, reconnection gave up, or the client was closed.
 */
export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting' | 'offline';

/** Options of `new ParleyClient()`. */
export interface ParleyClientOptions {
  /**
   * The server, e.g. `https://chat.example.com`.
   * @default the page's own origin (browsers only)
   */
  url?: string;
  /**
   * The handshake identity: `{ name }` in open mode, `{ token }` in token
   * mode, or a function answering one, called at every (re)connection, so
   * that a reconnect can use a fresh token.
   */
  auth: HandshakeAuth | (() => HandshakeAuth | Promise<HandshakeAuth>);
  /**
   * How long a message or a change that came early (its `rev` is not the
   * next one) waits for the missing ones before the SDK reads them with
   * `room:changes`.
   * @default 400
   */
  gapFillMs?: number;
  /**
   * How long a request waits for its answer; an unanswered send is then
   * resent with the same `clientId`.
   * @default 10000
   */
  ackTimeoutMs?: number;
  /** Retry delays after `unavailable` and other transient failures. @default { baseMs: 250, maxMs: 10000 } */
  backoff?: Partial<BackoffOptions>;
  /**
   * Passed to socket.io-client's `io()` (e.g. `transports`,
   * `reconnectionDelay`, `reconnectionDelayMax`, `timeout`).
   * @default { transports: ['websocket', 'polling'], tryAllTransports: true }
   */
  socket?: Partial<ManagerOptions & SocketOptions>;
}

/** A room as joined: what a UI needs to draw it. */
export interface JoinInfo {
  room: string;
  /** The last `seq` handed to the application (0: none yet). */
  seq: number;
  /** Every change of the room up to this `rev` was handed to the application (0: none yet). */
  rev: number;
  /** Users present, on every instance. */
  members: User[];
  /** Whether `loadOlder` has more to give. */
  hasOlder: boolean;
  /** False for the first join, true for a re-join after a reconnect. */
  rejoin: boolean;
}

/** A page of older messages, from `loadOlder`. */
export interface OlderPage {
  messages: Message[];
  /** Whether still older messages exist. */
  hasMore: boolean;
}

/**
 * Messages of a room that the server no longer keeps (history is trimmed to
 * its last `HISTORY_MAX`), jumped over while this client was away: `from`
 * and `to` are the first and last missing `seq`, inclusive.
 */
export interface SkippedEvent {
  room: string;
  from: number;
  to: number;
}

/** The events of a `ParleyClient`; each listener takes one argument. */
export type ParleyClientEvents = {
  /** The connection status changed. */
  status: (status: ConnectionStatus) => void;
  /** The server identified this connection (again after every reconnect). */
  session: (session: SessionEvent) => void;
  /**
   * The next new message of a joined room, in its current state: in `seq`
   * order per room, each once. Its `rev` may be past its first one when it
   * changed before it was handed over (after a reconnect).
   */
  message: (message: Message) => void;
  /**
   * A message of a joined room changed (edited, deleted, reacted to): its
   * whole current state, to draw in its place (by `id`). Per room, the
   * changes are handed over in `rev` order, each once, and a message's
   * `update` always comes after its `message`; after a reconnect, changes
   * missed meanwhile come together, each message once in its latest state.
   * The message may be one the application never had (older than the join's
   * page): ignore it, or keep it for `loadOlder`. Keep the state with the
   * higher `rev` if two meet (a `loadOlder` page read before a change).
   */
  update: (message: Message) => void;
  /**
   * The sequence of a room jumped over messages that were trimmed from
   * history before this client could have them (it was away for more than
   * `HISTORY_MAX` messages): they will never be handed over. Told once per
   * skip, in the place of the missing messages: after the `message` before
   * them and before the one after them.
   */
  skipped: (event: SkippedEvent) => void;
  /** A room's join, or re-join after a reconnect, completed: every message up to `seq` and every change up to `rev` was handed over. */
  joined: (info: JoinInfo) => void;
  /** A room's member list changed (join answers and presence). */
  members: (update: { room: string; members: User[] }) => void;
  /**
   * A user's first socket joined a room, or its last one left. Events older
   * than the member list held (by presence version) and repeats are not passed on.
   */
  presence: (event: PresenceEvent) => void;
  /** Another user started or stopped typing. */
  typing: (event: TypingEvent) => void;
  /**
   * A queued send or change (`kind`: `send`, `edit`, `delete`, `react`,
   * `unreact`) changed status (`queued`, `sending`, `sent`, `failed`).
   */
  outbox: (entry: OutboxEntry) => void;
  /** Something failed with no caller to tell: a refused handshake, a room that cannot be joined. */
  error: (error: ParleyError) => void;
};
