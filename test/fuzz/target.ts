/**
 * The instance a fuzz suite attacks: a real process (in memory or over a
 * private redis-server), its heap readable after a full collection through
 * its inspector, and a bystander on another connection whose service every
 * case must leave intact. The seed is printed for replay (`FUZZ_SEED`).
 */
import { heapAfterGc } from '../../bench/loadtest/heap';
import { ok, waitFor } from '../helpers/events';
import { startServerProcess, until, type RunningServer } from '../helpers/process';
import { readyz, startRedis } from '../helpers/redis';
import { connect, type ClientSocket } from '../helpers/server';

export type FuzzBackend = 'memory' | 'redis';

/** The run's seed: FUZZ_SEED to replay one, else a new one, printed either way. */
export function fuzzSeed(suite: string): number {
  const given = process.env.FUZZ_SEED;
  const seed = given !== undefined && given !== '' ? Number(given) : Math.floor(Math.random() * 2 ** 31);
  if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be a whole number, not ${given}`);
  process.stdout.write(`${suite}: fuzz seed ${seed} (replay: FUZZ_SEED=${seed} npx jest test/fuzz)\n`);
  return seed;
}

export interface FuzzTarget {
  server: RunningServer;
  /** V8 heap in use after a full collection, in bytes. */
  heap(): Promise<number>;
  /** Fails unless the bystander can still send and receives its own message. */
  bystanderServed(): Promise<void>;
  /** Fails unless the process is still running. */
  alive(): void;
}

export async function startTarget(backend: FuzzBackend, env: Record<string, string> = {}): Promise<FuzzTarget> {
  const redis = backend === 'redis' ? await startRedis() : undefined;
  const server = await startServerProcess({
    ...(redis ? { REDIS_URL: redis.url } : {}),
    // Cases come fast from one address and one user: the limits have tests of their own.
    LIMITS: 'off',
    NODE_OPTIONS: '--inspect=127.0.0.1:0',
    ...env,
  });
  // Over Redis the instance takes connections once its links are up.
  await until('the instance to be ready', async () => (await readyz(server.url)) === 200, 10_000);
  const inspector = /Debugger listening on (ws:\/\/\S+)/.exec(server.stderr())?.[1];
  if (!inspector) throw new Error(`no inspector URL in the instance's output: ${server.stderr()}`);

  const bystander: ClientSocket = await connect(server.url, 'bystander');
  await ok(bystander, 'room:join', { room: 'bystander' });
  let n = 0;
  return {
    server,
    heap: async () => (await heapAfterGc(inspector)).usedBytes,
    async bystanderServed() {
      const clientId = `bystander-${++n}`;
      const received = waitFor<{ clientId: string }>(bystander, 'message', (m) => m.clientId === clientId);
      const answer = await ok(bystander, 'message:send', { room: 'bystander', text: `still here ${n}`, clientId });
      expect(answer.message.text).toBe(`still here ${n}`);
      await received;
    },
    alive() {
      expect({ exitCode: server.child.exitCode, signal: server.child.signalCode, stderr: server.stderr().replace(/Debugger.*\n|For help.*\n/g, '') }).toEqual({
        exitCode: null,
        signal: null,
        stderr: expect.not.stringMatching(/Error|uncaught|unhandled/i),
      });
    },
  };
}

/** Where a suite's heap may end after its run: what its cases legitimately keep (stored messages, idempotency keys) and no more. */
export function expectHeapWithin(before: number, after: number, boundBytes: number): void {
  const grown = after - before;
  process.stdout.write(`heap after GC: ${(before / 2 ** 20).toFixed(1)} MiB before, ${(after / 2 ** 20).toFixed(1)} MiB after (${(grown / 2 ** 20).toFixed(2)} MiB; bound ${(boundBytes / 2 ** 20).toFixed(0)} MiB)\n`);
  expect(grown).toBeLessThan(boundBytes);
}
