/**
 * CPU and memory of each instance, of Redis, of the balancer and of the
 * generator itself, over one stage. From /proc for processes started here;
 * from an instance's /metrics (Parley's Prometheus text) and Redis's INFO
 * otherwise; a figure that none of these gives is reported as unavailable,
 * with why, rather than as zero.
 */
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { RedisProbe } from './redis-probe';
import { round } from './samples';
import type { Target } from './target';

export type Source = 'proc' | 'metrics' | 'info' | 'unavailable';

export interface ProcessFigures {
  /** Instance id, `redis`, `balancer` or `generator`. */
  name: string;
  source: Source;
  /** Cores used on average over the stage (1 = one core busy all along). */
  cpuCores?: number;
  /** Resident memory at the end, and the highest seen (sampled every second). */
  rssBytes?: number;
  peakRssBytes?: number;
  /** V8 heap in use at the end (from /metrics; no GC forced). */
  heapUsedBytes?: number;
  /** Why a figure is missing, or how it was taken. */
  note?: string;
}

interface Reading {
  cpuS?: number;
  rssBytes?: number;
  heapUsedBytes?: number;
  instanceLabel?: string;
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on Linux everywhere in practice). */
const USER_HZ = 100;

/** CPU seconds and RSS of a process, from /proc; undefined when it cannot be read. */
export function procReading(pid: number): Reading | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name, in parentheses, may hold spaces: count fields after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const rss = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { cpuS: (Number(fields[11]) + Number(fields[12])) / USER_HZ, rssBytes: rss ? Number(rss[1]) * 1024 : undefined };
  } catch {
    return undefined;
  }
}

/** Reads Parley's /metrics: process CPU, RSS, heap, and the `instance` label. */
export async function metricsReading(url: string): Promise<Reading | undefined> {
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(3000) });
    if (!res.ok) return undefined;
    const text = await res.text();
    const value = (name: string) => {
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
      return m ? Number(m[1]) : undefined;
    };
    return {
      cpuS: value('process_cpu_seconds_total'),
      rssBytes: value('process_resident_memory_bytes'),
      heapUsedBytes: value('nodejs_heap_size_used_bytes'),
      instanceLabel: /^process_cpu_seconds_total\{[^}]*instance="([^"]*)"/m.exec(text)?.[1],
    };
  } catch {
    return undefined;
  }
}

/** Watches every process of a target from `start()` to `stop()`. */
export class ResourceMonitor {
  private t0 = 0;
  private readonly first = new Map<string, Reading | undefined>();
  private readonly peaks = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private generator0 = process.cpuUsage();
  private redis0?: Record<string, string>;

  constructor(
    private readonly target: Target,
    private readonly redis: RedisProbe | undefined,
  ) {}

  /** The local processes: name -> pid. */
  private pids(): Array<[string, number]> {
    const list: Array<[string, number]> = [];
    for (const i of this.target.instances) if (i.pid) list.push([i.id, i.pid]);
    if (this.target.balancerPid) list.push(['balancer', this.target.balancerPid]);
    if (this.target.redisPid) list.push(['redis', this.target.redisPid]);
    for (const node of this.target.redisNodes ?? []) list.push([node.name, node.pid]);
    list.push(['generator', process.pid]);
    return list;
  }

  async start(): Promise<void> {
    this.t0 = performance.now();
    this.generator0 = process.cpuUsage();
    for (const [name, pid] of this.pids()) this.first.set(name, procReading(pid));
    for (const url of this.target.metricsUrls) this.first.set(`metrics:${url}`, await metricsReading(url));
    this.redis0 = await this.redis?.info();
    this.timer = setInterval(() => {
      for (const [name, pid] of this.pids()) {
        const rss = procReading(pid)?.rssBytes ?? 0;
        if (rss > (this.peaks.get(name) ?? 0)) this.peaks.set(name, rss);
      }
    }, 1000);
    this.timer.unref();
  }

