/**
 * The Parley wire contract (v1), typed once.
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

/** A stored chat message. */
export interface Message {
  /** Unique across the service. */
  id: string;
  room: string;
  /** 1, 2, 3, ... per room: no gaps, no repeats, assigned by the store. */
  seq: number;
  /** The sender's idempotency key. */
  clientId: string;
  /** From the handshake identity, never from the payload. */
  user: User;
  text: string;
  /** Server time, ms since the epoch. */
  ts: number;
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
export interface RoomsListAnswer {
  rooms: RoomSummary[];
}
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface Empty {}

export interface ClientToServerEvents {
  'room:join': (payload: JoinPayload, ack?: Ack<JoinAnswer>) => void;
  'room:leave': (payload: LeavePayload, ack?: Ack<Empty>) => void;
  'message:send': (payload: SendPayload, ack?: Ack<SendAnswer>) => void;
  'room:history': (payload: HistoryPayload, ack?: Ack<HistoryAnswer>) => void;
  typing: (payload: TypingPayload, ack?: Ack<Empty>) => void;
  'rooms:list': (payload: Empty, ack?: Ack<RoomsListAnswer>) => void;
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

export interface ServerToClientEvents {
  session: (payload: SessionEvent) => void;
  message: (payload: Message) => void;
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

/** The codes after which resending the same payload can never succeed. */
export const PERMANENT_ERRORS: readonly ErrorCode[] = [
  'invalid_payload',
  'invalid_room',
  'forbidden',
  'too_large',
  'unauthorized',
];
