import type { User } from '../../protocol';
import { MemoryMessageStore } from '../../server/store/memory';
import type { AppendInput, MessageStore } from '../../server/store/types';
import { redisBackend, startRedis } from '../helpers/redis';

/** Makes `count` handles on one history: several instances of the service for Redis, the same object in memory. */
type StoreFactory = (historyMax: number, count?: number) => Promise<MessageStore[]>;

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
