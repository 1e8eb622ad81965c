/**
 * V8 heap in use after a full garbage collection, asked of an instance's
 * inspector (started with `--inspect=127.0.0.1:0`) over the DevTools
 * protocol: `HeapProfiler.collectGarbage`, then `Runtime.getHeapUsage`.
 * Needs no change to the server and no `--expose-gc`; what is measured is
 * live memory only, not garbage waiting for the next collection, so the
 * difference before and after connecting N clients is what N connections
 * hold.
 */
import WebSocket from 'ws';

export interface HeapReading {
  usedBytes: number;
  totalBytes: number;
}

/** Collects garbage twice (weak references and finalisers let go on the second) and reads the heap. */
export async function heapAfterGc(inspectorUrl: string, timeoutMs = 30_000): Promise<HeapReading> {
  const ws = new WebSocket(inspectorUrl, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (r: any) => void; reject: (e: Error) => void }>();
  ws.on('message', (data: Buffer) => {
    const msg = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string } };
    const waiter = msg.id === undefined ? undefined : pending.get(msg.id);
    if (!waiter) return;
    pending.delete(msg.id!);
    if (msg.error) waiter.reject(new Error(msg.error.message));
    else waiter.resolve(msg.result);
  });
  const call = (method: string): Promise<any> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => reject(new Error(`${method}: no answer in ${timeoutMs} ms`)), timeoutMs);
      pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      ws.send(JSON.stringify({ id, method }));
    });
  try {
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
    const usage = (await call('Runtime.getHeapUsage')) as { usedSize: number; totalSize: number };
    return { usedBytes: usage.usedSize, totalBytes: usage.totalSize };
  } finally {
    ws.close();
  }
}
