import jwt from 'jsonwebtoken';
import type { ChangesAnswer, Message, MessageUpdateEvent } from '../../protocol';
import type { Backend } from '../../server/backend';
import { call, collect, ok } from '../helpers/events';
import { startRedis, type RedisServer } from '../../scripts/topology/redis';
import { admin, redisBackend, useRedisCluster } from '../helpers/redis';
import { range, seed } from '../helpers/seed';
import { client, connect, handshake, refusal, startServer, type ClientSocket } from '../helpers/server';

/** One redis-server for the file (starting one per test would be most of its time), emptied for each test. */
let redis: Promise<RedisServer> | undefined;
afterAll(async () => (await redis)?.destroy());
async function emptyRedis(): Promise<string> {
  redis ??= startRedis({ appendonly: false });
  const { url } = await redis;
  await (await admin(url)).flushAll();
  return url;
}

/** Three shards for the file, emptied for each test. */
const cluster = useRedisCluster();

/** Each rule holds on one instance over every store. */
const stores: Array<[string, (historyMax: number, limits: boolean) => Promise<Backend | undefined>]> = [
  ['memory', async () => undefined],
  ['redis', async (historyMax, limits) => redisBackend(await emptyRedis(), { historyMax, limits })],
  ['redis cluster', async (historyMax, limits) => redisBackend(await cluster.fresh(), { historyMax, limits })],
];

const SECRET = 'a-test-secret-of-enough-length';
const token = (sub: string, rooms?: string[]) => jwt.sign({ sub, name: sub, rooms }, SECRET, { algorithm: 'HS256', expiresIn: 600 });

/**
 * Resolves once every event the server emitted to `socket` before now has
 * arrived: it answers an ack after whatever it emitted to the socket earlier.
 */
const barrier = (socket: ClientSocket) => ok(socket, 'rooms:list', {});

type Change = { message: Message };
const change = (socket: ClientSocket, event: string, payload: object) => ok<Change>(socket, event, payload).then((a) => a.message);
const errorOf = async (socket: ClientSocket, event: string, payload: unknown) => {
  const answer = await call(socket, event, payload);
  if (answer.ok) throw new Error(`${event} answered ok`);
  return answer.error.code;
};

