import { MAX_REACTIONS_GIVEN_PER_MESSAGE, type Message, type User } from '../../protocol';
import { channels, keys } from '../../server/redis/keys';
import { defer } from '../helpers/cleanup';
import { MemoryMessageStore } from '../../server/store/memory';
import type { AppendInput, ChangeInput, MessageStore } from '../../server/store/types';
import { admin, redisBackend, startRedis, until, useRedisCluster } from '../helpers/redis';

/** Makes `count` handles on one history: several instances of the service for Redis, the same object in memory. */
type StoreFactory = (historyMax: number, count?: number) => Promise<MessageStore[]>;

/** Three shards, emptied for every test: the rooms of these tests land on different ones. */
const cluster = useRedisCluster();

const factories: Array<[string, StoreFactory]> = [
  [
    'memory',
    async (historyMax, count = 1) => {
      const store = new MemoryMessageStore(historyMax);
      return Array.from({ length: count }, () => store);
    },
  ],
  [
    'redis',
    async (historyMax, count = 1) => {
      const redis = await startRedis();
      const stores: MessageStore[] = [];
      for (let i = 0; i < count; i++) stores.push((await redisBackend(redis.url, { historyMax })).store);
      return stores;
    },
  ],
  [
    'redis cluster',
    async (historyMax, count = 1) => {
      const nodes = await cluster.fresh();
      const stores: MessageStore[] = [];
      for (let i = 0; i < count; i++) stores.push((await redisBackend(nodes, { historyMax })).store);
      return stores;
    },
  ],
];

const alice: User = { id: 'alice', name: 'Alice' };
const bob: User = { id: 'bob', name: 'Bob' };
let n = 0;

function input(room: string, text: string, user: User = alice, clientId = `c${++n}`): AppendInput {
  return { id: `id-${++n}`, room, clientId, user, text, ts: 1_700_000_000_000 + n };
}

async function fill(store: MessageStore, room: string, count: number): Promise<void> {
  for (let i = 1; i <= count; i++) await store.append(input(room, `m${i}`));
}

const seqs = (page: { messages: Array<{ seq: number }> }) => page.messages.map((m) => m.seq);

