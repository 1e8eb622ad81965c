/**
 * Load test: rooms of members on one or more instances, a steady rate of
 * sends, and what a user would notice: send-ack latency, fan-out latency
 * (send to each member's delivery), deliveries per second, lost and repeated
 * deliveries, and the CPU each instance used.
 *
 *   npm run loadtest -- --instances 2 --rooms 20 --members 25 --rate 200 --duration 20
 *   npm run loadtest -- --memory ...        one in-memory instance (no Redis)
 *   npm run loadtest -- --url http://a,http://b ...   instances already running (LIMITS=off)
 *
 * It warms the servers up first (a cold Node server is much slower than a
 * warmed one) and measures only after. Clients speak the wire protocol over
 * `ws` (see wire.ts) so that the generator stays cheap.
 */
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Message } from '../protocol';
import { startCluster, type Cluster } from '../scripts/topology/cluster';
import { startInstance, type Instance } from '../scripts/topology/instance';
import { WireSocket } from './wire';

const { values: args } = parseArgs({
  options: {
    instances: { type: 'string', default: '2' },
    memory: { type: 'boolean', default: false },
    url: { type: 'string' },
    rooms: { type: 'string', default: '20' },
    members: { type: 'string', default: '25' },
    rate: { type: 'string', default: '200' },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    json: { type: 'string' },
  },
});

const rooms = positive('rooms');
const members = positive('members');
const rate = positive('rate');
const durationS = positive('duration');
const warmupS = Number(args.warmup);

function positive(name: keyof typeof args): number {
  const n = Number(args[name]);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
  return n;
}

interface Stats {
  sent: number;
  acked: number;
  failed: number;
  expected: number;
  delivered: number;
  repeats: number;
  ackMs: number[];
  fanoutMs: number[];
}

const newStats = (): Stats => ({ sent: 0, acked: 0, failed: 0, expected: 0, delivered: 0, repeats: 0, ackMs: [], fanoutMs: [] });