  async stop(): Promise<{ processes: ProcessFigures[]; wallS: number }> {
    clearInterval(this.timer);
    const wallS = (performance.now() - this.t0) / 1000;
    const processes: ProcessFigures[] = [];
    const local = new Map(this.pids());

    // /metrics URLs by the instance they answered for (a URL may be an instance behind a balancer).
    const urlOf = new Map<string, string>();
    for (const url of this.target.metricsUrls) {
      const label = this.first.get(`metrics:${url}`)?.instanceLabel;
      if (label) urlOf.set(label, url);
    }
    const used = new Set<string>();
    const fromMetrics = async (name: string, url: string): Promise<ProcessFigures> => {
      used.add(url);
      const before = this.first.get(`metrics:${url}`);
      const after = await metricsReading(url);
      if (before?.cpuS === undefined || after?.cpuS === undefined) return { name, source: 'unavailable', note: `no /metrics at ${url}` };
      if (before.instanceLabel !== after.instanceLabel) return { name, source: 'unavailable', note: `${url} answered for another instance at the end: a balancer? give the instances' own URLs` };
      return { name, source: 'metrics', cpuCores: round((after.cpuS - before.cpuS) / wallS), rssBytes: after.rssBytes, heapUsedBytes: after.heapUsedBytes };
    };
    for (const instance of this.target.instances) {
      const pid = local.get(instance.id);
      const url = instance.url && this.target.metricsUrls.includes(instance.url) ? instance.url : urlOf.get(instance.id);
      if (pid) {
        // /proc for CPU and RSS; /metrics, where it answers, adds the heap.
        const figures = this.fromProc(instance.id, pid, wallS);
        if (url) {
          used.add(url);
          figures.heapUsedBytes = (await metricsReading(url))?.heapUsedBytes;
        }
        processes.push(figures);
      } else if (url) processes.push(await fromMetrics(instance.id, url));
      else {
        processes.push({
          name: instance.id,
          source: 'unavailable',
          note: this.target.kind === 'relay' ? 'the relay has no /metrics and was not started here' : 'not started here and no --metrics URL answers for it',
        });
      }
    }
    // /metrics of instances no client reached.
    for (const url of this.target.metricsUrls) if (!used.has(url)) processes.push(await fromMetrics(this.first.get(`metrics:${url}`)?.instanceLabel ?? url, url));

    if (this.target.redisNodes) {
      // A Redis Cluster started here: each node from /proc, and all of them together.
      const nodes = this.target.redisNodes.map((node) => this.fromProc(node.name, node.pid, wallS));
      processes.push(...nodes);
      const total = (values: Array<number | undefined>) => (values.every((v) => v !== undefined) ? values.reduce((a, b) => a! + b!, 0) : undefined);
      const cores = total(nodes.map((n) => n.cpuCores));
      processes.push({ name: 'redis (all nodes)', source: 'proc', cpuCores: cores === undefined ? undefined : round(cores), rssBytes: total(nodes.map((n) => n.rssBytes)) });
    } else {
      processes.push(await this.redisFigures(wallS));
    }
    if (this.target.balancerPid) processes.push(this.fromProc('balancer', this.target.balancerPid, wallS));
    const gen = process.cpuUsage(this.generator0);
    processes.push({
      name: 'generator',
      source: 'proc',
      cpuCores: round((gen.user + gen.system) / 1e6 / wallS),
      rssBytes: process.memoryUsage.rss(),
      peakRssBytes: this.peaks.get('generator'),
    });
    return { processes, wallS };
  }

  private fromProc(name: string, pid: number, wallS: number): ProcessFigures {
    const before = this.first.get(name);
    const after = procReading(pid);
    if (before?.cpuS === undefined || after?.cpuS === undefined) return { name, source: 'unavailable', note: `/proc/${pid} unreadable` };
    return {
      name,
      source: 'proc',
      cpuCores: round((after.cpuS - before.cpuS) / wallS),
      rssBytes: after.rssBytes,
      peakRssBytes: Math.max(this.peaks.get(name) ?? 0, after.rssBytes ?? 0) || undefined,
    };
  }

  private async redisFigures(wallS: number): Promise<ProcessFigures> {
    const after = await this.redis?.info();
    if (!this.redis0 || !after) return { name: 'redis', source: 'unavailable', note: this.redis ? 'INFO failed' : 'no --redis-url' };
    const cpu = (i: Record<string, string>) => Number(i.used_cpu_sys) + Number(i.used_cpu_user);
    return {
      name: 'redis',
      source: 'info',
      cpuCores: round((cpu(after) - cpu(this.redis0)) / wallS),
      rssBytes: Number(after.used_memory_rss),
      peakRssBytes: this.target.redisPid ? this.peaks.get('redis') : undefined,
      note: `used_memory ${after.used_memory_human}, ${Math.round((Number(after.total_commands_processed) - Number(this.redis0.total_commands_processed)) / wallS)} commands/s`,
    };
  }
}
