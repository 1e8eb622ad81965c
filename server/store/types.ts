/**
 * The message store interface: the one place that assigns `seq` and `rev`,
 * the changes to messages, and the pages it answers.
 */
import type { ChangesAnswer, Message, User } from '../../protocol';

/** What a send asks the store to keep. */
export interface AppendInput {
  /** Proposed id; kept only if the message is new. */
  id: string;
  room: string;
  clientId: string;
  user: User;
  text: string;
  ts: number;
  /**
   * The bus's publication of the new message, made by the store in the same
   * atomic step as the write (a Redis store: one round trip instead of two).
   * A store that cannot publish ignores it and answers `published: false`.
   */
  publish?: BusPublication;
}

/**
 * A broadcast for the store to publish on the bus along with a new message:
 * `before`, the message as JSON, then `after`, on `channel`.
 */
export interface BusPublication {
  channel: string;
  sharded: boolean;
  before: string;
  after: string;
}

export interface AppendResult {
  /**
   * The stored message; for a repeat, the original in its current state (or,
   * when it has left the history since, as it was stored, with the text
   * sent again).
   */
  message: Message;
  /** True when `(user.id, room, clientId)` was stored before: nothing was stored now. */
  duplicate: boolean;
  /** The store published `input.publish` to the other instances: the caller delivers to its own sockets only. */
  published?: boolean;
}

/** A change to a message, as the contract's events ask for it. */
export type ChangeOp =
  | { kind: 'edit'; text: string }
  | { kind: 'delete' }
  | { kind: 'react'; reaction: string }
  | { kind: 'unreact'; reaction: string };

export interface ChangeInput {
  room: string;
  /** The message's id. */
  id: string;
  /** Who asks: the author check of an edit or a deletion, the giver of a reaction. */
  userId: string;
  op: ChangeOp;
  /** Server time: an edit's `editedTs`. */
  ts: number;
}

export interface ChangeResult {
  /** The message's whole current state. */
  message: Message;
  /** False when the request changed nothing: no rev was taken. */
  changed: boolean;
}

export interface Page {
  messages: Message[];
  hasMore: boolean;
}

/** `room:changes`' answer. */
export type ChangesPage = ChangesAnswer;

/**
 * The history of every room: the one place that assigns `seq` (new messages)
 * and `rev` (every change, new messages included).
 *
 * Implementations: in memory (one instance) and Redis (any number). Every
 * method rejects with `UnavailableError` when the backing store cannot be
 * reached, having written nothing.
 */
export interface MessageStore {
  /** Stores a message with the room's next `seq` and `rev`, or answers the original of a repeated send. */
  append(input: AppendInput): Promise<AppendResult>;
  /**
   * Changes a kept message and gives it the room's next `rev`, atomically;
   * a request that changes nothing takes no rev and answers the current state.
   * @throws AppError `not_found` (no such message kept in the room, or deleted
   * for an edit or a reaction), `forbidden` (an edit or a deletion by another
   * user than the author), `too_large` (a reaction past the distinct ones a
   * message may carry)
   */
  change(input: ChangeInput): Promise<ChangeResult>;
  /**
   * Up to `limit` kept messages whose latest change has `rev > after`, in
   * ascending rev, with the room's latest rev read at the same moment;
   * `hasMore`: more follow.
   */
  changes(room: string, after: number, limit: number): Promise<ChangesPage>;
  /** The newest `limit` messages, ascending; `hasMore`: older ones exist. */
  latest(room: string, limit: number): Promise<Page>;
  /** Up to `limit` messages with `seq < before`, the closest ones, ascending; `hasMore`: older ones exist. */
  before(room: string, before: number, limit: number): Promise<Page>;
  /** Up to `limit` messages with `seq > after`, ascending; `hasMore`: newer ones exist. */
  after(room: string, after: number, limit: number): Promise<Page>;
  /** The latest `seq` of each room (0 for a room with no messages). */
  lastSeqs(rooms: string[]): Promise<number[]>;
  /** The latest `rev` of each room (0 for a room with no changes). */
  lastRevs(rooms: string[]): Promise<number[]>;
}