describe.each(stores)('changes to messages (%s)', (_name, makeBackend) => {
  async function lobby(options: { historyMax?: number; limits?: boolean; authSecret?: string } = {}) {
    const server = await startServer({ ...options, backend: await makeBackend(options.historyMax ?? 10_000, options.limits ?? false) });
    const alice = await connect(server.url, 'alice');
    const bob = await connect(server.url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'lobby' });
    return { ...server, alice, bob };
  }
  let sends = 0;
  const send = async (socket: ClientSocket, text: string, clientId = `c-${++sends}`) =>
    (await ok<{ message: Message }>(socket, 'message:send', { room: 'lobby', text, clientId })).message;

  describe('message:edit', () => {
    it('lets the author change the text: the next rev, editedTs, and message:update to every socket of the room', async () => {
      const { alice, bob } = await lobby();
      const sent = await send(alice, 'helo');
      const toAlice = collect<MessageUpdateEvent>(alice, 'message:update');
      const toBob = collect<MessageUpdateEvent>(bob, 'message:update');
      const before = Date.now();
      const edited = await change(alice, 'message:edit', { room: 'lobby', id: sent.id, text: 'hello' });
      expect(edited).toEqual({ ...sent, text: 'hello', rev: sent.rev + 1, editedTs: expect.any(Number) });
      expect(edited.editedTs).toBeGreaterThanOrEqual(before - 1000);
      expect(edited.editedTs).toBeLessThanOrEqual(Date.now() + 1000);
      expect(await toAlice.until(1)).toEqual([{ message: edited }]);
      expect(await toBob.until(1)).toEqual([{ message: edited }]);
      // History and a join show the current state.
      expect((await ok(bob, 'room:history', { room: 'lobby' })).messages).toEqual([edited]);
      expect(await ok(bob, 'room:join', { room: 'lobby' })).toMatchObject({ seq: 1, rev: 2, messages: [edited] });
    });

    it('answers forbidden to anyone but the author, and takes no rev for it', async () => {
      const { alice, bob } = await lobby();
      const sent = await send(alice, 'mine');
      expect(await errorOf(bob, 'message:edit', { room: 'lobby', id: sent.id, text: 'yours' })).toBe('forbidden');
      expect(await errorOf(bob, 'message:delete', { room: 'lobby', id: sent.id })).toBe('forbidden');
      const next = await send(bob, 'next');
      expect(next.rev).toBe(sent.rev + 1);
      expect((await ok(bob, 'room:history', { room: 'lobby' })).messages[0]).toEqual(sent);
    });

    it('follows the text rules of message:send', async () => {
      const { alice } = await lobby();
      const { id } = await send(alice, 'text');
      const edit = (text: unknown) => errorOf(alice, 'message:edit', { room: 'lobby', id, text });
      expect(await edit('')).toBe('invalid_payload');
      expect(await edit('  \n ')).toBe('invalid_payload');
      expect(await edit('a\u0000b')).toBe('invalid_payload');
      expect(await edit(42)).toBe('invalid_payload');
      expect(await edit('x'.repeat(2001))).toBe('too_large');
      expect((await change(alice, 'message:edit', { room: 'lobby', id, text: 'y'.repeat(2000) })).text).toHaveLength(2000);
    });

    it('answers an edit to the same text with the current state: no rev, no broadcast, editedTs kept', async () => {
      const { alice, bob } = await lobby();
      const sent = await send(alice, 'first');
      const edited = await change(alice, 'message:edit', { room: 'lobby', id: sent.id, text: 'second' });
      await barrier(bob);
      const updates = collect<MessageUpdateEvent>(bob, 'message:update');
      expect(await change(alice, 'message:edit', { room: 'lobby', id: sent.id, text: 'second' })).toEqual(edited);
      await barrier(bob);
      expect(updates.items).toEqual([]);
      expect((await send(bob, 'then')).rev).toBe(edited.rev + 1);
    });
  });

  describe('message:delete', () => {
    it('leaves a tombstone at its seq: text "", reactions {}, deleted, the same id, user and ts', async () => {
      const { alice, bob } = await lobby();
      const sent = await send(alice, 'oops');
      await change(bob, 'reaction:add', { room: 'lobby', id: sent.id, reaction: '👍' });
      await barrier(bob);
      const updates = collect<MessageUpdateEvent>(bob, 'message:update');
      const deleted = await change(alice, 'message:delete', { room: 'lobby', id: sent.id });
      expect(deleted).toEqual({ ...sent, text: '', reactions: {}, deleted: true, rev: sent.rev + 2 });
      expect(await updates.until(1)).toEqual([{ message: deleted }]);
      const after = await send(bob, 'after');
      expect((await ok(bob, 'room:history', { room: 'lobby' })).messages).toEqual([deleted, after]);
    });

    it('refuses edits and new reactions (not_found); a deletion repeated or a reaction removed changes nothing', async () => {
      const { alice, bob } = await lobby();
      const sent = await send(alice, 'gone soon');
      await change(bob, 'reaction:add', { room: 'lobby', id: sent.id, reaction: 'ok' });
      const deleted = await change(alice, 'message:delete', { room: 'lobby', id: sent.id });
      await barrier(bob);
      const updates = collect<MessageUpdateEvent>(bob, 'message:update');
      expect(await errorOf(alice, 'message:edit', { room: 'lobby', id: sent.id, text: 'back' })).toBe('not_found');
      expect(await errorOf(bob, 'reaction:add', { room: 'lobby', id: sent.id, reaction: 'ok' })).toBe('not_found');
      expect(await change(alice, 'message:delete', { room: 'lobby', id: sent.id })).toEqual(deleted);
      expect(await change(bob, 'reaction:remove', { room: 'lobby', id: sent.id, reaction: 'ok' })).toEqual(deleted);
      // Someone else's deletion of it is still not theirs to make.
      expect(await errorOf(bob, 'message:delete', { room: 'lobby', id: sent.id })).toBe('forbidden');
      await barrier(bob);
      expect(updates.items).toEqual([]);
      expect((await send(bob, 'next')).rev).toBe(deleted.rev + 1);
    });
  });

  describe('reactions', () => {
    it('keeps each reaction with its givers in the order they gave it, reactions in the order first given', async () => {
      const { url, alice, bob } = await lobby();
      const carol = await connect(url, 'carol');
      await ok(carol, 'room:join', { room: 'lobby' });
      const { id } = await send(alice, 'react to me');
      const react = (s: ClientSocket, reaction: string) => change(s, 'reaction:add', { room: 'lobby', id, reaction });
      const unreact = (s: ClientSocket, reaction: string) => change(s, 'reaction:remove', { room: 'lobby', id, reaction });
      await react(bob, '👍');
      await react(alice, '🎉');
      await react(carol, '👍');
      expect((await react(alice, '👍')).reactions).toEqual({ '👍': ['bob', 'carol', 'alice'], '🎉': ['alice'] });
      const removed = await unreact(carol, '👍');
      expect(removed.reactions).toEqual({ '👍': ['bob', 'alice'], '🎉': ['alice'] });
      expect(Object.keys(removed.reactions)).toEqual(['👍', '🎉']);
      // The last giver gone, the reaction goes; given again, it comes last.
      expect((await unreact(alice, '🎉')).reactions).toEqual({ '👍': ['bob', 'alice'] });
      const last = await react(carol, '🎉');
      expect(Object.entries(last.reactions)).toEqual([
        ['👍', ['bob', 'alice']],
        ['🎉', ['carol']],
      ]);
      expect((await ok(bob, 'room:history', { room: 'lobby' })).messages[0]).toEqual(last);
    });

    it('answers a reaction given twice, or removed by someone who did not give it, with the current state: no rev, no broadcast', async () => {
      const { alice, bob } = await lobby();
      const { id } = await send(alice, 'once');
      const given = await change(bob, 'reaction:add', { room: 'lobby', id, reaction: '+1' });
      await barrier(alice);
      const updates = collect<MessageUpdateEvent>(alice, 'message:update');
      expect(await change(bob, 'reaction:add', { room: 'lobby', id, reaction: '+1' })).toEqual(given);
      expect(await change(alice, 'reaction:remove', { room: 'lobby', id, reaction: '+1' })).toEqual(given);
      expect(await change(alice, 'reaction:remove', { room: 'lobby', id, reaction: 'never' })).toEqual(given);
      await barrier(alice);
      expect(updates.items).toEqual([]);
      expect((await send(alice, 'next')).rev).toBe(given.rev + 1);
    });

    it('takes 20 distinct reactions on a message and answers too_large to a 21st; more givers of one are fine', async () => {
      const { alice, bob } = await lobby();
      const { id } = await send(alice, 'popular');
      let last: Message | undefined;
      for (let i = 1; i <= 20; i++) last = await change(alice, 'reaction:add', { room: 'lobby', id, reaction: `r${i}` });
      expect(Object.keys(last!.reactions)).toEqual(range(1, 20).map((i) => `r${i}`));
      expect(await errorOf(bob, 'reaction:add', { room: 'lobby', id, reaction: 'r21' })).toBe('too_large');
      expect((await change(bob, 'reaction:add', { room: 'lobby', id, reaction: 'r20' })).reactions.r20).toEqual(['alice', 'bob']);
      // One gone makes room for another.
      await change(alice, 'reaction:remove', { room: 'lobby', id, reaction: 'r1' });
      expect((await change(bob, 'reaction:add', { room: 'lobby', id, reaction: 'r21' })).reactions.r21).toEqual(['bob']);
    });

    it.each([
      ['empty', ''],
      ['17 characters', 'x'.repeat(17)],
      ['a space', 'a b'],
      ['a tab', '\t'],
      ['a newline', 'ok\n'],
      ['an ideographic space', '\u3000'],
      ['a no-break space', '\u00a0'],
      ['a next-line character', '\u0085'],
      ['a control character', 'a\u0007'],
      ['DEL', '\u007f'],
      ['a lone surrogate', '\ud83d'],
      ['a number', 42],
      ['null', null],
    ])('refuses a reaction that is %s with invalid_payload', async (_what, reaction) => {
      const { alice } = await lobby();
      const { id } = await send(alice, 'm');
      expect(await errorOf(alice, 'reaction:add', { room: 'lobby', id, reaction })).toBe('invalid_payload');
      expect(await errorOf(alice, 'reaction:remove', { room: 'lobby', id, reaction })).toBe('invalid_payload');
    });

    it('takes any short text: emoji sequences, 16 code units, words, quotes, and names like __proto__', async () => {
      const { alice, bob } = await lobby();
      const { id } = await send(alice, 'm');
      const reactions = ['👨‍👩‍👧‍👦', '❤️', 'x'.repeat(16), '+1', '"q"\\', '__proto__', 'toString', 'lol', '\u200b'];
      let last: Message | undefined;
      for (const reaction of reactions) last = await change(bob, 'reaction:add', { room: 'lobby', id, reaction });
      expect(Object.keys(last!.reactions)).toEqual(reactions);
      expect(Object.values(last!.reactions)).toEqual(reactions.map(() => ['bob']));
      expect((await ok(alice, 'room:history', { room: 'lobby' })).messages).toEqual([last]);
      for (const reaction of reactions) last = await change(bob, 'reaction:remove', { room: 'lobby', id, reaction });
      expect(last!.reactions).toEqual({});
    });
  });

  describe('which messages', () => {
    it('answers not_found for an id that is no message of the room: unknown, or of another room', async () => {
      const { alice } = await lobby();
      await ok(alice, 'room:join', { room: 'other' });
      const elsewhere = (await ok<{ message: Message }>(alice, 'message:send', { room: 'other', text: 'there', clientId: 'o1' })).message;
      await send(alice, 'here');
      for (const id of ['no-such-id', elsewhere.id]) {
        expect(await errorOf(alice, 'message:edit', { room: 'lobby', id, text: 'x' })).toBe('not_found');
        expect(await errorOf(alice, 'message:delete', { room: 'lobby', id })).toBe('not_found');
        expect(await errorOf(alice, 'reaction:add', { room: 'lobby', id, reaction: 'x' })).toBe('not_found');
        expect(await errorOf(alice, 'reaction:remove', { room: 'lobby', id, reaction: 'x' })).toBe('not_found');
      }
    });

    it('answers not_found for a message trimmed out of history', async () => {
      const { alice } = await lobby({ historyMax: 3 });
      const [first, second] = await seed(alice, 'lobby', 4);
      expect(await errorOf(alice, 'message:edit', { room: 'lobby', id: first.id, text: 'x' })).toBe('not_found');
      expect(await errorOf(alice, 'reaction:add', { room: 'lobby', id: first.id, reaction: 'x' })).toBe('not_found');
      expect((await change(alice, 'reaction:add', { room: 'lobby', id: second.id, reaction: 'x' })).rev).toBe(5);
    });

    it.each([
      ['empty', ''],
      ['65 characters', 'a'.repeat(65)],
      ['a space', 'a b'],
      ['a slash', 'a/b'],
      ['a number', 7],
      ['missing', undefined],
    ])('refuses an id that is %s with invalid_payload', async (_what, id) => {
      const { alice } = await lobby();
      expect(await errorOf(alice, 'message:edit', { room: 'lobby', id, text: 'x' })).toBe('invalid_payload');
      expect(await errorOf(alice, 'message:delete', { room: 'lobby', id })).toBe('invalid_payload');
      expect(await errorOf(alice, 'reaction:add', { room: 'lobby', id, reaction: 'x' })).toBe('invalid_payload');
      expect(await errorOf(alice, 'reaction:remove', { room: 'lobby', id, reaction: 'x' })).toBe('invalid_payload');
    });

    it('needs the room joined over the socket (not_joined); a bad room is invalid_room', async () => {
      const { url, alice } = await lobby();
      const { id } = await send(alice, 'm');
      const dave = await connect(url, 'dave');
      expect(await errorOf(dave, 'message:edit', { room: 'lobby', id, text: 'x' })).toBe('not_joined');
      expect(await errorOf(dave, 'message:delete', { room: 'lobby', id })).toBe('not_joined');
      expect(await errorOf(dave, 'reaction:add', { room: 'lobby', id, reaction: 'x' })).toBe('not_joined');
      expect(await errorOf(dave, 'reaction:remove', { room: 'lobby', id, reaction: 'x' })).toBe('not_joined');
      expect(await errorOf(alice, 'reaction:add', { room: 'Lobby', id, reaction: 'x' })).toBe('invalid_room');
      expect(await errorOf(alice, 'reaction:add', { room: 7, id, reaction: 'x' })).toBe('invalid_payload');
      expect(await errorOf(alice, 'reaction:add', null)).toBe('invalid_payload');
    });

    it('answers forbidden, before not_joined, for a room the token does not allow', async () => {
      const server = await startServer({ authSecret: SECRET, backend: await makeBackend(100, false) });
      const alice = client(server.url, { token: token('alice') });
      const limited = client(server.url, { token: token('limited', ['elsewhere']) });
      await handshake(alice);
      await handshake(limited);
      await ok(alice, 'room:join', { room: 'lobby' });
      const { id } = await send(alice, 'm');
      expect(await errorOf(limited, 'message:edit', { room: 'lobby', id, text: 'x' })).toBe('forbidden');
      expect(await errorOf(limited, 'reaction:add', { room: 'lobby', id, reaction: 'x' })).toBe('forbidden');
      expect(await errorOf(limited, 'room:changes', { room: 'lobby', after: 0 })).toBe('forbidden');
    });

    it('counts changes against the send rate limit', async () => {
      const { alice } = await lobby({ limits: true });
      const { id } = await send(alice, 'm');
      const answers = await Promise.all(range(1, 40).map((i) => call(alice, 'reaction:add', { room: 'lobby', id, reaction: `r${i % 20}` })));
      const limited = answers.filter((a) => !a.ok);
      expect(limited.length).toBeGreaterThan(0);
      for (const a of limited) expect(a).toMatchObject({ ok: false, error: { code: 'rate_limited', retryAfterMs: expect.any(Number) } });
      expect(await errorOf(alice, 'message:send', { room: 'lobby', text: 'more', clientId: 'more' })).toBe('rate_limited');
    });
  });

  describe('rev', () => {
    it('numbers every change of a room 1, 2, 3, ... with no gap, over sends and changes in flight at once', async () => {
      const { alice, bob } = await lobby();
      const messages = await seed(alice, 'lobby', 10);
      const answers = await Promise.all([
        ...messages.map((m, i) => call<Change>(bob, 'reaction:add', { room: 'lobby', id: m.id, reaction: `r${i % 3}` })),
        ...messages.map((m) => call<Change>(alice, 'message:edit', { room: 'lobby', id: m.id, text: `${m.text} edited` })),
        ...range(11, 20).map((i) => call<{ message: Message }>(bob, 'message:send', { room: 'lobby', text: `m${i}`, clientId: `b${i}` })),
      ]);
      const revs = answers.map((a) => (a.ok ? a.message.rev : -1)).sort((x, y) => x - y);
      expect(revs).toEqual(range(11, 40));
      const changes = await ok<ChangesAnswer>(bob, 'room:changes', { room: 'lobby', after: 0, limit: 500 });
      expect(changes.rev).toBe(40);
      expect(changes.hasMore).toBe(false);
      // Each message once, at its latest rev, ascending.
      expect(changes.messages.map((m) => m.seq).sort((x, y) => x - y)).toEqual(range(1, 20));
      const latestRevs = changes.messages.map((m) => m.rev);
      expect(latestRevs).toEqual([...latestRevs].sort((x, y) => x - y));
      expect(await ok(bob, 'room:join', { room: 'lobby' })).toMatchObject({ seq: 20, rev: 40 });
    });

    it('is 0 in the join answer of a room with no changes, and counts apart in each room', async () => {
      const { alice } = await lobby();
      expect(await ok(alice, 'room:join', { room: 'empty' })).toMatchObject({ seq: 0, rev: 0 });
      const m = await send(alice, 'a');
      await change(alice, 'message:edit', { room: 'lobby', id: m.id, text: 'b' });
      await ok(alice, 'room:join', { room: 'other' });
      expect((await ok<{ message: Message }>(alice, 'message:send', { room: 'other', text: 'x', clientId: 'x' })).message).toMatchObject({ seq: 1, rev: 1 });
      expect(await ok(alice, 'room:join', { room: 'lobby' })).toMatchObject({ seq: 1, rev: 2 });
    });
  });

  describe('room:changes', () => {
    it('pages what changed after a rev, ascending by rev, with the room\'s rev and hasMore', async () => {
      const { alice, bob } = await lobby();
      const messages = await seed(alice, 'lobby', 5);
      // Revs 6..8: changes to messages 2, 4 and 2 again.
      await change(bob, 'reaction:add', { room: 'lobby', id: messages[1].id, reaction: 'a' });
      await change(alice, 'message:edit', { room: 'lobby', id: messages[3].id, text: 'four' });
      await change(bob, 'reaction:add', { room: 'lobby', id: messages[1].id, reaction: 'b' });
      const page = (after: number, limit?: number) => ok<ChangesAnswer>(bob, 'room:changes', { room: 'lobby', after, limit });
      const shape = (a: ChangesAnswer) => [a.messages.map((m) => `${m.seq}@${m.rev}`), a.rev, a.hasMore];
      expect(shape(await page(0))).toEqual([['1@1', '3@3', '5@5', '4@7', '2@8'], 8, false]);
      expect(shape(await page(0, 2))).toEqual([['1@1', '3@3'], 8, true]);
      expect(shape(await page(3, 2))).toEqual([['5@5', '4@7'], 8, true]);
      expect(shape(await page(7, 2))).toEqual([['2@8'], 8, false]);
      expect(shape(await page(5))).toEqual([['4@7', '2@8'], 8, false]);
      expect(shape(await page(8))).toEqual([[], 8, false]);
      expect(shape(await page(99))).toEqual([[], 8, false]);
      // The current state of each.
      const all = await page(0);
      expect(all.messages.at(-1)).toMatchObject({ seq: 2, reactions: { a: ['bob'], b: ['bob'] } });
      expect(all.messages.at(-2)).toMatchObject({ seq: 4, text: 'four', editedTs: expect.any(Number) });
    });

    it('answers 100 by default and up to 500; needs no join', async () => {
      const { url, alice } = await lobby();
      await seed(alice, 'lobby', 120);
      const reader = await connect(url, 'reader');
      const first = await ok<ChangesAnswer>(reader, 'room:changes', { room: 'lobby', after: 0 });
      expect([first.messages.length, first.hasMore, first.rev]).toEqual([100, true, 120]);
      const rest = await ok<ChangesAnswer>(reader, 'room:changes', { room: 'lobby', after: first.messages.at(-1)!.rev, limit: 500 });
      expect([rest.messages.length, rest.hasMore]).toEqual([20, false]);
      expect(await ok(reader, 'room:changes', { room: 'nobody-here', after: 0 })).toEqual({ ok: true, messages: [], rev: 0, hasMore: false });
    });

    it.each([
      ['no after', { room: 'lobby' }],
      ['a negative after', { room: 'lobby', after: -1 }],
      ['a fractional after', { room: 'lobby', after: 1.5 }],
      ['an after past the safe integers', { room: 'lobby', after: 2 ** 53 }],
      ['an after as text', { room: 'lobby', after: '3' }],
      ['limit 0', { room: 'lobby', after: 0, limit: 0 }],
      ['limit 501', { room: 'lobby', after: 0, limit: 501 }],
      ['a null limit', { room: 'lobby', after: 0, limit: null }],
    ])('refuses %s with invalid_payload', async (_what, payload) => {
      const { alice } = await lobby();
      expect(await errorOf(alice, 'room:changes', payload)).toBe('invalid_payload');
    });

    it('lists only kept messages: trimming takes the changes of trimmed messages with them', async () => {
      const { alice, bob } = await lobby({ historyMax: 3 });
      const [first, second] = await seed(alice, 'lobby', 3);
      await change(bob, 'reaction:add', { room: 'lobby', id: first.id, reaction: 'x' });
      await change(bob, 'reaction:add', { room: 'lobby', id: second.id, reaction: 'x' });
      await send(alice, 'fourth');
      const changes = await ok<ChangesAnswer>(bob, 'room:changes', { room: 'lobby', after: 0 });
      expect(changes.messages.map((m) => `${m.seq}@${m.rev}`)).toEqual(['3@3', '2@5', '4@6']);
      expect(changes.rev).toBe(6);
    });
  });

  describe('a repeated message:send', () => {
    it('answers the message as it is now (edited, reacted to) and broadcasts nothing', async () => {
      const { alice, bob } = await lobby();
      const sent = await send(alice, 'first draft', 'k1');
      await change(alice, 'message:edit', { room: 'lobby', id: sent.id, text: 'final' });
      const now = await change(bob, 'reaction:add', { room: 'lobby', id: sent.id, reaction: '✓' });
      await barrier(bob);
      const toBob = collect(bob, 'message');
      const updates = collect(bob, 'message:update');
      expect((await ok(alice, 'message:send', { room: 'lobby', text: 'first draft', clientId: 'k1' })).message).toEqual(now);
      await barrier(bob);
      expect([toBob.items, updates.items]).toEqual([[], []]);
    });

    it('answers a message trimmed out of history as it was stored', async () => {
      const { alice } = await lobby({ historyMax: 2 });
      const sent = await send(alice, 'old', 'k-old');
      await seed(alice, 'lobby', 3);
      expect((await ok(alice, 'message:send', { room: 'lobby', text: 'old', clientId: 'k-old' })).message).toEqual(sent);
    });
  });
});

