/**
 * The message store interface: the one place that assigns `seq`, and the
 * pages it answers.
 */
import type { Message, User } from '../../protocol';

/** What a send asks the store to keep. */
export interface AppendInput {
  /** Proposed id; kept only if the message is new. */
  id: string;
  room: string;
  clientId: string;
  user: User;
  text: string;
  ts: number;
}

export interface AppendResult {
  message: Message;
  /** True when `(user.id, room, clientId)` was stored before: `message` is the original. */
  duplicate: boolean;
}

export interface Page {
  messages: Message[];
  hasMore: boolean;
}

/**
 * The history of every room: the one place that assigns `seq`.
 *
 * Implementations: in memory (one instance) and Redis (any number). Every
 * method rejects with `UnavailableError` when the backing store cannot be
 * reached, having written nothing.
 */
export interface MessageStore {
  /** Stores a message with the room's next `seq`, or answers the original of a repeated send. */
  append(input: AppendInput): Promise<AppendResult>;
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
