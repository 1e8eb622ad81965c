/**
 * What the fuzz suites send: payloads of every shape a hostile client could
 * write (wrong types, deep nesting, strings at and past each limit, lone
 * surrogates, `__proto__` and `constructor` keys), biased towards the
 * contract's fields and real rooms and message ids so that cases reach the
 * store and the broadcast, not only the first check.
 */
import fc from 'fast-check';
import { MAX_NAME_LENGTH, MAX_REACTION_LENGTH, MAX_TEXT_LENGTH } from '../../protocol';

/** Every client event of the contract. */
export const EVENTS = [
  'room:join',
  'room:leave',
  'message:send',
  'room:history',
  'typing',
  'rooms:list',
  'message:edit',
  'message:delete',
  'reaction:add',
  'reaction:remove',
  'room:changes',
] as const;

/** Valid room names the cases share (`constructor` and `prototype` are valid names, and traps for plain-object maps). */
export const ROOMS = ['fuzz-a', 'fuzz-b', 'constructor', 'prototype', 'x'.repeat(64)];

/** Stands for a real message id, taken from an earlier answer when the case is sent. */
export const ID_PLACEHOLDER = '$message-id';

const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '__defineGetter__'];
const FIELDS = ['room', 'text', 'clientId', 'since', 'before', 'limit', 'after', 'id', 'reaction', 'name', 'typing'];

const atLimits = fc
  .constantFrom(0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 1999, MAX_TEXT_LENGTH, MAX_TEXT_LENGTH + 1, 4000)
  .chain((n) => fc.constantFrom('x'.repeat(n), 'é'.repeat(n), '😀'.repeat(Math.ceil(n / 2)), ' '.repeat(n)));

const oddStrings = fc.constantFrom(
  '\uD800',
  'a\uDC00b',
  '\uDFFF\uD800',
  '\u0000',
  '\u0085',
  '\u200D',
  '👍🏽',
  '👨‍👩‍👧',
  '<script>alert(1)</script>',
  '%E0%A4%A',
  '../../etc/passwd',
  'fuzz-a\n',
  ' fuzz-a',
  'FUZZ-A',
  '__proto__',
  '{"$gt":""}',
  'null',
);

export const strings = fc.oneof(fc.string({ maxLength: 24 }), fc.string({ unit: 'binary', maxLength: 24 }), atLimits, oddStrings);

const numbers = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -1, 1, 0.5, -0, 2 ** 31, 2 ** 53, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, 1e308, -1e308),
);

const keys = fc.oneof(fc.constantFrom(...FIELDS, ...HOSTILE_KEYS), fc.string({ maxLength: 8 }));

/** Any JSON value, nested a few levels. */
export const value: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    strings,
    numbers,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(keys, tie('value'), { maxKeys: 5 }),
  ),
})).value;

/** An array nested `depth` levels, as JSON (deeper than any generator would go by chance). */
export const deep = fc.integer({ min: 50, max: 3000 }).map((depth) => ({ deep: depth }));

/** A value that looks like a field of the contract, or anything at all. */
function field(name: string): fc.Arbitrary<unknown> {
  const plausible: Record<string, fc.Arbitrary<unknown>> = {
    room: fc.constantFrom(...ROOMS),
    text: fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), atLimits),
    clientId: fc.oneof(fc.uuid(), fc.string({ maxLength: 80 })),
    id: fc.oneof(fc.constant(ID_PLACEHOLDER), fc.uuid(), fc.string({ maxLength: 70 })),
    reaction: fc.oneof(fc.constantFrom('👍', '+1', '❤️', 'a b', 'x'.repeat(MAX_REACTION_LENGTH + 1), '👍🏽'), fc.string({ maxLength: 18 })),
    name: fc.oneof(fc.string({ maxLength: MAX_NAME_LENGTH + 2 }), oddStrings),
    typing: fc.boolean(),
  };
  const count = fc.oneof(fc.integer({ min: -2, max: 600 }), numbers);
  return fc.oneof({ weight: 4, arbitrary: plausible[name] ?? count }, { weight: 1, arbitrary: value });
}

/** An object with some of the contract's fields, plausible or not, and sometimes hostile keys beside them. */
export const shaped: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(
    fc.record(Object.fromEntries(FIELDS.map((f) => [f, field(f)])), { requiredKeys: [] }),
    fc.dictionary(fc.constantFrom(...HOSTILE_KEYS), value, { maxKeys: 2 }),
  )
  .map(([fields, hostile]) => Object.assign(hostile, fields));

/** One EVENT a client might send: its name, its arguments, whether it asks for an ack, and which argument goes as a binary attachment. */
export interface EventCase {
  event: string;
  args: unknown[];
  ack: boolean;
  binary: number | null;
}

export const eventCase: fc.Arbitrary<EventCase> = fc.record({
  event: fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...EVENTS) }, { weight: 1, arbitrary: fc.oneof(fc.constantFrom('unknown:event', 'ROOM:JOIN', 'session', 'message'), fc.string({ maxLength: 12 })) }),
  args: fc.oneof(
    { weight: 6, arbitrary: fc.tuple(shaped) },
    { weight: 2, arbitrary: fc.tuple(value) },
    { weight: 1, arbitrary: deep.map((d) => [d]) },
    { weight: 1, arbitrary: fc.array(value, { maxLength: 3 }) },
    { weight: 1, arbitrary: fc.tuple(shaped, value) },
  ),
  ack: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  binary: fc.oneof({ weight: 8, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat(2) }),
});

/** A frame that breaks the protocol itself: the connection may be closed for it, the instance must not suffer. */
export const brokenFrame: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom(
    '41',
    '41/other,',
    '40/other,{}',
    '42["connect"]',
    '42["disconnect","x"]',
    '42["disconnecting"]',
    '42["error",{}]',
    '42["newListener","message:send"]',
    '421["connect_error",1]',
    '42[]',
    '42[1,2]',
    '42{"__proto__":1}',
    '43999[{"ok":true}]',
    '45-1["room:join",{"_placeholder":true,"num":0}]',
    '451-["room:join",{"_placeholder":true,"num":7}]',
    '4299999999999999999999["rooms:list",{}]',
    '42-1["rooms:list",{}]',
    '6',
    '5',
    '1',
    '2probe',
    '4',
    '42["message:send",',
  ),
  fc.string({ maxLength: 30 }).map((s) => `42${s}`),
  fc.string({ maxLength: 30 }).map((s) => `4${s}`),
);

/** Expands `{ deep: n }` to an array nested n levels and `ID_PLACEHOLDER` to a real id, as JSON text. */
export function encodeArgs(args: unknown[], ids: readonly string[], index: number): string {
  const json = JSON.stringify(args, (_key, v: unknown) => (v === ID_PLACEHOLDER && ids.length ? ids[index % ids.length] : v));
  return json.replace(/\{"deep":(\d+)\}/g, (_m, n: string) => '['.repeat(Number(n)) + ']'.repeat(Number(n)));
}
