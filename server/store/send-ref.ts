/**
 * What an idempotency key remembers of the message its send stored: a
 * reference, not a copy. A copy would go stale at the first edit or reaction
 * and would outlive the message's trimming by a day; the reference finds the
 * message's current state while it is kept, and is enough to answer the send
 * again once it is not.
 */
import type { Message } from '../../protocol';
import type { AppendInput } from './types';

export interface SendRef {
  seq: number;
  /** The rev the message took when it was stored. */
  rev: number;
  ts: number;
  id: string;
}

/** `seq:rev:ts:id` (ids have no colon), as Redis keeps it. */
export function encodeSendRef(ref: SendRef): string {
  return `${ref.seq}:${ref.rev}:${ref.ts}:${ref.id}`;
}

export function decodeSendRef(text: string): SendRef {
  const [seq, rev, ts, id] = text.split(':');
  return { seq: Number(seq), rev: Number(rev), ts: Number(ts), id };
}

/**
 * A repeated send's answer once its message has left the history: the
 * message as it was stored, from the reference and the send made again (a
 * repeat is the same send: the same room, user, clientId and text).
 */
export function storedMessage(input: AppendInput, ref: SendRef): Message {
  const { room, clientId, user, text } = input;
  return { seq: ref.seq, rev: ref.rev, id: ref.id, room, clientId, user: { id: user.id, name: user.name }, text, ts: ref.ts, reactions: {} };
}
