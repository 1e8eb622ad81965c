import type { ErrorCode } from '../../protocol';
import { call, collect, ok, waitFor } from '../helpers/events';
import { client, connect, startServer, type ClientSocket } from '../helpers/server';

/**
 * What no honest client sends, event by event. Every row answers its error
 * code (naming the field, where there is one), and the same socket is served
 * normally afterwards. A socket that joined `lobby` sends each row, so that
 * only the bad field stands between the payload and an `ok`.
 */

/** An object with an own `__proto__` key, as JSON.parse makes it (an object literal would set the prototype instead). */
const withProto = (json: string): unknown => JSON.parse(json);

type Row = [event: string, what: string, payload: unknown, code: ErrorCode, field: string];

const payloadShapes = (event: string): Row[] => [
  [event, 'null', null, 'invalid_payload', ''],
  [event, 'an array', [{ room: 'lobby' }], 'invalid_payload', ''],
  [event, 'a number', 42, 'invalid_payload', ''],
  [event, 'a string', 'lobby', 'invalid_payload', ''],
  [event, 'a boolean', true, 'invalid_payload', ''],
];

const roomField = (event: string, rest: Record<string, unknown>): Row[] => [
  [event, 'no room', { ...rest }, 'invalid_payload', 'room'],
  [event, 'room null', { room: null, ...rest }, 'invalid_payload', 'room'],
  [event, 'room a number', { room: 7, ...rest }, 'invalid_payload', 'room'],
  [event, 'room an array', { room: ['lobby'], ...rest }, 'invalid_payload', 'room'],
  [event, 'room an object', { room: { name: 'lobby' }, ...rest }, 'invalid_payload', 'room'],
  [event, 'room empty', { room: '', ...rest }, 'invalid_room', 'room'],
  [event, 'room in capitals', { room: 'LOBBY', ...rest }, 'invalid_room', 'room'],
  [event, 'room of 65 characters', { room: 'a'.repeat(65), ...rest }, 'invalid_room', 'room'],
  [event, 'room of 60 000 characters', { room: 'a'.repeat(60_000), ...rest }, 'invalid_room', 'room'],
  [event, 'room with a NUL', { room: 'lob\u0000by', ...rest }, 'invalid_room', 'room'],
  [event, 'room inside __proto__', withProto(`{"__proto__":{"room":"lobby"},"x":${JSON.stringify(rest)}}`), 'invalid_payload', 'room'],
];

/** Every way a whole number from 0 can be wrong. */
const seqField = (event: string, field: string): Row[] =>
  (
    [
      ['null (null is not absent)', null],
      ['negative', -1],
      ['fractional', 1.5],
      ['past the safe integers', 2 ** 53 + 2],
      ['huge', 1e300],
      ['a numeric string', '5'],
      ['"NaN"', 'NaN'],
      ['a boolean', true],
      ['an array', [5]],
      ['an object', { valueOf: 5 }],
    ] as Array<[string, unknown]>
  ).map(([what, value]): Row => [event, `${field} ${what}`, { room: 'lobby', [field]: value }, 'invalid_payload', field]);

const SEND = { text: 'hi', clientId: 'c1' };

/** The change events, each with the fields it needs besides `room`. */
const CHANGES: Array<[string, Record<string, unknown>]> = [
  ['message:edit', { id: 'm1', text: 'hi' }],
  ['message:delete', { id: 'm1' }],
  ['reaction:add', { id: 'm1', reaction: 'x' }],
  ['reaction:remove', { id: 'm1', reaction: 'x' }],
];

/** Every way a message id can be wrong (a well-formed one that is no message is `not_found`, not this). */
const idField = (event: string, rest: Record<string, unknown>): Row[] =>
  (
    [
      ['no id', undefined],
      ['id null', null],
      ['id a number', 1],
      ['id empty', ''],
      ['id of 65 characters', 'a'.repeat(65)],
      ['id with a space', 'a b'],
      ['id with a colon', 'a:b'],
      ['id with a non-ASCII letter', 'ä'],
    ] as Array<[string, unknown]>
  ).map(([what, id]): Row => [event, what, { room: 'lobby', ...rest, id }, 'invalid_payload', 'id']);