describe.each(factories)('MessageStore (%s)', (_name, make) => {
  it('numbers the messages of each room 1, 2, 3, ... and keeps what was sent', async () => {
    const [store] = await make(100);
    const first = await store.append(input('lobby', 'hello'));
    const second = await store.append(input('lobby', 'again', bob));
    const other = await store.append(input('other', 'elsewhere'));
    expect(first).toEqual({
      duplicate: false,
      message: { id: expect.any(String), room: 'lobby', seq: 1, rev: 1, clientId: expect.any(String), user: alice, text: 'hello', ts: expect.any(Number), reactions: {} },
    });
    expect(second.message).toMatchObject({ seq: 2, rev: 2, user: bob, text: 'again' });
    expect(other.message).toMatchObject({ seq: 1, rev: 1 });
  });

  it('keeps text exactly as sent: quotes, backslashes, newlines, unicode', async () => {
    const [store] = await make(100);
    const text = 'say "hi" \\ back\nslash / tab\t émoji 🎉 \u2028 end';
    const user: User = { id: 'zoë "q"', name: 'Zoë \\ 🎉' };
    const { message } = await store.append(input('lobby', text, user));
    const { messages } = await store.latest('lobby', 10);
    expect(messages).toEqual([message]);
    expect(messages[0].text).toBe(text);
    expect(messages[0].user).toEqual(user);
  });

  it('answers a repeated (user, room, clientId) with the original and stores nothing', async () => {
    const [store] = await make(100);
    const original = await store.append(input('lobby', 'once', alice, 'k1'));
    const repeat = await store.append({ ...input('lobby', 'changed text', alice, 'k1'), id: 'another-id' });
    expect(repeat).toEqual({ message: original.message, duplicate: true });
    expect(seqs(await store.latest('lobby', 10))).toEqual([1]);
  });

  it('treats the same clientId from another user or in another room as a new message', async () => {
    const [store] = await make(100);
    await store.append(input('lobby', 'from alice', alice, 'k1'));
    const fromBob = await store.append(input('lobby', 'from bob', bob, 'k1'));
    const elsewhere = await store.append(input('other', 'other room', alice, 'k1'));
    expect(fromBob).toMatchObject({ duplicate: false, message: { seq: 2, user: bob } });
    expect(elsewhere).toMatchObject({ duplicate: false, message: { seq: 1, room: 'other' } });
  });

  it('answers the original of a repeat even after it left the history', async () => {
    const [store] = await make(3);
    const original = await store.append(input('lobby', 'old', alice, 'k-old'));
    await fill(store, 'lobby', 5);
    expect(seqs(await store.latest('lobby', 10))).toEqual([4, 5, 6]);
    const repeat = await store.append(input('lobby', 'old', alice, 'k-old'));
    expect(repeat).toEqual({ message: original.message, duplicate: true });
    expect(seqs(await store.latest('lobby', 10))).toEqual([4, 5, 6]);
  });

  it('pages the latest messages, with hasMore when older ones exist', async () => {
    const [store] = await make(100);
    expect(await store.latest('lobby', 5)).toEqual({ messages: [], hasMore: false });
    await fill(store, 'lobby', 10);
    const page = await store.latest('lobby', 3);
    expect(seqs(page)).toEqual([8, 9, 10]);
    expect(page.hasMore).toBe(true);
    expect(await store.latest('lobby', 10)).toMatchObject({ hasMore: false });
    expect(seqs(await store.latest('lobby', 10))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await store.latest('lobby', 50)).toMatchObject({ hasMore: false });
  });

  it('pages backwards with before, ascending, hasMore at the edges', async () => {
    const [store] = await make(100);
    expect(await store.before('lobby', 5, 3)).toEqual({ messages: [], hasMore: false });
    await fill(store, 'lobby', 10);
    expect([seqs(await store.before('lobby', 5, 3)), (await store.before('lobby', 5, 3)).hasMore]).toEqual([[2, 3, 4], true]);
    expect([seqs(await store.before('lobby', 4, 3)), (await store.before('lobby', 4, 3)).hasMore]).toEqual([[1, 2, 3], false]);
    expect(await store.before('lobby', 1, 3)).toEqual({ messages: [], hasMore: false });
    expect(await store.before('lobby', 0, 3)).toEqual({ messages: [], hasMore: false });
    expect([seqs(await store.before('lobby', 999, 2)), (await store.before('lobby', 999, 2)).hasMore]).toEqual([[9, 10], true]);
  });

  it('pages forwards with after, ascending, hasMore while newer ones exist', async () => {
    const [store] = await make(100);
    expect(await store.after('lobby', 0, 3)).toEqual({ messages: [], hasMore: false });
    await fill(store, 'lobby', 10);
    expect([seqs(await store.after('lobby', 6, 3)), (await store.after('lobby', 6, 3)).hasMore]).toEqual([[7, 8, 9], true]);
    expect([seqs(await store.after('lobby', 7, 3)), (await store.after('lobby', 7, 3)).hasMore]).toEqual([[8, 9, 10], false]);
    expect(await store.after('lobby', 10, 3)).toEqual({ messages: [], hasMore: false });
    expect(await store.after('lobby', 50, 3)).toEqual({ messages: [], hasMore: false });
    expect([seqs(await store.after('lobby', 0, 10)), (await store.after('lobby', 0, 10)).hasMore]).toEqual([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], false]);
  });

  it('keeps only the last historyMax messages, and seq goes on', async () => {
    const [store] = await make(5);
    await fill(store, 'lobby', 8);
    expect(await store.latest('lobby', 10)).toMatchObject({ hasMore: false });
    expect(seqs(await store.latest('lobby', 10))).toEqual([4, 5, 6, 7, 8]);
    expect(await store.before('lobby', 4, 10)).toEqual({ messages: [], hasMore: false });
    expect([seqs(await store.before('lobby', 6, 10)), (await store.before('lobby', 6, 10)).hasMore]).toEqual([[4, 5], false]);
    expect([seqs(await store.after('lobby', 0, 2)), (await store.after('lobby', 0, 2)).hasMore]).toEqual([[4, 5], true]);
    expect((await store.append(input('lobby', 'next'))).message.seq).toBe(9);
    expect(await store.lastSeqs(['lobby'])).toEqual([9]);
  });

  it('answers the latest seq of many rooms at once, 0 for a room with none', async () => {
    const [store] = await make(100);
    await fill(store, 'a', 3);
    await fill(store, 'c', 1);
    expect(await store.lastSeqs(['a', 'b', 'c', 'a'])).toEqual([3, 0, 1, 3]);
    expect(await store.lastSeqs([])).toEqual([]);
  });

  it('gives concurrent sends from several instances 1..K with no gap and no repeat', async () => {
    const K = 200;
    const stores = await make(10_000, 3);
    const results = await Promise.all(
      Array.from({ length: K }, (_, i) => stores[i % stores.length].append(input('busy', `m${i}`, i % 2 ? alice : bob))),
    );
    expect(results.map((r) => r.message.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: K }, (_, i) => i + 1));
    const page = await stores[1].after('busy', 0, K);
    expect(seqs(page)).toEqual(Array.from({ length: K }, (_, i) => i + 1));
    expect(new Set(page.messages.map((m) => m.id)).size).toBe(K);
    expect(await stores[2].lastSeqs(['busy'])).toEqual([K]);
  });

  it('answers concurrent repeats of one send with one message', async () => {
    const stores = await make(100, 2);
    const sends = Array.from({ length: 20 }, (_, i) => stores[i % 2].append({ ...input('lobby', 'same', alice, 'retry-me'), id: `try-${i}` }));
    const results = await Promise.all(sends);
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(new Set(results.map((r) => r.message.id)).size).toBe(1);
    expect(await stores[0].lastSeqs(['lobby'])).toEqual([1]);
  });
});

