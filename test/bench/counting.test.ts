/**
 * The load tester's counting against real clusters it starts itself (Redis,
 * two instances, HAProxy): against Parley nothing is lost and the expected
 * count is exact; against the relay with its fault switch on, exactly the
 * broadcasts it dropped and repeated are reported, and the run fails.
 */
import { faultsIn } from '../../bench/relay/faults';
import { runLoadtest } from './loadtest';

jest.setTimeout(60_000);

// 40 clients in 4 rooms of 10, one sender per room, 40 messages/s for 2 s.
const LOAD = ['--clients', '40', '--rooms', '4', '--senders', '1', '--rate', '40', '--duration', '2'];

describe('load tester counting', () => {
  it('counts every delivery from Parley exactly once: acked sends x members, nothing lost, exit 0', async () => {
    const run = await runLoadtest([...LOAD, '--warmup', '1']);
    expect(`${run.code} ${run.stdout}`).toMatch(/^0 [\s\S]*OK: nothing lost/);
    const [result] = run.json.results.parley;
    const t = result.traffic;
    expect(t.sent).toBe(80);
    expect(t.acked).toBe(80);
    expect(t.expected).toBe(80 * 10);
    expect(t).toMatchObject({ received: 800, lost: 0, repeated: 0, unanswered: 0, refused: {}, misdelivered: 0 });
    expect(t.deliveryMs.count).toBe(800);
    expect(run.json.ok).toBe(true);
    expect(run.leftovers).toEqual([]);
  });

  it('reports exactly the broadcasts a faulty relay dropped and repeated, and exits 1 saying why', async () => {
    const dropEvery = 7;
    const repeatEvery = 5;
    // No warm-up: the relay's own count of broadcasts starts with the measured ones.
    const run = await runLoadtest([...LOAD, '--warmup', '0', '--target', 'relay', '--relay-drop-every', String(dropEvery), '--relay-repeat-every', String(repeatEvery)]);
    const [result] = run.json.results.relay;
    const t = result.traffic;
    expect(t.acked).toBe(80);
    // Each relay instance counts the broadcasts of the senders connected to it.
    const perInstance = Object.values(result.sendsByInstance as Record<string, number>);
    expect(perInstance.reduce((a, b) => a + b, 0)).toBe(80);
    let dropped = 0;
    let repeated = 0;
    for (const n of perInstance) {
      const f = faultsIn(n, dropEvery, repeatEvery);
      dropped += f.dropped;
      repeated += f.repeated;
    }
    expect(dropped).toBeGreaterThan(0);
    expect(repeated).toBeGreaterThan(0);
    expect(t.expected).toBe(800);
    expect(t.lost).toBe(dropped * 10);
    expect(t.repeated).toBe(repeated * 10);
    expect(t.received).toBe(800 - dropped * 10);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`FAILED:\n  relay run 1: ${dropped * 10} of 800 expected deliveries were lost`);
    expect(run.stdout).toContain(`relay run 1: ${repeated * 10} deliveries were repeats of one already received`);
    expect(run.json.ok).toBe(false);
    expect(run.leftovers).toEqual([]);
  });
});
