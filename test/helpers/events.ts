import type { Answer } from '../../protocol';


interface Emitterish {
  on(event: any, listener: any): unknown;
  off(event: any, listener: any): unknown;
}

/**
 * Resolves with the first `event` whose payload passes `match`; rejects after
 * `timeoutMs` naming the event, so a missing event fails loudly and fast.
 */
export function waitFor<T = any>(
  emitter: Emitterish,
  event: string,
  match: (payload: T) => boolean = () => true,
  timeoutMs = 5000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for '${event}'`));
    }, timeoutMs);
    const listener = (payload: T) => {
      if (!match(payload)) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(payload);
    };
    emitter.on(event, listener);
  });
}

/**
 * Collects every `event` payload from now on; `until(n)` waits for the n-th.
 */
export function collect<T = any>(emitter: Emitterish, event: string) {
  const items: T[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const listener = (payload: T) => {
    items.push(payload);
    for (const w of [...waiters]) {
      if (items.length >= w.n) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  emitter.on(event, listener);
  return {
    items,
    stop: () => emitter.off(event, listener),
    until(n: number, timeoutMs = 5000): Promise<T[]> {
      if (items.length >= n) return Promise.resolve(items);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out with ${items.length} of ${n} '${event}' events`)),
          timeoutMs,
        );
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve(items);
          },
        });
      });
    },
  };
}

/** Emits with an ack and resolves with the answer; rejects when none comes in time. */
export function call<T = any>(
  socket: { timeout(ms: number): { emit(event: string, ...args: any[]): unknown } },
  event: string,
  payload?: unknown,
  timeoutMs = 5000,
): Promise<Answer<T>> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, answer: Answer<T>) => (err ? reject(err) : resolve(answer));
    if (payload === undefined) socket.timeout(timeoutMs).emit(event, done);
    else socket.timeout(timeoutMs).emit(event, payload, done);
  });
}

/** `call`, expecting `ok: true`; throws with the error otherwise. */
export async function ok<T = any>(
  socket: Parameters<typeof call>[0],
  event: string,
  payload?: unknown,
): Promise<T> {
  const answer = await call<T>(socket, event, payload);
  if (!answer.ok) throw new Error(`${event} answered ${JSON.stringify(answer.error)}`);
  return answer as unknown as T;
}
