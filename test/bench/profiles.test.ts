/**
 * The profiles that measure something else than steady traffic, each on a
 * small cluster of its own: idle (heap per connection after a full GC,
 * alternating with the relay), connect-storm (everyone at once through the
 * balancer) and --find-max (the rate search).
 */
import { runLoadtest } from './loadtest';

jest.setTimeout(60_000);

describe('load tester profiles', () => {
  it('idle --compare relay: heap per connection of each, after a full GC over the inspector, with the ratio', async () => {
    const run = await runLoadtest(['idle', '--clients', '200', '--rooms', '20', '--duration', '0', '--compare', 'relay']);
    expect(`${run.code} ${run.stdout}`).toMatch(/^0 /);
    expect(run.stdout).toMatch(/^heap per connection instance 1\s+[\d.]+ KiB\s+[\d.]+ KiB\s+[\d.]+x$/m);
    for (const side of ['parley', 'relay']) {
      const [result] = run.json.results[side];
      expect(result.connections.spread).toEqual({ [`${side}1`]: 200 });
      expect(result.heap.source).toBe('inspector');
      const [instance] = result.heap.instances;
      expect(instance).toMatchObject({ instance: `${side}1`, connections: 200 });
      // A connection holds some memory, and far less than a megabyte.
      expect(instance.perConnectionBytes).toBeGreaterThan(0);
      expect(instance.perConnectionBytes).toBeLessThan(1 << 20);
    }
    const row = run.json.figures.find((f: { key: string }) => f.key === 'heap.instance 1.perConnection');
    expect(row.ratio).toBeCloseTo(row.parley / row.relay, 2);
    expect(run.leftovers).toEqual([]);
  });

  it('connect-storm: every client connects and joins through the balancer at once; the time to all is reported', async () => {
    const run = await runLoadtest(['connect-storm', '--clients', '300', '--rooms', '30']);
    expect(`${run.code} ${run.stdout}`).toMatch(/^0 /);
    const [result] = run.json.results.parley;
    const c = result.connections;
    expect(c).toMatchObject({ attempted: 300, connected: 300, joined: 300, connectFailed: {}, joinFailed: {} });
    expect(c.timeToJoinAllMs).toBeGreaterThanOrEqual(c.timeToConnectAllMs);
    expect(c.spread.parley1 + c.spread.parley2).toBe(300);
    expect(result.traffic).toBeUndefined();
    expect(result.resources.stage).toBe('connect storm');
    expect(run.stdout).toMatch(/^time to connect and join all\s+[\d.]+ ms$/m);
  });

  it('--find-max raises the rate while it holds and reports the highest sustained one', async () => {
    const run = await runLoadtest(['many-rooms', '--clients', '40', '--rooms', '8', '--rate', '20', '--duration', '1', '--warmup', '0', '--find-max', '--max-steps', '2']);
    expect(`${run.code} ${run.stdout}`).toMatch(/^0 /);
    const [result] = run.json.results.parley;
    expect(result.findMax.steps.map((s: { rate: number; sustained: boolean }) => [s.rate, s.sustained])).toEqual([
      [20, true],
      [30, true],
    ]);
    expect(result.findMax.belowLimit).toBe(true);
    // 30 messages into rooms of 5.
    expect(result.traffic).toMatchObject({ rate: 30, acked: 30, lost: 0, expected: 30 * 5 });
    expect(run.stdout).toContain('every rate tried was sustained; the highest is above 30 msg/s');
  });

  it('--find-max with nothing sustainable says so and exits 1', async () => {
    const run = await runLoadtest(['many-rooms', '--clients', '40', '--rooms', '8', '--rate', '20', '--duration', '1', '--warmup', '0', '--find-max', '--max-steps', '2', '--p99-limit', '0.001']);
    expect(run.code).toBe(1);
    const [result] = run.json.results.parley;
    expect(result.findMax.steps.map((s: { rate: number; sustained: boolean }) => [s.rate, s.sustained])).toEqual([
      [20, false],
      [10, false],
    ]);
    expect(run.stdout).toContain('no rate was sustained');
  });
});