const edit = (room: string, id: string, userId: string, text: string, ts = 1_800_000_000_000): ChangeInput => ({ room, id, userId, op: { kind: 'edit', text }, ts });
const react = (room: string, id: string, userId: string, reaction: string): ChangeInput => ({ room, id, userId, op: { kind: 'react', reaction }, ts: 0 });
const unreact = (room: string, id: string, userId: string, reaction: string): ChangeInput => ({ room, id, userId, op: { kind: 'unreact', reaction }, ts: 0 });
const remove = (room: string, id: string, userId: string): ChangeInput => ({ room, id, userId, op: { kind: 'delete' }, ts: 0 });
const codeOf = (promise: Promise<unknown>) => promise.then(() => 'ok', (err: { code?: string }) => err.code ?? String(err));
const at = (page: { messages: Message[] }) => page.messages.map((m) => `${m.seq}@${m.rev}`);

describe.each(factories)('MessageStore changes (%s)', (_name, make) => {
  it('takes the next rev for each change, replaces the message at its seq, and answers what it changed', async () => {
    const [store] = await make(100);
    const { message: sent } = await store.append(input('lobby', 'draft'));
    const edited = await store.change(edit('lobby', sent.id, 'alice', 'final'));
    expect(edited).toEqual({ changed: true, message: { ...sent, rev: 2, text: 'final', editedTs: 1_800_000_000_000 } });
    const reacted = await store.change(react('lobby', sent.id, 'bob', '👍'));
    expect(reacted).toEqual({ changed: true, message: { ...edited.message, rev: 3, reactions: { '👍': ['bob'] } } });
    expect((await store.latest('lobby', 10)).messages).toEqual([reacted.message]);
    expect(await store.lastRevs(['lobby', 'none'])).toEqual([3, 0]);
    const deleted = await store.change(remove('lobby', sent.id, 'alice'));
    expect(deleted.message).toEqual({ ...reacted.message, rev: 4, text: '', reactions: {}, deleted: true });
  });

  it(`refuses a reaction past ${MAX_REACTIONS_GIVEN_PER_MESSAGE} given to one message, all reactions together, with too_large; one taken back frees a place`, async () => {
    const [store] = await make(100);
    const { message } = await store.append(input('lobby', 'popular'));
    for (let i = 0; i < MAX_REACTIONS_GIVEN_PER_MESSAGE; i++) await store.change(react('lobby', message.id, `u${i}`, `r${i % 3}`));
    expect(await codeOf(store.change(react('lobby', message.id, 'late', 'r0')))).toBe('too_large');
    expect(await codeOf(store.change(react('lobby', message.id, 'late', 'new')))).toBe('too_large');
    await store.change(unreact('lobby', message.id, 'u0', 'r0'));
    const given = await store.change(react('lobby', message.id, 'late', 'r1'));
    expect(Object.values(given.message.reactions).flat()).toHaveLength(MAX_REACTIONS_GIVEN_PER_MESSAGE);
    expect(await store.lastRevs(['lobby'])).toEqual([1 + MAX_REACTIONS_GIVEN_PER_MESSAGE + 2]);
  });

  it('answers a change that changes nothing with the current state and takes no rev', async () => {
    const [store] = await make(100);
    const { message } = await store.append(input('lobby', 'same'));
    const given = await store.change(react('lobby', message.id, 'bob', 'x'));
    expect(await store.change(react('lobby', message.id, 'bob', 'x'))).toEqual({ changed: false, message: given.message });
    expect(await store.change(unreact('lobby', message.id, 'alice', 'x'))).toEqual({ changed: false, message: given.message });
    expect(await store.change(edit('lobby', message.id, 'alice', 'same'))).toEqual({ changed: false, message: given.message });
    const deleted = await store.change(remove('lobby', message.id, 'alice'));
    expect(await store.change(remove('lobby', message.id, 'alice'))).toEqual({ changed: false, message: deleted.message });
    expect(await store.change(unreact('lobby', message.id, 'bob', 'x'))).toEqual({ changed: false, message: deleted.message });
    expect(await store.lastRevs(['lobby'])).toEqual([3]);
  });

  it('refuses: not_found (unknown, another room, trimmed, deleted for edits and reactions), forbidden (not the author), too_large (a 21st reaction)', async () => {
    const [store] = await make(3);
    const { message: first } = await store.append(input('lobby', 'first'));
    const { message: other } = await store.append(input('other', 'other'));
    const { message: kept } = await store.append(input('lobby', 'kept'));
    expect(await codeOf(store.change(edit('lobby', 'nope', 'alice', 'x')))).toBe('not_found');
    expect(await codeOf(store.change(react('lobby', other.id, 'alice', 'x')))).toBe('not_found');
    expect(await codeOf(store.change(edit('lobby', kept.id, 'bob', 'x')))).toBe('forbidden');
    expect(await codeOf(store.change(remove('lobby', kept.id, 'bob')))).toBe('forbidden');
    for (let i = 0; i < 20; i++) await store.change(react('lobby', kept.id, 'bob', `r${i}`));
    expect(await codeOf(store.change(react('lobby', kept.id, 'bob', 'r20')))).toBe('too_large');
    await fill(store, 'lobby', 2);
    expect(await codeOf(store.change(react('lobby', first.id, 'alice', 'x')))).toBe('not_found');
    await store.change(remove('lobby', kept.id, 'alice'));
    expect(await codeOf(store.change(edit('lobby', kept.id, 'alice', 'x')))).toBe('not_found');
    expect(await codeOf(store.change(react('lobby', kept.id, 'alice', 'x')))).toBe('not_found');
    expect(await store.lastRevs(['lobby'])).toEqual([2 + 20 + 2 + 1]);
  });

  it('keeps timestamps exact past 14 significant digits, and text, names and reactions byte for byte through changes', async () => {
    const [store] = await make(100);
    const text = 'Zoë said "hi" \\ back/slash\n\ttab 🎉 👨‍👩‍👧 日本語 ’ \u2028 \u0001 \u007f end';
    const user: User = { id: 'zoë "q" 🎉', name: 'Zoë \\ 🎉' };
    const ts = 8_640_000_000_000_000 - 1; // the last ms a Date can hold: 16 digits
    const { message } = await store.append({ ...input('lobby', text, user), ts });
    const reaction = '"q"\\/🎉';
    const reacted = await store.change(react('lobby', message.id, 'ü "x" \\', reaction));
    const edited = await store.change(edit('lobby', message.id, user.id, `${text} ✎`, ts - 1));
    const [stored] = (await store.latest('lobby', 1)).messages;
    expect(stored).toEqual({ ...message, rev: 3, text: `${text} ✎`, editedTs: ts - 1, reactions: { [reaction]: ['ü "x" \\'] } });
    expect(stored).toEqual(edited.message);
    expect(reacted.message.text).toBe(text);
    expect(stored.ts).toBe(ts);
    expect(stored.user).toEqual(user);
    // Unchanged by a change that changes nothing either.
    expect((await store.change(react('lobby', message.id, 'ü "x" \\', reaction))).message).toEqual(stored);
  });

  it('answers what changed after a rev in ascending rev, each message once at its latest, with the rev and hasMore', async () => {
    const [store] = await make(100);
    await fill(store, 'lobby', 4);
    const ids = (await store.latest('lobby', 10)).messages.map((m) => m.id);
    await store.change(react('lobby', ids[0], 'bob', 'a'));
    await store.change(react('lobby', ids[2], 'bob', 'a'));
    await store.change(unreact('lobby', ids[0], 'bob', 'a'));
    expect(await store.changes('lobby', 0, 100)).toMatchObject({ rev: 7, hasMore: false });
    expect(at(await store.changes('lobby', 0, 100))).toEqual(['2@2', '4@4', '3@6', '1@7']);
    expect([at(await store.changes('lobby', 0, 2)), (await store.changes('lobby', 0, 2)).hasMore]).toEqual([['2@2', '4@4'], true]);
    expect([at(await store.changes('lobby', 4, 2)), (await store.changes('lobby', 4, 2)).hasMore]).toEqual([['3@6', '1@7'], false]);
    expect(await store.changes('lobby', 7, 10)).toEqual({ messages: [], rev: 7, hasMore: false });
    expect(await store.changes('empty', 0, 10)).toEqual({ messages: [], rev: 0, hasMore: false });
  });

  it('drops the changes of trimmed messages with them', async () => {
    const [store] = await make(3);
    await fill(store, 'lobby', 3);
    const ids = (await store.latest('lobby', 10)).messages.map((m) => m.id);
    await store.change(react('lobby', ids[0], 'bob', 'a'));
    await store.change(react('lobby', ids[1], 'bob', 'a'));
    await fill(store, 'lobby', 2);
    expect(at(await store.changes('lobby', 0, 100))).toEqual(['3@3', '4@6', '5@7']);
    await fill(store, 'lobby', 30);
    expect(at(await store.changes('lobby', 0, 100))).toEqual(['33@35', '34@36', '35@37']);
  });

  it('reads changes right after many changes to a few messages (the rev index drops what is superseded)', async () => {
    const [store] = await make(5);
    await fill(store, 'lobby', 5);
    const ids = (await store.latest('lobby', 10)).messages.map((m) => m.id);
    // 101 rounds over the first three messages, adding in even ones and removing in odd ones: 303 changes.
    for (let round = 0; round <= 100; round++) {
      for (const id of ids.slice(0, 3)) expect((await store.change((round % 2 ? unreact : react)('lobby', id, 'bob', 'x'))).changed).toBe(true);
    }
    expect(at(await store.changes('lobby', 0, 100))).toEqual(['4@4', '5@5', '1@306', '2@307', '3@308']);
    expect(at(await store.changes('lobby', 306, 100))).toEqual(['2@307', '3@308']);
    expect(at(await store.changes('lobby', 4, 2))).toEqual(['5@5', '1@306']);
    expect((await store.latest('lobby', 5)).messages.map((m) => m.reactions)).toEqual([{ x: ['bob'] }, { x: ['bob'] }, { x: ['bob'] }, {}, {}]);
  });

  it('answers a repeated send with the message as it is now, and once trimmed, as it was stored', async () => {
    const [store] = await make(3);
    const { message } = await store.append(input('lobby', 'once', alice, 'k1'));
    const { message: now } = await store.change(react('lobby', message.id, 'bob', '!'));
    expect(await store.append({ ...input('lobby', 'once', alice, 'k1'), id: 'other' })).toEqual({ duplicate: true, message: now });
    await fill(store, 'lobby', 3);
    expect(await store.append({ ...input('lobby', 'once', alice, 'k1'), id: 'other' })).toEqual({ duplicate: true, message });
  });

  it('gives concurrent changes and sends from several instances distinct revs with no gap, and keeps every reaction', async () => {
    const stores = await make(10_000, 3);
    const { message } = await stores[0].append(input('busy', 'react to me'));
    const users = Array.from({ length: 60 }, (_, i) => `u${i}`);
    const results = await Promise.all([
      ...users.map((u, i) => stores[i % 3].change(react('busy', message.id, u, i % 2 ? '👍' : '🎉'))),
      ...users.slice(0, 20).map((_, i) => stores[i % 3].append(input('busy', `m${i}`))),
    ]);
    expect(results.map((r) => r.message.rev).sort((a, b) => a - b)).toEqual(Array.from({ length: 80 }, (_, i) => i + 2));
    const [first] = (await stores[1].after('busy', 0, 1)).messages;
    expect(first.reactions['👍'].sort()).toEqual(users.filter((_, i) => i % 2).sort());
    expect(first.reactions['🎉'].sort()).toEqual(users.filter((_, i) => !(i % 2)).sort());
    expect(await stores[2].lastRevs(['busy'])).toEqual([81]);
  });
});

