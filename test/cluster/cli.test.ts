/**
 * `npm run cluster`'s launcher (node dist/scripts/cluster.js), run as a user
 * would: it prints where the service is, the service works through the
 * printed balancer URL, its Redis data outlives it, and nothing it started
 * survives it, whether it is stopped with SIGTERM or killed outright.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Message } from '../../protocol';
import { httpStatus, pollUntil, repoRoot } from '../../scripts/topology/instance';
import { defer } from '../helpers/cleanup';
import { alive, descendants } from '../helpers/processes';
import { CLUSTER_TEST_ENV, connectSession } from '../helpers/cluster';
import { ok, waitFor } from '../helpers/events';

jest.setTimeout(90_000);

const CLI = path.join(repoRoot(), 'dist', 'scripts', 'cluster.js');

interface Launched {
  child: ChildProcess;
  output: () => string;
  balancer: string;
  instances: Array<{ id: string; url: string; pid: number }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the launcher and resolves once it printed the balancer line. */
async function launch(dataDir: string, instances: number, more: string[] = [], env: Record<string, string> = {}): Promise<Launched> {
  const child = spawn(process.execPath, [CLI, '--instances', String(instances), '--port', '0', '--data-dir', dataDir, ...more], {
    cwd: repoRoot(),
    env: { PATH: `${process.env.PATH}:/usr/sbin`, HOME: process.env.HOME, ...CLUSTER_TEST_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  // Whatever happens in the test, nothing it started is left behind: the
  // processes seen under it are remembered, as they outlive a killed parent.
  const seen = new Map<number, string>();
  defer(() => {
    for (const [pid, start] of descendants(child.pid!)) seen.set(pid, start);
    child.kill('SIGKILL');
    for (const pid of alive(seen)) process.kill(pid, 'SIGKILL');
  });

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no balancer line within 60 s:\n${out}`)), 60_000);
    const check = () => {
      if (/^balancer\s+http:\/\/\S+/m.test(out) && /Ctrl-C/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`the launcher exited (${code}) before printing the balancer URL:\n${out}`));
    });
  });
  for (const [pid, start] of descendants(child.pid!)) seen.set(pid, start);
  const balancer = /^balancer\s+(http:\/\/\S+)/m.exec(out)![1];
  const printed = [...out.matchAll(/^(parley\d+)\s+(http:\/\/\S+)\s+pid (\d+)/gm)].map((m) => ({ id: m[1], url: m[2], pid: Number(m[3]) }));
  return { child, output: () => out, balancer, instances: printed, exited };
}

describe('npm run cluster (node dist/scripts/cluster.js)', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-cli-'));
  });
  afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('serves through the printed balancer URL, and SIGTERM drains and stops every process it started', async () => {
    const run = await launch(dataDir, 2);
    expect(run.instances.map((i) => i.id)).toEqual(['parley1', 'parley2']);
    for (const i of run.instances) expect(await httpStatus(`${i.url}/readyz`)).toBe(200);
    const started = descendants(run.child.pid!);
    // The supervisor, redis-server, two instances and HAProxy.
    expect(started.size).toBeGreaterThanOrEqual(5);
    for (const i of run.instances) expect(started.has(i.pid)).toBe(true);

    const a = await connectSession(run.balancer, 'alice');
    const b = await connectSession(run.balancer, 'bob');
    expect(a.session.instanceId).not.toBe(b.session.instanceId);
    for (const c of [a, b]) await ok(c.socket, 'room:join', { room: 'cli' });
    const toBob = waitFor<Message>(b.socket, 'message');
    const { message } = await ok(a.socket, 'message:send', { room: 'cli', text: 'kept', clientId: 'k1' });
    expect(await toBob).toEqual(message);

    run.child.kill('SIGTERM');
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(alive(started)).toEqual([]);
    expect(run.output()).toMatch(/stopped\./);
    // The instances drained (SIGTERM, exit through close), they were not killed.
    for (const i of run.instances) {
      const log = fs.readFileSync(path.join(dataDir, 'logs', `${i.id}.log`), 'utf8');
      expect(log).toMatch(/"signal":"SIGTERM","msg":"stopping"/);
      expect(log).toMatch(/"msg":"closed"/);
    }
  });

  it('keeps the Redis data for the next run, and stops everything when the launcher itself is killed', async () => {
    const first = await launch(dataDir, 1);
    const writer = await connectSession(first.balancer, 'writer');
    await ok(writer.socket, 'room:join', { room: 'kept' });
    const { message } = await ok(writer.socket, 'message:send', { room: 'kept', text: 'from the first run', clientId: 'r1' });
    writer.socket.disconnect();
    first.child.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);

    const second = await launch(dataDir, 1);
    const reader = await connectSession(second.balancer, 'reader');
    const join = await ok(reader.socket, 'room:join', { room: 'kept' });
    expect(join.messages).toEqual([message]);

    // As when `npm run` is killed: no signal is passed on, the supervisor sees its parent go.
    const started = descendants(second.child.pid!);
    second.child.kill('SIGKILL');
    await second.exited;
    await pollUntil('every process of the cluster to end', async () => alive(started).length === 0, { timeoutMs: 30_000 });
  });

  it('runs on a Redis Cluster it starts itself (--redis-shards 3 --redis-replicas 1), and SIGTERM stops every process of it', async () => {
    // A cluster's bus is sharded whatever TEST_REDIS_PUBSUB says.
    const run = await launch(dataDir, 2, ['--redis-shards', '3', '--redis-replicas', '1'], { REDIS_PUBSUB: 'sharded' });
    const nodes = [...run.output().matchAll(/^redis\s+redis:\/\/\S+\s+pid (\d+)\s+(master of slots \S+|replica of \d+)$/gm)];
    expect(nodes.map((m) => m[2].split(' ')[0]).sort()).toEqual(['master', 'master', 'master', 'replica', 'replica', 'replica']);
    const started = descendants(run.child.pid!);
    // The supervisor, six redis-server nodes, two instances and HAProxy.
    expect(started.size).toBeGreaterThanOrEqual(10);
    for (const [, pid] of nodes) expect(started.has(Number(pid))).toBe(true);

    const a = await connectSession(run.balancer, 'alice');
    const b = await connectSession(run.balancer, 'bob');
    expect(a.session.instanceId).not.toBe(b.session.instanceId);
    for (const c of [a, b]) await ok(c.socket, 'room:join', { room: 'sharded' });
    const toBob = waitFor<Message>(b.socket, 'message');
    const { message } = await ok(a.socket, 'message:send', { room: 'sharded', text: 'over the cluster', clientId: 'k1' });
    expect(await toBob).toEqual(message);

    run.child.kill('SIGTERM');
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(alive(started)).toEqual([]);
    expect(fs.existsSync(path.join(dataDir, 'redis-cluster', 'cluster.json'))).toBe(true);
  });
});
