/**
 * What the history store keeps per send, in memory and in Redis: the bytes a
 * room's log and its idempotency records take, once with every message kept
 * and once with most of them trimmed out of history (where only the
 * idempotency records are left of them, for 24 hours).
 *
 *   npm run build && node --expose-gc dist/bench/store-memory.js [--sends 20000] [--text 100]
 *
 * Memory: the live heap after a full GC, before and after the sends, per
 * send. Redis: INFO used_memory before and after, per send, and MEMORY USAGE
 * of one idempotency key.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createClient } from 'redis';
import { startRedis } from '../scripts/topology/redis';
import { createLogger } from '../server/logger';
import { createRedisBackend } from '../server/redis/backend';
import { keys } from '../server/redis/keys';
import { MemoryMessageStore } from '../server/store/memory';
import type { MessageStore } from '../server/store/types';

const { values } = parseArgs({
  options: {
    sends: { type: 'string', default: '20000' },
    text: { type: 'string', default: '100' },
  },
});
const sends = Number(values.sends);
const textLength = Number(values.text);
const users = 50;

async function sendAll(store: MessageStore, room: string): Promise<void> {
  const ts = Date.now();
  for (let i = 0; i < sends; i++) {
    const name = `user-${i % users}`;
    // A flat text of its own for each send, as in a real room: one shared
    // string (or V8's ropes of one) would cost nothing per send in memory.
    const text = randomBytes(Math.ceil(textLength / 2)).toString('hex').slice(0, textLength);
    await store.append({ id: randomUUID(), room, clientId: `c-${i}-${randomUUID().slice(0, 8)}`, user: { id: name, name }, text, ts: ts + i });
  }
}

function heap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

async function memory(historyMax: number): Promise<number> {
  const store = new MemoryMessageStore(historyMax);
  // Warm the code paths (and the room's log) first: only the sends' growth is measured.
  await sendAll(store, 'warm');
  const before = heap();
  await sendAll(store, 'lobby');
  const after = heap();
  // Keep the store alive until the second reading.
  if (!(await store.lastSeqs(['lobby']))[0]) throw new Error('nothing stored');
  return (after - before) / sends;
}

async function redis(url: string, historyMax: number): Promise<{ perSend: number; idemKey: number | null }> {
  const backend = await createRedisBackend({ redisUrl: url, historyMax, limits: false, instanceId: 'bench' }, createLogger('bench', 'silent'));
  const op = createClient({ url });
  await op.connect();
  try {
    await op.flushAll();
    const used = async () => Number(/used_memory:(\d+)/.exec(await op.info('memory'))?.[1]);
    await sendAll(backend.store, 'warm');
    await op.flushAll();
    const before = await used();
    await sendAll(backend.store, 'lobby');
    const after = await used();
    const [sample] = await op.keys(keys.idempotency('lobby', 'user-0', '*'));
    const idemKey = sample ? await op.memoryUsage(sample) : null;
    return { perSend: (after - before) / sends, idemKey };
  } finally {
    await op.quit();
    await backend.close();
  }
}

async function main(): Promise<void> {
  const server = await startRedis({ appendonly: false });
  try {
    const all = sends + 1000;
    const rows: string[][] = [];
    for (const [label, historyMax] of [
      [`all ${sends} kept`, all],
      ['100 kept', 100],
    ] as const) {
      const mem = await memory(historyMax);
      const red = await redis(server.url, historyMax);
      rows.push([label, mem.toFixed(0), red.perSend.toFixed(0), String(red.idemKey)]);
    }
    console.log(`${sends} sends of ${textLength} characters by ${users} users into one room`);
    console.log(['history', 'memory B/send', 'redis B/send', 'redis idem key B'].join('\t'));
    for (const row of rows) console.log(row.join('\t'));
  } finally {
    await server.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