describe('MessageStore in Redis: its keys', () => {
  async function backend(historyMax: number) {
    const redis = await startRedis();
    const store = await redisBackend(redis.url, { historyMax });
    return { store: store.store, op: await admin(redis.url) };
  }

  it('trims the id index and the changes with the log, and keeps a reference under each idempotency key', async () => {
    const { store, op } = await backend(5);
    await fill(store, 'lobby', 12);
    expect([await op.zCard(keys.log('lobby')), await op.hLen(keys.messageIds('lobby')), await op.zCard(keys.changes('lobby'))]).toEqual([5, 5, 5]);
    const kept = (await store.latest('lobby', 10)).messages;
    expect(Object.keys(await op.hGetAll(keys.messageIds('lobby'))).sort()).toEqual(kept.map((m) => m.id).sort());
    const { message } = await store.append(input('lobby', 'ref', alice, 'k-ref'));
    expect(await op.get(keys.idempotency('lobby', 'alice', 'k-ref'))).toBe(`${message.seq}:${message.rev}:${message.ts}:${message.id}`);
  });

  it('publishes a new message on its bus channel in the same step as it stores it, and a repeat not at all', async () => {
    const redis = await startRedis();
    const { store } = await redisBackend(redis.url, { historyMax: 100 });
    const op = await admin(redis.url);
    const listener = op.duplicate();
    listener.on('error', () => {});
    await listener.connect();
    defer(() => listener.disconnect().catch(() => {}));
    const heard: string[] = [];
    await listener.sSubscribe(channels.room('lobby'), (text) => void heard.push(text));
    const publish = { channel: channels.room('lobby'), sharded: true, before: '<', after: '>' };
    const first = await store.append({ ...input('lobby', 'hello', alice, 'k-pub'), publish });
    const repeat = await store.append({ ...input('lobby', 'hello', alice, 'k-pub'), publish });
    await store.append(input('lobby', 'not published'));
    // Published after them: once it is heard, anything they published has been.
    await op.sPublish(channels.room('lobby'), 'end');
    await until('the publications are heard', () => heard.includes('end'));
    expect([first.published, repeat.published, repeat.duplicate]).toEqual([true, undefined, true]);
    expect(heard).toHaveLength(2);
    expect(JSON.parse(heard[0].slice(1, -1))).toEqual(first.message);
    expect([heard[0][0], heard[0].at(-1)]).toEqual(['<', '>']);
  });

  it('reads what was stored before messages had a rev: rev 0, no reactions, and the old idempotency keys', async () => {
    const { store, op } = await backend(100);
    const old = { seq: 1, id: 'old-1', room: 'lobby', clientId: 'k-old', user: alice, text: 'from before', ts: 1_700_000_000_000 };
    await op.zAdd(keys.log('lobby'), { score: 1, value: JSON.stringify(old) });
    await op.set(keys.seq('lobby'), '1');
    await op.set(keys.idempotency('lobby', 'alice', 'k-old'), JSON.stringify(old));
    expect((await store.latest('lobby', 10)).messages).toEqual([{ ...old, rev: 0, reactions: {} }]);
    expect(await store.append(input('lobby', 'from before', alice, 'k-old'))).toEqual({ duplicate: true, message: { ...old, rev: 0, reactions: {} } });
    expect((await store.append(input('lobby', 'new'))).message).toMatchObject({ seq: 2, rev: 1 });
  });
});