const rows: Row[] = [
  // room:join { room, since? }
  ...payloadShapes('room:join'),
  ...roomField('room:join', {}),
  ...seqField('room:join', 'since'),
  // room:leave { room }
  ...payloadShapes('room:leave'),
  ...roomField('room:leave', {}),
  // message:send { room, text, clientId }
  ...payloadShapes('message:send'),
  ...roomField('message:send', SEND),
  ['message:send', 'no text', { room: 'lobby', clientId: 'c1' }, 'invalid_payload', 'text'],
  ['message:send', 'text null', { room: 'lobby', text: null, clientId: 'c1' }, 'invalid_payload', 'text'],
  ['message:send', 'text a number', { room: 'lobby', text: 5, clientId: 'c1' }, 'invalid_payload', 'text'],
  ['message:send', 'text an array', { room: 'lobby', text: ['hi'], clientId: 'c1' }, 'invalid_payload', 'text'],
  ['message:send', 'text an object', { room: 'lobby', text: { toString: 'hi' }, clientId: 'c1' }, 'invalid_payload', 'text'],
  ['message:send', 'text blank', { room: 'lobby', text: ' \n ', clientId: 'c1' }, 'invalid_payload', 'text'],
  ['message:send', 'text with NUL', { room: 'lobby', text: 'hi\u0000', clientId: 'c1' }, 'invalid_payload', 'text'],
  ['message:send', 'text of 2001 characters', { room: 'lobby', text: 'x'.repeat(2001), clientId: 'c1' }, 'too_large', 'text'],
  ['message:send', 'text of 60 000 characters', { room: 'lobby', text: 'x'.repeat(60_000), clientId: 'c1' }, 'too_large', 'text'],
  ['message:send', 'no clientId', { room: 'lobby', text: 'hi' }, 'invalid_payload', 'clientId'],
  ['message:send', 'clientId null', { room: 'lobby', text: 'hi', clientId: null }, 'invalid_payload', 'clientId'],
  ['message:send', 'clientId a number', { room: 'lobby', text: 'hi', clientId: 12 }, 'invalid_payload', 'clientId'],
  ['message:send', 'clientId empty', { room: 'lobby', text: 'hi', clientId: '' }, 'invalid_payload', 'clientId'],
  ['message:send', 'clientId of 65 characters', { room: 'lobby', text: 'hi', clientId: 'c'.repeat(65) }, 'invalid_payload', 'clientId'],
  ['message:send', 'clientId with a slash', { room: 'lobby', text: 'hi', clientId: 'a/b' }, 'invalid_payload', 'clientId'],
  ['message:send', 'text inside __proto__', withProto('{"room":"lobby","clientId":"c1","__proto__":{"text":"hi"}}'), 'invalid_payload', 'text'],
  // room:history { room, before? | after?, limit? }
  ...payloadShapes('room:history'),
  ...roomField('room:history', {}),
  ...seqField('room:history', 'before'),
  ...seqField('room:history', 'after'),
  ['room:history', 'before and after', { room: 'lobby', before: 5, after: 1 }, 'invalid_payload', ''],
  ['room:history', 'before and after both 0', { room: 'lobby', before: 0, after: 0 }, 'invalid_payload', ''],
  ['room:history', 'limit 0', { room: 'lobby', limit: 0 }, 'invalid_payload', 'limit'],
  ['room:history', 'limit 101', { room: 'lobby', limit: 101 }, 'invalid_payload', 'limit'],
  ['room:history', 'limit -5', { room: 'lobby', limit: -5 }, 'invalid_payload', 'limit'],
  ['room:history', 'limit 2.5', { room: 'lobby', limit: 2.5 }, 'invalid_payload', 'limit'],
  ['room:history', 'limit null', { room: 'lobby', limit: null }, 'invalid_payload', 'limit'],
  ['room:history', 'limit "10"', { room: 'lobby', limit: '10' }, 'invalid_payload', 'limit'],
  ['room:history', 'limit huge', { room: 'lobby', limit: 1e300 }, 'invalid_payload', 'limit'],
  // typing { room, typing }
  ...payloadShapes('typing'),
  ...roomField('typing', { typing: true }),
  ['typing', 'no typing', { room: 'lobby' }, 'invalid_payload', 'typing'],
  ['typing', 'typing null', { room: 'lobby', typing: null }, 'invalid_payload', 'typing'],
  ['typing', 'typing "true"', { room: 'lobby', typing: 'true' }, 'invalid_payload', 'typing'],
  ['typing', 'typing 1', { room: 'lobby', typing: 1 }, 'invalid_payload', 'typing'],
  // rooms:list {}
  ...payloadShapes('rooms:list'),
  // message:edit { room, id, text }, message:delete { room, id }, reaction:add and reaction:remove { room, id, reaction }
  ...CHANGES.flatMap(([event, rest]) => [...payloadShapes(event), ...roomField(event, rest), ...idField(event, rest)]),
  ['message:edit', 'no text', { room: 'lobby', id: 'm1' }, 'invalid_payload', 'text'],
  ['message:edit', 'text a number', { room: 'lobby', id: 'm1', text: 5 }, 'invalid_payload', 'text'],
  ['message:edit', 'text blank', { room: 'lobby', id: 'm1', text: ' \t ' }, 'invalid_payload', 'text'],
  ['message:edit', 'text with NUL', { room: 'lobby', id: 'm1', text: 'a\u0000' }, 'invalid_payload', 'text'],
  ['message:edit', 'text with a lone surrogate', { room: 'lobby', id: 'm1', text: 'a\ud800b' }, 'invalid_payload', 'text'],
  ['message:edit', 'text of 2001 characters', { room: 'lobby', id: 'm1', text: 'x'.repeat(2001) }, 'too_large', 'text'],
  ['message:send', 'text with a lone surrogate', { room: 'lobby', text: '\udfff', clientId: 'c1' }, 'invalid_payload', 'text'],
  ...(['reaction:add', 'reaction:remove'] as const).flatMap((event): Row[] => [
    [event, 'no reaction', { room: 'lobby', id: 'm1' }, 'invalid_payload', 'reaction'],
    [event, 'reaction null', { room: 'lobby', id: 'm1', reaction: null }, 'invalid_payload', 'reaction'],
    [event, 'reaction a number', { room: 'lobby', id: 'm1', reaction: 1 }, 'invalid_payload', 'reaction'],
    [event, 'reaction an array', { room: 'lobby', id: 'm1', reaction: ['x'] }, 'invalid_payload', 'reaction'],
    [event, 'reaction empty', { room: 'lobby', id: 'm1', reaction: '' }, 'invalid_payload', 'reaction'],
    [event, 'reaction of 17 characters', { room: 'lobby', id: 'm1', reaction: 'x'.repeat(17) }, 'invalid_payload', 'reaction'],
    [event, 'reaction of 60 000 characters', { room: 'lobby', id: 'm1', reaction: 'x'.repeat(60_000) }, 'invalid_payload', 'reaction'],
    [event, 'reaction with a space', { room: 'lobby', id: 'm1', reaction: 'a b' }, 'invalid_payload', 'reaction'],
    [event, 'reaction with a line separator', { room: 'lobby', id: 'm1', reaction: '\u2028' }, 'invalid_payload', 'reaction'],
    [event, 'reaction with a control character', { room: 'lobby', id: 'm1', reaction: '\u009b' }, 'invalid_payload', 'reaction'],
    [event, 'reaction with a lone surrogate', { room: 'lobby', id: 'm1', reaction: '\ud83d!' }, 'invalid_payload', 'reaction'],
    [event, 'reaction inside __proto__', withProto('{"room":"lobby","id":"m1","__proto__":{"reaction":"x"}}'), 'invalid_payload', 'reaction'],
  ]),
  // room:changes { room, after, limit? }
  ...payloadShapes('room:changes'),
  ...roomField('room:changes', { after: 0 }),
  ...seqField('room:changes', 'after'),
  ['room:changes', 'no after', { room: 'lobby' }, 'invalid_payload', 'after'],
  ['room:changes', 'limit 0', { room: 'lobby', after: 0, limit: 0 }, 'invalid_payload', 'limit'],
  ['room:changes', 'limit 501', { room: 'lobby', after: 0, limit: 501 }, 'invalid_payload', 'limit'],
  ['room:changes', 'limit 2.5', { room: 'lobby', after: 0, limit: 2.5 }, 'invalid_payload', 'limit'],
  ['room:changes', 'limit "10"', { room: 'lobby', after: 0, limit: '10' }, 'invalid_payload', 'limit'],
];

