/**
 * `npm run loadtest` as a user runs it: the default run (its profile and
 * topology, with a shorter load), its table and JSON, a bad option, and
 * Ctrl-C, after which nothing it started is left running.
 */
import { runLoadtest } from './loadtest';

jest.setTimeout(60_000);

describe('npm run loadtest (node dist/bench/loadtest.js)', () => {
  it('with no profile runs fanout on its own cluster (Redis, two instances, HAProxy), prints the table and writes every figure as JSON', async () => {
    // The default run, shortened: the profile, cluster and placement are the defaults.
    const run = await runLoadtest(['--clients', '60', '--duration', '2', '--warmup', '1']);
    expect(`${run.code} ${run.stdout}`).toMatch(/^0 /);
    expect(run.stdout).toMatch(/^fanout: 60 clients in 4 rooms, 1 per room sending 40 msg\/s/m);
    expect(run.stdout).toMatch(/^deliveries\/s\s+[\d,.]+$/m);
    expect(run.stdout).toMatch(/^delivery latency p99\s+[\d.]+ ms$/m);

    const doc = run.json;
    expect(doc).toMatchObject({ tool: 'parley-loadtest', version: 1, ok: true, problems: [], options: { profile: 'fanout', instances: 2, placement: 'balancer' } });
    expect(doc.machine.cpus).toBeGreaterThan(0);
    const figure = (key: string) => doc.figures.find((f: { key: string }) => f.key === key);
    expect(figure('rates.deliveriesPerSec')).toMatchObject({ unit: '/s', parley: expect.any(Number) });
    expect(figure('deliveries.lost')).toMatchObject({ parley: 0, runs: { parley: [0] } });

    const [result] = doc.results.parley;
    expect(result.connections).toMatchObject({ attempted: 60, connected: 60, joined: 60, connectFailed: {}, joinFailed: {}, dropped: 0 });
    // Through the balancer: both instances took clients.
    expect(Object.keys(result.connections.spread).sort()).toEqual(['parley1', 'parley2']);
    for (const q of ['p50', 'p90', 'p99', 'max']) {
      expect(result.traffic.deliveryMs[q]).toBeGreaterThan(0);
      expect(result.traffic.ackMs[q]).toBeGreaterThan(0);
    }
    const processes = Object.fromEntries(result.resources.processes.map((p: { name: string }) => [p.name, p]));
    for (const name of ['parley1', 'parley2', 'balancer', 'generator']) {
      expect(processes[name]).toMatchObject({ source: 'proc', cpuCores: expect.any(Number), rssBytes: expect.any(Number) });
    }
    expect(processes.redis).toMatchObject({ source: 'info', cpuCores: expect.any(Number), rssBytes: expect.any(Number) });
    // Each instance's bus link received the broadcasts of the rooms it has members in (each room got a quarter of the sends).
    expect(result.redisTraffic.instances).toHaveLength(2);
    for (const m of result.redisTraffic.instances) {
      expect(m.roomsWithMembers).toBeGreaterThanOrEqual(1);
      expect(m).toMatchObject({ relevantBroadcasts: (m.roomsWithMembers * result.traffic.acked) / 4, allBroadcasts: result.traffic.acked });
      expect(m.busBytes).toBeGreaterThan(0);
      expect(m.channels).toBeGreaterThanOrEqual(m.roomsWithMembers);
    }
    expect(run.leftovers).toEqual([]);
  });

  it('runs on a Redis Cluster of its own with --redis-shards, with the CPU and memory of each shard\'s master and of them all', async () => {
    const run = await runLoadtest(['--clients', '40', '--duration', '2', '--warmup', '1', '--redis-shards', '2']);
    expect(`${run.code} ${run.stdout}`).toMatch(/^0 /);
    expect(run.stdout).toMatch(/^CPU redis shard 1\s+[\d.]+ cores$/m);
    expect(run.stdout).toMatch(/^CPU redis shard 2\s+[\d.]+ cores$/m);
    const [result] = run.json.results.parley;
    expect(result.description).toMatch(/a Redis Cluster of 2 shard\(s\)/);
    const processes = Object.fromEntries(result.resources.processes.map((p: { name: string }) => [p.name, p]));
    for (const name of ['redis shard 1', 'redis shard 2', 'redis (all nodes)']) {
      expect(processes[name]).toMatchObject({ source: 'proc', cpuCores: expect.any(Number), rssBytes: expect.any(Number) });
    }
    expect(processes.redis).toBeUndefined();
    expect(run.leftovers).toEqual([]);
  });

  it('stops everything it started on Ctrl-C and exits 130', async () => {
    const run = await runLoadtest(['--clients', '40', '--duration', '60', '--warmup', '0'], { interruptWhen: /^connect .* joined in/m });
    expect(run.code).toBe(130);
    expect(run.stderr).toContain('SIGINT: stopping what was started');
    expect(run.json).toBeUndefined();
    expect(run.leftovers).toEqual([]);
  });

  it('refuses a bad option with exit code 2 and the usage, starting nothing', async () => {
    const run = await runLoadtest(['--rate', 'fast']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^loadtest: --rate: a number from 0 \(got fast\)/);
    expect(run.stderr).toContain('usage: npm run loadtest');
    expect(run.leftovers).toEqual([]);
  });
});
