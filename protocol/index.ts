/**
 * The Parley wire contract (v1, with v1.1's changes to messages), typed once.
 *
 * The server, the client SDK, the browser app and the load tester all import
 * this module, so that a misspelt event or a payload of the wrong shape is a
 * compile error on both sides of the wire. It holds types and constants only:
 * no runtime dependency, so it bundles into the browser for free.
 */

/** A user as the handshake identified it. */
export interface User {
  id: string;
  name: string;
}

/**
 * A reaction to the user ids who gave it, in the order they gave it. A
 * message with none has `{}`.
 */
export type Reactions = Record<string, string[]>;

/** A stored chat message, in its current state. */
export interface Message {
  /** Unique across the service. */
  id: string;
  room: string;
  /** 1, 2, 3, ... per room: no gaps, no repeats, assigned by the store. Counts new messages only. */
  seq: number;
  /**
   * v1.1: the room's `rev` of this message's latest change (a new message:
   * the rev it took). Every change in a room (a new message, an edit, a
   * deletion, a reaction added or removed) takes the room's next rev.
   */
  rev: number;
  /** The sender's idempotency key. */
  clientId: string;
  /** From the handshake identity, never from the payload. */
  user: User;
  /** `""` once deleted. */
  text: string;
  /** Server time, ms since the epoch. */
  ts: number;
  /** v1.1: each reaction to the ids of the users who gave it; `{}` once deleted. */
  reactions: Reactions;
  /** v1.1: server time of the latest edit, when edited. */
  editedTs?: number;
  /** v1.1: set when the author deleted the message (a tombstone that keeps its id, seq, user and ts). */
  deleted?: true;
}

/** Every error code of the contract. */
export const ERROR_CODES = [
  'invalid_payload',
  'invalid_room',
  'not_joined',
  'forbidden',
  'rate_limited',
  'too_large',
  'unavailable',
  'internal',
  'unauthorized',
  /** v1.1: the `id` is no message kept in that room. */
  'not_found',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  /** Set with `rate_limited` and `unavailable`: when a retry may succeed. */
  retryAfterMs?: number;
}

export type Ok<T> = { ok: true } & T;
export interface Err {
  ok: false;
  error: ErrorBody;
}
export type Answer<T> = Ok<T> | Err;
export type Ack<T> = (answer: Answer<T>) => void;

/** Messages answered by `room:join` without `since`. */
export const JOIN_HISTORY_LIMIT = 50;
/** Messages answered by `room:join` with `since`, at the most. */
export const JOIN_SINCE_LIMIT = 500;
/** `room:history` limit: default and range. */
export const HISTORY_DEFAULT_LIMIT = 50;
export const HISTORY_MAX_LIMIT = 100;
/** Longest message text, in characters (UTF-16 code units, as `String.length`). */
export const MAX_TEXT_LENGTH = 2000;
/** Display names: 1–32 code points after trimming. */
export const MAX_NAME_LENGTH = 32;
/** A resend with the same `(user.id, room, clientId)` within this window answers the original. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

export const ROOM_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** A message `id` in a request: the ids the server assigns (uuids) fit. */
export const MESSAGE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Longest reaction, in UTF-16 code units (`String.length`). */
export const MAX_REACTION_LENGTH = 16;
/** Distinct reactions a message may carry; adding one more answers `too_large`. */
export const MAX_REACTIONS_PER_MESSAGE = 20;
/**
 * Reactions given to one message, all reactions together (an extension: the
 * contract sets none). Every change broadcasts the whole message, so without
 * a bound each new giver would cost every member more.
 */
export const MAX_REACTIONS_GIVEN_PER_MESSAGE = 1000;
/** `room:changes` limit: default and range. */
export const CHANGES_DEFAULT_LIMIT = 100;
export const CHANGES_MAX_LIMIT = 500;

export interface RoomSummary {
  room: string;
  /** Users present now, on every instance. */
  members: number;
  /** The room's latest sequence number (0 with no messages). */
  seq: number;
}

// ---- client to server payloads and answers ----

export interface JoinPayload {
  room: string;
  since?: number;
}
export interface JoinAnswer {
  room: string;
  seq: number;
  /** v1.1: the room's latest `rev` (0 for a room with no changes). */
  rev: number;
  messages: Message[];
  members: User[];
  hasMore: boolean;
  /**
   * Extension: the room's presence version that `members` reflects. Presence
   * events with a higher `version` happened after this snapshot.
   */
  presenceVersion: number;
}
export interface LeavePayload {
  room: string;
}
export interface SendPayload {
  room: string;
  text: string;
  clientId: string;
}
export interface SendAnswer {
  message: Message;
}
export interface HistoryPayload {
  room: string;
  before?: number;
  after?: number;
  limit?: number;
}
export interface HistoryAnswer {
  messages: Message[];
  hasMore: boolean;
}
export interface TypingPayload {
  room: string;
  typing: boolean;
}
/**
 * Extension: `rooms:list` and `GET /api/rooms` answer one page of rooms, in
 * name order: `limit` of them (default `ROOMS_LIST_DEFAULT_LIMIT`), from the
 * first name after `after`.
 */