describe.each(stores)('changes over HTTP (%s)', (_name, makeBackend) => {
  async function lobby(options: { authSecret?: string } = {}) {
    const server = await startServer({ ...options, backend: await makeBackend(10_000, false) });
    const alice = options.authSecret ? client(server.url, { token: token('alice') }) : await connect(server.url, 'alice');
    if (options.authSecret) await handshake(alice);
    await ok(alice, 'room:join', { room: 'lobby' });
    const sent = (await ok<{ message: Message }>(alice, 'message:send', { room: 'lobby', text: 'hello', clientId: 'h1' })).message;
    return { ...server, alice, sent, api: `${server.url}/api/rooms/lobby` };
  }
  async function request(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(url, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  }
  const reactionUrl = (api: string, id: string, reaction: string) => `${api}/messages/${id}/reactions/${encodeURIComponent(reaction)}`;

  it('edits, reacts, unreacts and deletes with 200 { message }, broadcast as message:update; open mode names the caller in the body', async () => {
    const { alice, sent, api } = await lobby();
    const updates = collect<MessageUpdateEvent>(alice, 'message:update');
    const edited = await request('PATCH', `${api}/messages/${sent.id}`, { text: 'hello, edited', name: 'alice' });
    expect(edited).toEqual({ status: 200, body: { message: { ...sent, text: 'hello, edited', rev: 2, editedTs: expect.any(Number) } } });
    const reacted = await request('PUT', reactionUrl(api, sent.id, '👍🏽'), { name: 'bob' });
    expect(reacted).toMatchObject({ status: 200, body: { message: { rev: 3, reactions: { '👍🏽': ['bob'] } } } });
    const slash = await request('PUT', reactionUrl(api, sent.id, 'a/b?#%'), { name: 'bob' });
    expect(slash.body.message.reactions).toEqual({ '👍🏽': ['bob'], 'a/b?#%': ['bob'] });
    const unreacted = await request('DELETE', reactionUrl(api, sent.id, '👍🏽'), { name: 'bob' });
    expect(unreacted).toMatchObject({ status: 200, body: { message: { rev: 5, reactions: { 'a/b?#%': ['bob'] } } } });
    const deleted = await request('DELETE', `${api}/messages/${sent.id}`, { name: 'alice' });
    expect(deleted).toMatchObject({ status: 200, body: { message: { rev: 6, text: '', reactions: {}, deleted: true } } });
    expect((await updates.until(5)).map((u) => u.message.rev)).toEqual([2, 3, 4, 5, 6]);
    expect(updates.items[4]).toEqual(deleted.body);
    // A repeat changes nothing and answers the current state.
    expect(await request('DELETE', `${api}/messages/${sent.id}`, { name: 'alice' })).toEqual({ status: 200, body: deleted.body });
  });

  it('answers the contract statuses: 401 unnamed, 403 not the author, 404 not_found, 400 invalid, 413 too large', async () => {
    const { sent, api } = await lobby();
    const status = async (method: string, url: string, body?: unknown) => {
      const res = await request(method, url, body);
      return [res.status, res.body.error?.code];
    };
    expect(await status('PATCH', `${api}/messages/${sent.id}`, { text: 'x' })).toEqual([401, 'unauthorized']);
    expect(await status('DELETE', `${api}/messages/${sent.id}`)).toEqual([401, 'unauthorized']);
    expect(await status('PATCH', `${api}/messages/${sent.id}`, { text: 'x', name: 'bob' })).toEqual([403, 'forbidden']);
    expect(await status('DELETE', `${api}/messages/${sent.id}`, { name: 'bob' })).toEqual([403, 'forbidden']);
    expect(await status('PATCH', `${api}/messages/no-such-id`, { text: 'x', name: 'alice' })).toEqual([404, 'not_found']);
    expect(await status('PUT', reactionUrl(api, 'no-such-id', 'x'), { name: 'alice' })).toEqual([404, 'not_found']);
    expect(await status('PATCH', `${api}/messages/bad%20id`, { text: 'x', name: 'alice' })).toEqual([400, 'invalid_payload']);
    expect(await status('PATCH', `${api}/messages/${sent.id}`, { name: 'alice' })).toEqual([400, 'invalid_payload']);
    expect(await status('PATCH', `${api}/messages/${sent.id}`, { text: ' ', name: 'alice' })).toEqual([400, 'invalid_payload']);
    expect(await status('PATCH', `${api}/messages/${sent.id}`, { text: 'x'.repeat(2001), name: 'alice' })).toEqual([413, 'too_large']);
    expect(await status('PUT', reactionUrl(api, sent.id, 'a b'), { name: 'bob' })).toEqual([400, 'invalid_payload']);
    expect(await status('PUT', reactionUrl(api, sent.id, 'x'.repeat(17)), { name: 'bob' })).toEqual([400, 'invalid_payload']);
    // A lone surrogate has no UTF-8 form: its would-be bytes do not decode.
    expect(await status('PUT', `${api}/messages/${sent.id}/reactions/%ED%A0%BD`, { name: 'bob' })).toEqual([400, 'invalid_payload']);
    expect(await status('PUT', `${api}/messages/${sent.id}/reactions/%E0%A4%A`, { name: 'bob' })).toEqual([400, 'invalid_payload']);
    expect(await status('PUT', `${api.replace('lobby', '%E0%A4%A')}/messages/${sent.id}/reactions/x`, { name: 'bob' })).toEqual([400, 'invalid_room']);
    expect(await status('PUT', `${api.replace('lobby', 'Lobby')}/messages/${sent.id}/reactions/x`, { name: 'bob' })).toEqual([400, 'invalid_room']);
    expect(await status('PUT', `${api}/messages/${sent.id}/reactions/`, { name: 'bob' })).toEqual([404, 'invalid_payload']);
    for (let i = 0; i < 20; i++) await request('PUT', reactionUrl(api, sent.id, `r${i}`), { name: 'bob' });
    expect(await status('PUT', reactionUrl(api, sent.id, 'r20'), { name: 'bob' })).toEqual([413, 'too_large']);
    await request('DELETE', `${api}/messages/${sent.id}`, { name: 'alice' });
    expect(await status('PATCH', `${api}/messages/${sent.id}`, { text: 'back', name: 'alice' })).toEqual([404, 'not_found']);
  });

  it('GET /changes answers as room:changes, after defaulting to 0', async () => {
    const { alice, sent, api } = await lobby();
    await seed(alice, 'lobby', 3);
    await request('PUT', reactionUrl(api, sent.id, '!'), { name: 'bob' });
    const all = await request('GET', `${api}/changes`);
    expect(all.status).toBe(200);
    expect(all.body).toEqual(await ok(alice, 'room:changes', { room: 'lobby', after: 0 }).then(({ ok: _ok, ...rest }) => rest));
    expect(all.body.messages.map((m: Message) => m.rev)).toEqual([2, 3, 4, 5]);
    expect((await request('GET', `${api}/changes?after=3&limit=1`)).body).toMatchObject({ rev: 5, hasMore: true, messages: [{ rev: 4 }] });
    for (const query of ['after=-1', 'after=1.5', 'after=x', 'limit=0', 'limit=501', 'after=1&after=2']) {
      expect(await request('GET', `${api}/changes?${query}`)).toMatchObject({ status: 400, body: { error: { code: 'invalid_payload' } } });
    }
  });

  it('in token mode needs the bearer (the body\'s name is ignored) and follows the rooms claim', async () => {
    const { sent, api } = await lobby({ authSecret: SECRET });
    const as = (sub: string, rooms?: string[]) => ({ authorization: `Bearer ${token(sub, rooms)}` });
    expect((await request('PATCH', `${api}/messages/${sent.id}`, { text: 'x', name: 'alice' })).status).toBe(401);
    expect((await request('GET', `${api}/changes`)).status).toBe(401);
    expect((await request('PATCH', `${api}/messages/${sent.id}`, { text: 'x' }, as('bob'))).status).toBe(403);
    expect((await request('PUT', reactionUrl(api, sent.id, 'x'), undefined, as('bob', ['other']))).body.error.code).toBe('forbidden');
    expect((await request('GET', `${api}/changes`, undefined, as('bob', ['other']))).body.error.code).toBe('forbidden');
    expect((await request('PATCH', `${api}/messages/${sent.id}`, { text: 'edited' }, as('alice'))).body.message.text).toBe('edited');
    expect((await request('PUT', reactionUrl(api, sent.id, 'x'), undefined, as('bob', ['lob*']))).body.message.reactions).toEqual({ x: ['bob'] });
  });
});

describe('well-formed Unicode', () => {
  it('refuses text with a lone surrogate (invalid_payload) and takes pairs', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    await ok(alice, 'room:join', { room: 'lobby' });
    expect(await errorOf(alice, 'message:send', { room: 'lobby', text: 'half \ud83d of it', clientId: 'c1' })).toBe('invalid_payload');
    expect(await errorOf(alice, 'message:send', { room: 'lobby', text: 'end \udc00', clientId: 'c2' })).toBe('invalid_payload');
    expect((await ok(alice, 'message:send', { room: 'lobby', text: 'whole 😀', clientId: 'c3' })).message.text).toBe('whole 😀');
  });

  it('refuses a display name or a token user id with a lone surrogate (unauthorized)', async () => {
    const { url } = await startServer();
    expect(await refusal(client(url, { name: 'Zo\ud800' }))).toBe('unauthorized');
    const tokenMode = await startServer({ authSecret: SECRET });
    expect(await refusal(client(tokenMode.url, { token: token('u-\udc01') }))).toBe('unauthorized');
    expect(await refusal(client(tokenMode.url, { token: jwt.sign({ sub: 'u1', name: '\ud83d' }, SECRET, { expiresIn: 60 }) }))).toBe('unauthorized');
    await handshake(client(tokenMode.url, { token: token('u-😀') }));
  });
});
