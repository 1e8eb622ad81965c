/**
 * Every payload from the network parsed here, at the edge, into the
 * protocol's types (zod); failures become the contract's error codes with a
 * message that names the field.
 */
import { z } from 'zod';
import {
  CHANGES_MAX_LIMIT,
  CLIENT_ID_PATTERN,
  HISTORY_MAX_LIMIT,
  ROOMS_LIST_MAX_LIMIT,
  MAX_NAME_LENGTH,
  MAX_REACTION_LENGTH,
  MAX_TEXT_LENGTH,
  MESSAGE_ID_PATTERN,
  ROOM_PATTERN,
  type ChangesPayload,
  type DeletePayload,
  type EditPayload,
  type HistoryPayload,
  type JoinPayload,
  type LeavePayload,
  type ReactionPayload,
  type RoomsListPayload,
  type SendPayload,
  type TypingPayload,
} from '../protocol';
import { AppError } from './errors';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** Unicode White_Space, which `\s` covers but for U+0085 (a C1 control, refused as one too). */
const WHITE_SPACE = /[\s\u0085]/;
/**
 * A surrogate that is not half of a pair: such a string is not well-formed
 * Unicode, has no UTF-8 form, and would not come back from the store (or
 * from Redis's Lua) as it went in. With the `u` flag a pair is one code
 * point, which this class does not match.
 */
const LONE_SURROGATE = /[\ud800-\udfff]/u;
/** Whether a string is well-formed Unicode: no surrogate without its other half. */
export const wellFormed = (s: string): boolean => !LONE_SURROGATE.test(s);
const seqNumber = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * Checks whose failure is not `invalid_payload` carry their contract code in
 * the issue's params, so that `parse` tells them apart by the code, not by the
 * text of the message.
 */
type Code = 'invalid_room' | 'too_large';
const withCode = (code: Code, message: string) => ({ message, params: { code } });

const room = z.string().refine((r) => r.length <= 64 && ROOM_PATTERN.test(r), withCode('invalid_room', `must match ${ROOM_PATTERN.source}`));
const clientId = z.string().regex(CLIENT_ID_PATTERN, 'must be 1-64 characters of [A-Za-z0-9_-]');
// A well-formed id that is no message of the room is the store's `not_found`.
const messageId = z.string().regex(MESSAGE_ID_PATTERN, 'must be 1-64 characters of [A-Za-z0-9_-]');
// Text length is counted as the protocol module defines it (`String.length`,
// UTF-16 code units), so that a client checking `text.length` before sending
// agrees with the server on every text.
const text = z
  .string()
  .refine((t) => t.length <= MAX_TEXT_LENGTH, withCode('too_large', `must be at most ${MAX_TEXT_LENGTH} characters`))
  .refine((t) => !t.includes('\u0000'), 'must not contain NUL')
  .refine(wellFormed, 'must be well-formed Unicode (no lone surrogate)')
  .refine((t) => t.trim().length > 0, 'must have a non-blank character');
// Reaction text is text, like messages: any short string with no blank and no
// control character (emoji with their joiners and variation selectors fit).
const reaction = z
  .string()
  .min(1, 'must not be empty')
  .max(MAX_REACTION_LENGTH, `must be at most ${MAX_REACTION_LENGTH} characters`)
  .refine((r) => !WHITE_SPACE.test(r), 'must not contain whitespace')
  .refine((r) => !CONTROL.test(r), 'must not contain control characters')
  .refine(wellFormed, 'must be well-formed Unicode (no lone surrogate)');

const schemas = {
  join: z.object({ room, since: seqNumber.optional() }),
  leave: z.object({ room }),
  send: z.object({ room, text, clientId }),
  history: z
    .object({
      room,
      before: seqNumber.optional(),
      after: seqNumber.optional(),
      limit: z.number().int().min(1).max(HISTORY_MAX_LIMIT).optional(),
    })
    .refine((p) => p.before === undefined || p.after === undefined, 'before and after cannot be given together'),
  typing: z.object({ room, typing: z.boolean() }),
  roomsList: z.union([z.object({ limit: z.number().int().min(1).max(ROOMS_LIST_MAX_LIMIT).optional(), after: room.optional() }), z.undefined()]),
  postBody: z.object({ text, clientId, name: z.unknown().optional() }),
  edit: z.object({ room, id: messageId, text }),
  delete: z.object({ room, id: messageId }),
  reaction: z.object({ room, id: messageId, reaction }),
  changes: z.object({ room, after: seqNumber, limit: z.number().int().min(1).max(CHANGES_MAX_LIMIT).optional() }),
};

function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A high surrogate followed by a low one is a single code point.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

function parse<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, input: unknown): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue.path.join('.');
  const where = field ? `${field}: ` : '';
  const code = issue.code === 'custom' ? (issue.params?.code as Code | undefined) : undefined;
  if (code) throw new AppError(code, `${where}${issue.message}`);
  const message = issue.code === 'invalid_type' ? `${where}expected ${issue.expected}, got ${issue.received}` : `${where}${issue.message}`;
  throw new AppError('invalid_payload', message);
}

export const parseJoin = (p: unknown): JoinPayload => parse(schemas.join, p);
export const parseLeave = (p: unknown): LeavePayload => parse(schemas.leave, p);
export const parseSend = (p: unknown): SendPayload => parse(schemas.send, p);
export const parseHistory = (p: unknown): HistoryPayload => parse(schemas.history, p);
export const parseTyping = (p: unknown): TypingPayload => parse(schemas.typing, p);
export const parseRoomsList = (p: unknown): RoomsListPayload => parse(schemas.roomsList, p) ?? {};
export const parsePostBody = (p: unknown): { text: string; clientId: string; name?: unknown } => parse(schemas.postBody, p);
export const parseRoom = (r: unknown): string => parse(z.object({ room }), { room: r }).room;
export const parseEdit = (p: unknown): EditPayload => parse(schemas.edit, p);
export const parseDelete = (p: unknown): DeletePayload => parse(schemas.delete, p);
export const parseReaction = (p: unknown): ReactionPayload => parse(schemas.reaction, p);
export const parseChanges = (p: unknown): ChangesPayload => parse(schemas.changes, p);


/**
 * A display name: 1–32 code points after trimming, no control characters.
 * @returns the trimmed name, or undefined when it is not acceptable.
 */
export function parseName(name: unknown): string | undefined {
  // No bound before trimming: the contract counts after it, and the transport
  // already caps the size of what reaches here (maxHttpBufferSize, body limit).
  if (typeof name !== 'string') return undefined;
  const trimmed = name.trim();
  const n = codePoints(trimmed);
  if (n < 1 || n > MAX_NAME_LENGTH || CONTROL.test(trimmed) || !wellFormed(trimmed)) return undefined;
  return trimmed;
}

/**
 * A whole number from a query string (`?before=10`): digits only, so that
 * `1e3`, `-1`, `1.5` and `` are refused rather than coerced.
 */
export function queryNumber(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d{1,16}$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new AppError('invalid_payload', `${field}: expected a whole number`);
  }
  return Number(value);
}
