/**
 * Property-based fuzzing of every client event: thousands of random and
 * hostile payloads over one raw connection, each answered by a well-formed
 * `ok` or contract error (never `internal`, never silence) while a bystander
 * on another connection is served throughout, the instance stays up, and its
 * heap ends within a bound of where it started.
 */
import fc from 'fast-check';
import { ERROR_CODES } from '../../protocol';
import { WireClient } from '../helpers/wire';
import { brokenFrame, encodeArgs, eventCase, EVENTS, type EventCase } from './arbitraries';
import { expectHeapWithin, fuzzSeed, startTarget, type FuzzBackend, type FuzzTarget } from './target';

const EVENT_CASES: Record<FuzzBackend, number> = { memory: 8000, redis: 5000 };
const BROKEN_FRAMES = 300;
/** A short run with the rate limits on (and small): the answers past them are well-formed too. */
const LIMITED_CASES = 1500;
/** What the run may leave behind: the messages it stored (a few thousand of at most 2,000 characters), their idempotency keys and rooms. */
const HEAP_BOUND_BYTES = 8 * 2 ** 20;
const KNOWN = new Set<string>(EVENTS);

/** Why an ack's answer is not one the contract allows for bad input, or undefined when it is. */
export function answerProblem(answer: unknown): string | undefined {
  if (typeof answer !== 'object' || answer === null) return 'not an object';
  const a = answer as { ok?: unknown; error?: { code?: unknown; message?: unknown; retryAfterMs?: unknown } };
  if (a.ok === true) return a.error === undefined ? undefined : 'ok with an error';
  if (a.ok !== false) return 'neither ok: true nor ok: false';
  const e = a.error;
  if (typeof e !== 'object' || e === null) return 'ok: false without an error';
  if (!ERROR_CODES.includes(e.code as never)) return `unknown code ${String(e.code)}`;
  if (e.code === 'internal') return `internal: ${String(e.message)}`;
  if (typeof e.message !== 'string' || e.message === '') return 'no message';
  if (e.retryAfterMs !== undefined && !(typeof e.retryAfterMs === 'number' && e.retryAfterMs >= 0)) return 'bad retryAfterMs';
  if (e.code === 'rate_limited' && e.retryAfterMs === undefined) return 'rate_limited without retryAfterMs';
  return undefined;
}

/** The frames of one case: an EVENT, or a BINARY_EVENT with one argument as an attachment. */
function frames(c: EventCase, ackId: number | undefined, ids: readonly string[], index: number): Array<string | Buffer> {
  const id = ackId ?? '';
  if (c.binary === null || c.args.length === 0) return [`42${id}${encodeArgs([c.event, ...c.args], ids, index)}`];
  const args = [...c.args];
  args[c.binary % args.length] = { _placeholder: true, num: 0 };
  return [`451-${id}${encodeArgs([c.event, ...args], ids, index)}`, Buffer.from([0, 1, 2, 255, index & 255])];
}

/** Runs event cases over `wire`, checking each answer, and counts the answers by outcome. */
function eventRunner(target: FuzzTarget, wire: WireClient) {
  const ids: string[] = [];
  let ackId = 0;
  let index = 0;
  /** How the answers spread over ok and each code: a check that the cases reach past the first validation. */
  const answers = new Map<string, number>();

  const run = async (c: EventCase) => {
    index++;
    const id = c.ack ? ++ackId : undefined;
    for (const f of frames(c, id, ids, index)) wire.send(f);
    if (id !== undefined && KNOWN.has(c.event)) {
      const answer = await wire.ack(id, 5000);
      const problem = answerProblem(answer);
      if (problem) throw new Error(`${problem}: ${JSON.stringify(answer).slice(0, 300)}`);
      const outcome = (answer as { ok: boolean; error?: { code: string } }).error?.code ?? 'ok';
      answers.set(outcome, (answers.get(outcome) ?? 0) + 1);
      const message = (answer as { message?: { id?: string } }).message;
      if (message?.id && ids.length < 64) ids.push(message.id);
    }
    // Silence is the answer to an unknown event, or to one without an ack; a round trip shows the connection still served.
    if (index % 50 === 0) expect(answerProblem(await wire.call('rooms:list', {}, ++ackId))).toBeUndefined();
    if (index % 1000 === 0) await target.bystanderServed();
  };

  return { run, answers };
}

describe.each(['memory', 'redis'] as const)('fuzzing every client event (%s)', (backend) => {
  it(`answers ${EVENT_CASES[backend]} random and hostile events well, and ${BROKEN_FRAMES} broken frames harm only their own connection`, async () => {
    const seed = fuzzSeed(`socket events (${backend})`);
    const target = await startTarget(backend);
    let wire = await WireClient.connect(target.server.url, { name: 'fuzzer' });
    const { run, answers } = eventRunner(target, wire);

    // Warm up first, so that what the heap holds at the start is the instance at work, not its first allocations.
    await fc.assert(fc.asyncProperty(eventCase, run), { seed: seed + 1, numRuns: 300, endOnFailure: true });
    const before = await target.heap();
    await fc.assert(fc.asyncProperty(eventCase, run), { seed, numRuns: EVENT_CASES[backend], endOnFailure: true });
    target.alive();
    process.stdout.write(`answers: ${[...answers].map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
    // Valid cases make it to the store and back, not only to the first refusal.
    expect(answers.get('ok')).toBeGreaterThan(EVENT_CASES[backend] / 20);

    // Frames that break the protocol: each on a fresh connection, which the server may close; nothing else may suffer.
    await fc.assert(
      fc.asyncProperty(brokenFrame, async (frame) => {
        const attacker = await WireClient.connect(target.server.url, { name: 'breaker' });
        attacker.send(frame);
        // Either the connection is still served or the server closed it; never left open and deaf.
        attacker.emit('rooms:list', {}, 1);
        const outcome = await attacker.ack(1, 3000).then(
          (answer) => answerProblem(answer) ?? 'served',
          (err: Error) => (/closed/.test(err.message) ? 'closed' : err.message),
        );
        expect(['served', 'closed']).toContain(outcome);
        attacker.close();
      }),
      { seed, numRuns: BROKEN_FRAMES, endOnFailure: true },
    );

    wire.close();
    wire = await WireClient.connect(target.server.url, { name: 'fuzzer' });
    expect(await wire.call('rooms:list', {}, 1)).toMatchObject({ ok: true });
    await target.bystanderServed();
    target.alive();
    wire.close();
    expectHeapWithin(before, await target.heap(), HEAP_BOUND_BYTES);
  }, 180_000);
});

describe('fuzzing every client event with the rate limits on (memory)', () => {
  it(`answers ${LIMITED_CASES} random and hostile events well, rate_limited ones with retryAfterMs, and the bystander is served`, async () => {
    const seed = fuzzSeed('socket events (limits on)');
    // Small budgets, so that one short run goes past each of them.
    const target = await startTarget('memory', { LIMITS: 'on', LIMIT_SEND: '10/60', LIMIT_JOIN: '10/60', LIMIT_TYPING: '5/60', LIMIT_READ: '20/60' });
    const wire = await WireClient.connect(target.server.url, { name: 'fuzzer' });
    const { run, answers } = eventRunner(target, wire);
    await fc.assert(fc.asyncProperty(eventCase, run), { seed, numRuns: LIMITED_CASES, endOnFailure: true });
    process.stdout.write(`answers: ${[...answers].map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
    // The limits were reached, and what they refused did not take the bystander's budget.
    expect(answers.get('rate_limited')).toBeGreaterThan(0);
    await target.bystanderServed();
    target.alive();
    wire.close();
  }, 60_000);
});