async function main(): Promise<void> {
  let cluster: Cluster | undefined;
  let single: Instance | undefined;
  let urls: string[];
  const env = { LIMITS: 'off', LOG_LEVEL: 'warn' };
  if (args.url) {
    urls = args.url.split(',');
  } else if (args.memory) {
    single = await startInstance({ env, inheritEnv: false });
    urls = [single.url];
  } else {
    cluster = await startCluster({ instances: positive('instances'), balancer: false, inheritEnv: false, env });
    urls = cluster.instances.map((i) => i.url);
  }
  const pids = single ? [single.pid] : (cluster?.instances.map((i) => i.pid) ?? []);
  process.stdout.write(
    `target: ${args.memory ? 'one in-memory instance' : `${urls.length} instance(s)`}; ` +
      `${rooms} rooms x ${members} members, ${rate} msg/s, warm-up ${warmupS} s, measure ${durationS} s\n`,
  );

  try {
    // Members, spread over the instances round-robin; the first of each room sends.
    let stats = newStats();
    const sentAt = new Map<string, number>();
    const sockets: WireSocket[] = [];
    const senders: Array<{ socket: WireSocket; room: string }> = [];
    let n = 0;
    for (let r = 0; r < rooms; r++) {
      const room = `load-${r}`;
      const joins: Promise<void>[] = [];
      for (let m = 0; m < members; m++) {
        const url = urls[n++ % urls.length];
        const name = `u${r}-${m}`;
        joins.push(
          WireSocket.connect(url, { name }).then(async (socket) => {
            sockets.push(socket);
            const seen = new Set<number>();
            socket.onMessage = (msg: Message) => {
              if (seen.has(msg.seq)) {
                stats.repeats++;
                return;
              }
              seen.add(msg.seq);
              const t = sentAt.get(msg.clientId);
              if (t === undefined) return; // from before this phase
              stats.delivered++;
              stats.fanoutMs.push(performance.now() - t);
            };
            const answer = await socket.emit('room:join', { room });
            if (!answer.ok) throw new Error(`join ${room}: ${answer.error.code}`);
            if (m === 0) senders.push({ socket, room });
          }),
        );
      }
      await Promise.all(joins);
    }

    let counter = 0;
    const runPhase = async (seconds: number): Promise<{ stats: Stats; wallS: number; cpu: number[]; genCpuS: number }> => {
      stats = newStats();
      sentAt.clear();
      const cpu0 = pids.map(cpuSeconds);
      const gen0 = process.cpuUsage();
      const t0 = performance.now();
      const pending: Promise<void>[] = [];
      let credit = 0;
      let last = t0;
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          const now = performance.now();
          credit += ((now - last) / 1000) * rate;
          last = now;
          for (; credit >= 1; credit--) {
            const sender = senders[counter % senders.length];
            const clientId = `c${++counter}`;
            const started = performance.now();
            sentAt.set(clientId, started);
            stats.sent++;
            pending.push(
              sender.socket.emit('message:send', { room: sender.room, text: `load ${counter}`, clientId }).then((answer) => {
                if (answer.ok) {
                  stats.acked++;
                  stats.expected += members;
                  stats.ackMs.push(performance.now() - started);
                } else stats.failed++;
              }),
            );
          }
          if (now - t0 >= seconds * 1000) {
            clearInterval(timer);
            resolve();
          }
        }, 5);
      });
      await Promise.all(pending);
      // Give the last deliveries time to land, then count what is missing.
      const deadline = performance.now() + 5000;
      while (stats.delivered < stats.expected && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const wallS = (performance.now() - t0) / 1000;
      const gen = process.cpuUsage(gen0);
      return {
        stats,
        wallS,
        cpu: pids.map((pid, i) => (cpuSeconds(pid) - cpu0[i]) / wallS),
        genCpuS: (gen.user + gen.system) / 1e6 / wallS,
      };
    };

    if (warmupS > 0) await runPhase(warmupS);
    const { stats: s, wallS, cpu, genCpuS } = await runPhase(durationS);
    const result = {
      rooms,
      members,
      rateTarget: rate,
      instances: args.memory ? 'memory' : urls.length,
      sent: s.sent,
      acked: s.acked,
      failed: s.failed,
      sendsPerSec: round(s.acked / durationS),
      deliveriesPerSec: round(s.delivered / durationS),
      lost: s.expected - s.delivered,
      repeats: s.repeats,
      ackMs: percentiles(s.ackMs),
      fanoutMs: percentiles(s.fanoutMs),
      instanceCpu: cpu.map(round),
      generatorCpu: round(genCpuS),
      wallS: round(wallS),
    };
    process.stdout.write(
      `sends/s ${result.sendsPerSec}  deliveries/s ${result.deliveriesPerSec}  lost ${result.lost}  repeats ${result.repeats}  failed ${result.failed}\n` +
        `ack ms     p50 ${result.ackMs.p50}  p95 ${result.ackMs.p95}  p99 ${result.ackMs.p99}  max ${result.ackMs.max}\n` +
        `fan-out ms p50 ${result.fanoutMs.p50}  p95 ${result.fanoutMs.p95}  p99 ${result.fanoutMs.p99}  max ${result.fanoutMs.max}\n` +
        `cpu (cores) instances ${result.instanceCpu.join(' ')}  generator ${result.generatorCpu}\n`,
    );
    if (args.json) fs.writeFileSync(args.json, JSON.stringify(result, null, 2) + '\n');
    for (const socket of sockets) socket.close();
    if (result.lost > 0 || result.failed > 0) process.exitCode = 1;
  } finally {
    await cluster?.stop();
    await single?.stop();
  }
}

/** CPU seconds (user + system) a process has used, from /proc (0 elsewhere). */
function cpuSeconds(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

function percentiles(values: number[]) {
  const v = [...values].sort((a, b) => a - b);
  const at = (q: number) => (v.length ? round(v[Math.min(v.length - 1, Math.floor(q * v.length))]) : 0);
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: v.length ? round(v[v.length - 1]) : 0 };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

main().catch((err) => {
  process.stderr.write(`loadtest: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