describe('MessageStore (memory): bounded in all, whatever rooms clients write to', () => {
  it('keeps at most maxMessages in all rooms together, dropping the rooms written least recently; a dropped room counts on, never again from 1', async () => {
    const store = new MemoryMessageStore(100, Date.now, 10);
    for (let r = 0; r < 5; r++) for (let i = 0; i < 3; i++) await store.append(input(`room-${r}`, `m${i}`));
    // 15 written, 10 at most kept: room-0 and room-1 (written first) are gone, the last three rooms kept whole.
    const kept = await Promise.all(['room-0', 'room-1', 'room-2', 'room-3', 'room-4'].map(async (r) => (await store.latest(r, 100)).messages.map((m) => m.text)));
    expect(kept).toEqual([[], [], ['m0', 'm1', 'm2'], ['m0', 'm1', 'm2'], ['m0', 'm1', 'm2']]);
    // A dropped room's seq does not go back.
    expect((await store.lastSeqs(['room-0']))[0]).toBeGreaterThanOrEqual(3);
    // Written again, room-0 counts on from the highest seq or rev a dropped room had.
    const { message } = await store.append(input('room-0', 'again'));
    expect(message.seq).toBeGreaterThan(3);
    expect(message.rev).toBeGreaterThan(3);
    expect((await store.after('room-0', 0, 100)).messages.map((m) => m.text)).toEqual(['again']);
  });

  it('keeps at most maxRooms rooms, dropping the ones written least recently; one written again counts on', async () => {
    const store = new MemoryMessageStore(100, Date.now, 1000, 3);
    for (let r = 0; r < 5; r++) await store.append(input(`room-${r}`, `m${r}`));
    // room-0 written again: it is now the most recent, and room-1 and room-2 go.
    await store.append(input('room-2', 'again'));
    // room-0 was dropped at seq 1: written again it counts on from there.
    expect((await store.append(input('room-0', 'back'))).message.seq).toBeGreaterThan(1);
    const kept = await Promise.all(['room-0', 'room-1', 'room-2', 'room-3', 'room-4'].map(async (r) => (await store.latest(r, 100)).messages.map((m) => m.text)));
    expect(kept).toEqual([['back'], [], ['m2', 'again'], [], ['m4']]);
  });
});
