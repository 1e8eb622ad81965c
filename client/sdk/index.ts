/**
 * The Parley client SDK: a typed connection to a Parley service that hands
 * the application every message of its rooms, and every change to them
 * (edits, deletions, reactions), once, in order, across reconnects, and
 * resends unanswered messages and changes safely.
 *
 * Runs in browsers (ESM bundle, dist/sdk/parley.mjs) and in Node (CommonJS,
 * dist/client/sdk). The public surface is this list.
 */
export { ParleyClient, connect } from './client';
export type { ConnectionStatus, JoinInfo, OlderPage, ParleyClientEvents, ParleyClientOptions, SkippedEvent } from './types';
export { ParleyError, isPermanent } from './errors';
export type { ParleyErrorCode } from './errors';
export type { OutboxEntry, OutboxKind, Sending, SendStatus } from './outbox';
export type { BackoffOptions } from '../../common/backoff';
export { randomId } from './ids';
export type {
  ErrorCode,
  HandshakeAuth,
  Message,
  PresenceEvent,
  Reactions,
  RoomSummary,
  SessionEvent,
  TypingEvent,
  User,
} from '../../protocol';