async function joinedSocket(): Promise<ClientSocket> {
  const { url } = await startServer();
  const socket = await connect(url, 'alice');
  await ok(socket, 'room:join', { room: 'lobby' });
  return socket;
}

describe('malformed payloads', () => {
  it.each(rows)('%s with %s answers %s', async (event, _what, payload, code, field) => {
    const socket = await joinedSocket();
    const answer = await call(socket, event, payload);
    expect(answer).toEqual({ ok: false, error: { code, message: expect.any(String) } });
    if (!answer.ok && field) expect(answer.error.message).toContain(field);
    // Still served as before.
    await ok(socket, 'message:send', { room: 'lobby', text: 'still here', clientId: 'after' });
  });

  it.each(['room:join', 'room:leave', 'message:send', 'room:history', 'typing', 'message:edit', 'message:delete', 'reaction:add', 'reaction:remove', 'room:changes'])('%s with no payload, only an ack, answers invalid_payload', async (event) => {
    const socket = await joinedSocket();
    const answer = await new Promise((resolve) => (socket as any).emit(event, resolve));
    expect(answer).toEqual({ ok: false, error: { code: 'invalid_payload', message: expect.any(String) } });
  });

  it('takes the first argument as the payload and ignores extra arguments', async () => {
    const socket = await joinedSocket();
    const answer = await new Promise((resolve) => (socket as any).emit('room:history', { room: 'lobby' }, 'extra', 42, resolve));
    expect(answer).toEqual({ ok: true, messages: [], hasMore: false });
  });

  it('ignores fields the contract does not name', async () => {
    const socket = await joinedSocket();
    const answer = await call(socket, 'room:join', { room: 'lobby', bogus: true, since: undefined, members: ['x'] });
    expect(answer).toMatchObject({ ok: true, room: 'lobby' });
    expect(await call(socket, 'rooms:list', { anything: 1 })).toMatchObject({ ok: true });
  });

  it('pollutes no prototype with __proto__ or constructor keys', async () => {
    const socket = await joinedSocket();
    const payloads = [
      withProto('{"room":"lobby","__proto__":{"polluted":"yes","since":3}}'),
      withProto('{"room":"lobby","constructor":{"prototype":{"polluted":"yes"}}}'),
      withProto('{"__proto__":{"polluted":"yes"}}'),
    ];
    for (const event of ['room:join', 'room:history', 'message:send', 'typing', 'rooms:list', 'room:leave', 'message:edit', 'reaction:add', 'room:changes']) {
      for (const p of payloads) await call(socket, event, p);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    // The since hidden in __proto__ was not taken: the join answered from the start.
    await ok(socket, 'room:join', { room: 'other' });
    await ok(socket, 'message:send', { room: 'other', text: 'one', clientId: 'p1' });
    const rejoin = await ok(socket, 'room:join', withProto('{"room":"other","__proto__":{"since":5}}'));
    expect(rejoin.messages).toHaveLength(1);
  });
});

describe('events without an ack', () => {
  it('room:join, message:send, typing and room:leave are processed all the same', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    await ok(bob, 'room:join', { room: 'lobby' });
    const presence = waitFor(bob, 'presence', (p: { user: { id: string } }) => p.user.id === 'alice');
    alice.emit('room:join', { room: 'lobby' });
    await presence;
    const message = waitFor(bob, 'message');
    alice.emit('message:send', { room: 'lobby', text: 'no ack', clientId: 'n1' });
    expect(await message).toMatchObject({ text: 'no ack', user: { id: 'alice' } });
    const typing = waitFor(bob, 'typing');
    alice.emit('typing', { room: 'lobby', typing: true });
    expect(await typing).toMatchObject({ user: { id: 'alice' }, typing: true });
    const left = waitFor(bob, 'presence', (p: { event: string }) => p.event === 'leave');
    alice.emit('room:leave', { room: 'lobby' });
    expect(await left).toMatchObject({ user: { id: 'alice' }, members: 1 });
  });

  it('bad payloads and reads without an ack crash nothing', async () => {
    const socket = await joinedSocket();
    const raw = socket as any;
    for (const [event, payload] of rows.map((r) => [r[0], r[2]] as const)) raw.emit(event, payload);
    raw.emit('room:history', { room: 'lobby' });
    raw.emit('rooms:list', {});
    raw.emit('rooms:list');
    raw.emit('message:send');
    await ok(socket, 'message:send', { room: 'lobby', text: 'still here', clientId: 'after' });
  });
});