export interface RoomsListPayload {
  limit?: number;
  after?: string;
}
export interface RoomsListAnswer {
  rooms: RoomSummary[];
  /** Extension: set when more rooms follow; ask again with it as `after`. */
  next?: string;
}
/** v1.1: the author's edit of a message's text (the text rules of `message:send`). */
export interface EditPayload {
  room: string;
  id: string;
  text: string;
}
/** v1.1: the author's deletion of a message. */
export interface DeletePayload {
  room: string;
  id: string;
}
/** v1.1: `reaction:add` and `reaction:remove`. */
export interface ReactionPayload {
  room: string;
  id: string;
  reaction: string;
}
/** v1.1: the answer of an edit, a deletion or a reaction: the message's whole current state. */
export interface ChangeAnswer {
  message: Message;
}
/** v1.1: every change after `after`. */
export interface ChangesPayload {
  room: string;
  after: number;
  limit?: number;
}
export interface ChangesAnswer {
  /** The current state of each kept message whose latest change has `rev > after`, ascending by `rev`. */
  messages: Message[];
  /** The room's latest rev, read with `messages`: when `hasMore` is false, every change up to it is in them. */
  rev: number;
  /** More changes follow the last of `messages`. */
  hasMore: boolean;
}
/** Rooms in one page of `rooms:list`: default and range. */
export const ROOMS_LIST_DEFAULT_LIMIT = 100;
export const ROOMS_LIST_MAX_LIMIT = 500;
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface Empty {}

export interface ClientToServerEvents {
  'room:join': (payload: JoinPayload, ack?: Ack<JoinAnswer>) => void;
  'room:leave': (payload: LeavePayload, ack?: Ack<Empty>) => void;
  'message:send': (payload: SendPayload, ack?: Ack<SendAnswer>) => void;
  'room:history': (payload: HistoryPayload, ack?: Ack<HistoryAnswer>) => void;
  typing: (payload: TypingPayload, ack?: Ack<Empty>) => void;
  'rooms:list': (payload: RoomsListPayload, ack?: Ack<RoomsListAnswer>) => void;
  'message:edit': (payload: EditPayload, ack?: Ack<ChangeAnswer>) => void;
  'message:delete': (payload: DeletePayload, ack?: Ack<ChangeAnswer>) => void;
  'reaction:add': (payload: ReactionPayload, ack?: Ack<ChangeAnswer>) => void;
  'reaction:remove': (payload: ReactionPayload, ack?: Ack<ChangeAnswer>) => void;
  'room:changes': (payload: ChangesPayload, ack?: Ack<ChangesAnswer>) => void;
}

// ---- server to client ----

export interface SessionEvent {
  user: User;
  instanceId: string;
}
export interface PresenceEvent {
  room: string;
  event: 'join' | 'leave';
  user: User;
  /** The count of users now present. */
  members: number;
  /**
   * Extension: the room's presence version after this change. Every change
   * of a room's members takes the next version, so events can be put in the
   * order they happened, and a missing version tells that one was lost.
   */
  version: number;
}
export interface TypingEvent {
  room: string;
  user: User;
  typing: boolean;
}

/** v1.1: a message changed (edited, deleted, reacted to): its whole current state. */
export interface MessageUpdateEvent {
  message: Message;
}

/**
 * Extension: the server ends the session, and says why just before it
 * disconnects the socket (`io server disconnect`, after which
 * socket.io-client does not reconnect by itself). `unauthorized`: the
 * token expired; connect again with a fresh one (the same token is refused).
 */
export type SessionEndedEvent = ErrorBody;

export interface ServerToClientEvents {
  session: (payload: SessionEvent) => void;
  'session:ended': (payload: SessionEndedEvent) => void;
  message: (payload: Message) => void;
  'message:update': (payload: MessageUpdateEvent) => void;
  presence: (payload: PresenceEvent) => void;
  typing: (payload: TypingEvent) => void;
}

/** Handshake `auth`: a display name in open mode, a JWT in token mode. */
export type HandshakeAuth = { name: string } | { token: string };

/** The `connect_error` messages of a refused handshake. */
export const HANDSHAKE_ERRORS = ['unauthorized', 'forbidden_origin'] as const;
export type HandshakeError = (typeof HANDSHAKE_ERRORS)[number];

// ---- HTTP ----

export interface HttpErrorBody {
  error: { code: ErrorCode; message: string; retryAfterMs?: number };
}
export interface PostMessageBody {
  text: string;
  clientId: string;
  /** Open mode only: the sender's display name. */
  name?: string;
}
/** v1.1: `PATCH /api/rooms/:room/messages/:id`. */
export interface PatchMessageBody {
  text: string;
  /** Open mode only: the author's display name. */
  name?: string;
}
/**
 * v1.1: `DELETE /api/rooms/:room/messages/:id`, and `PUT`/`DELETE` of
 * `/api/rooms/:room/messages/:id/reactions/:reaction`: a body only in open
 * mode, to name the caller.
 */
export interface IdentifyBody {
  name?: string;
}

/** The codes after which resending the same payload can never succeed. */
export const PERMANENT_ERRORS: readonly ErrorCode[] = [
  'invalid_payload',
  'invalid_room',
  'forbidden',
  'too_large',
  'unauthorized',
  'not_found',
];