describe('unknown events', () => {
  it('are ignored, with or without an ack, and the socket is still served', async () => {
    const socket = await joinedSocket();
    const raw = socket as any;
    const acked = jest.fn();
    raw.emit('nope', { room: 'lobby' }, acked);
    raw.emit('room:delete', { room: 'lobby' });
    raw.emit('message', { room: 'lobby', text: 'spoof', clientId: 'x' });
    raw.emit('presence', { room: 'lobby', event: 'join', user: { id: 'x', name: 'x' }, members: 9 });
    raw.emit('session', { user: { id: 'admin', name: 'admin' } });
    raw.emit('__proto__', {});
    raw.emit('constructor', {});
    raw.emit('toString', {});
    raw.emit('hasOwnProperty', {});
    const history = await ok(socket, 'room:history', { room: 'lobby' });
    expect(history.messages).toEqual([]);
    expect(acked).not.toHaveBeenCalled();
    const list = await ok(socket, 'rooms:list', {});
    expect(list.rooms).toEqual([{ room: 'lobby', members: 1, seq: 0 }]);
  });
});

describe('oversized frames', () => {
  it('a 1 MB text closes only the sender\'s connection; the instance keeps serving others', async () => {
    const { url } = await startServer();
    const mallory = await connect(url, 'mallory');
    const alice = await connect(url, 'alice');
    await ok(mallory, 'room:join', { room: 'lobby' });
    await ok(alice, 'room:join', { room: 'lobby' });
    const seen = collect(alice, 'message');
    const gone = waitFor<string>(mallory, 'disconnect');
    const left = waitFor(alice, 'presence', (p: { event: string }) => p.event === 'leave');
    mallory.emit('message:send', { room: 'lobby', text: 'x'.repeat(1024 * 1024), clientId: 'big' });
    expect(await gone).toMatch(/transport (close|error)/);
    expect(await left).toMatchObject({ user: { id: 'mallory' } });
    await ok(alice, 'message:send', { room: 'lobby', text: 'still up', clientId: 'a1' });
    await seen.until(1);
    expect(seen.items.map((m) => m.text)).toEqual(['still up']);
    const fresh = await connect(url, 'carol');
    expect(await call(fresh, 'rooms:list', {})).toMatchObject({ ok: true });
  });

  it('a 1 MB handshake auth is refused without harm', async () => {
    const { url } = await startServer();
    const big = client(url, { name: 'x'.repeat(1024 * 1024) });
    const outcome = await new Promise<string>((resolve) => {
      big.once('connect', () => resolve('connected'));
      big.once('connect_error', (err) => resolve(`connect_error ${err.message}`));
      big.once('disconnect', (reason) => resolve(`disconnect ${reason}`));
      big.connect();
    });
    expect(outcome).not.toBe('connected');
    const alice = await connect(url, 'alice');
    await ok(alice, 'rooms:list', {});
  });
});
