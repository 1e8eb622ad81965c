/**
 * The report: every figure of a run as a named number, the medians over
 * runs, the ratio against the relay beside each, a table for people and a
 * JSON document for machines.
 */
import os from 'node:os';
import type { Options } from './options';
import type { RunResult } from './run';
import { median, round } from './samples';

export type Unit = '' | 'ms' | 'cores' | 'bytes' | '/s';

/** One figure of one run. */
export interface Figure {
  key: string;
  label: string;
  unit: Unit;
  value: number | undefined;
}

/**
 * The run's figures in reading order. Instances are named by position
 * (`instance 1`, ...) so that Parley's and the relay's line up.
 */
export function figures(r: RunResult): Figure[] {
  const out: Figure[] = [];
  const add = (key: string, label: string, value: number | undefined, unit: Unit = '') => out.push({ key, label, unit, value });
  const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
  const c = r.connections;

  add('connections.connected', `connections made (of ${c.attempted})`, c.connected);
  add('connections.failed', 'connections failed', c.attempted - c.connected);
  add('connections.joinFailed', 'joins failed', sum(c.joinFailed));
  add('connections.timeToConnectAllMs', 'time to connect all', c.timeToConnectAllMs, 'ms');
  add('connections.timeToJoinAllMs', 'time to connect and join all', c.timeToJoinAllMs, 'ms');
  add('connections.connectP99Ms', 'connect p99 (per client)', c.connectMs.p99, 'ms');
  add('connections.joinP99Ms', 'join p99 (per client)', c.joinMs.p99, 'ms');
  add('connections.dropped', 'connections dropped during the run', c.dropped);
  Object.keys(c.spread)
    .sort()
    .forEach((id, i) => add(`spread.${i + 1}`, `instance ${i + 1} connections`, c.spread[id]));

  if (r.findMax) {
    const best = r.findMax.best;
    add('findMax.deliveriesPerSec', `highest sustained deliveries/s (p99 <= ${r.findMax.p99LimitMs} ms, none lost)`, best?.deliveriesPerSec, '/s');
    add('findMax.rate', 'at messages/s', best?.rate, '/s');
  }
  const t = r.traffic;
  if (t) {
    add('sends.sent', 'messages sent', t.sent);
    add('sends.acked', 'acked', t.acked);
    add('sends.refused', 'refused', sum(t.refused));
    add('sends.unanswered', 'unanswered', t.unanswered);
    add('deliveries.expected', 'deliveries expected (acked x members)', t.expected);
    add('deliveries.received', 'received', t.received);
    add('deliveries.lost', 'lost', t.lost);
    add('deliveries.repeated', 'repeated', t.repeated);
    add('deliveries.outOfOrder', 'out of order (per sender)', t.outOfOrder);
    add('rates.sendsPerSec', 'messages/s (acked)', t.sendsPerSec, '/s');
    add('rates.deliveriesPerSec', 'deliveries/s', t.deliveriesPerSec, '/s');
    for (const q of ['p50', 'p90', 'p99', 'max'] as const) add(`deliveryMs.${q}`, `delivery latency ${q}`, t.deliveryMs[q], 'ms');
    for (const q of ['p50', 'p90', 'p99', 'max'] as const) add(`ackMs.${q}`, `ack latency ${q}`, t.ackMs[q], 'ms');
  }

  const instanceIds = r.resources.processes.map((p) => p.name).filter((n) => !n.startsWith('redis') && !['balancer', 'generator'].includes(n));
  const nameOf = (name: string) => (instanceIds.includes(name) ? `instance ${instanceIds.indexOf(name) + 1}` : name);
  for (const p of r.resources.processes) {
    const n = nameOf(p.name);
    add(`cpu.${n}`, `CPU ${n}`, p.cpuCores, 'cores');
    add(`rss.${n}`, `memory (RSS) ${n}`, p.rssBytes, 'bytes');
    if (p.heapUsedBytes !== undefined) add(`heapUsed.${n}`, `heap used ${n}`, p.heapUsedBytes, 'bytes');
  }
  for (const [i, m] of (r.redisTraffic.instances ?? []).entries()) {
    const n = `instance ${i + 1}`;
    add(`redisIn.${n}.busBytes`, `from Redis, bus link ${n}`, m.busBytes, 'bytes');
    add(`redisIn.${n}.perRelevant`, `  per broadcast of its rooms ${n}`, m.busBytesPerRelevantBroadcast, 'bytes');
    add(`redisIn.${n}.commandBytes`, `from Redis, command replies ${n}`, m.commandBytes, 'bytes');
    add(`redisIn.${n}.channels`, `channels subscribed ${n}`, m.channels);
    add(`redisIn.${n}.rooms`, `rooms with members on ${n}`, m.roomsWithMembers);
  }
  if ('instances' in r.heap) {
    for (const [i, h] of r.heap.instances.entries()) {
      const n = `instance ${i + 1}`;
      add(`heap.${n}.perConnection`, `heap per connection ${n}${r.heap.source === 'metrics' ? ' (no GC forced)' : ''}`, h.perConnectionBytes, 'bytes');
      add(`heap.${n}.rssPerConnection`, `RSS per connection ${n}`, h.rssPerConnectionBytes, 'bytes');
    }
  }
  return out;
}

/** A figure's medians over runs, per target, and the ratio Parley / relay. */
export interface ComparedFigure {
  key: string;
  label: string;
  unit: Unit;
  parley?: number;
  relay?: number;
  ratio?: number;
  runs: { parley?: Array<number | undefined>; relay?: Array<number | undefined> };
}

export function compare(parley: RunResult[], relay: RunResult[] | undefined): ComparedFigure[] {
  const rows = new Map<string, ComparedFigure>();
  const take = (results: RunResult[], side: 'parley' | 'relay') => {
    results.forEach((result, run) => {
      for (const f of figures(result)) {
        const row = rows.get(f.key) ?? { key: f.key, label: f.label, unit: f.unit, runs: {} };
        rows.set(f.key, row);
        const list = (row.runs[side] ??= new Array(results.length).fill(undefined));
        list[run] = f.value;
      }
    });
  };
  const first = parley.length > 0 ? parley : relay ?? [];
  take(first, first === parley ? 'parley' : 'relay');
  if (relay && first === parley) take(relay, 'relay');
  for (const row of rows.values()) {
    for (const side of ['parley', 'relay'] as const) {
      const values = (row.runs[side] ?? []).filter((v): v is number => v !== undefined);
      if (values.length) row[side] = round(median(values));
    }
    if (row.parley !== undefined && row.relay !== undefined && row.relay !== 0) row.ratio = round(row.parley / row.relay, 3);
  }
  return [...rows.values()];
}

function show(value: number | undefined, unit: Unit): string {
  if (value === undefined) return 'unavailable';
  switch (unit) {
    case 'bytes':
      return Math.abs(value) >= 1 << 20 ? `${round(value / (1 << 20), 1)} MiB` : Math.abs(value) >= 1024 ? `${round(value / 1024, 2)} KiB` : `${Math.round(value)} B`;
    case 'ms':
      return `${value} ms`;
    case 'cores':
      return `${value} cores`;
    default:
      return value.toLocaleString('en-US', { maximumFractionDigits: 2 });
  }
}

/** The table people read: one row per figure; with the relay, its column and the ratio. */
export function table(rows: ComparedFigure[], runs: number): string {
  const sides = (['parley', 'relay'] as const).filter((s) => rows.some((r) => r.runs[s]));
  const head = sides.map((s) => (runs > 1 ? `${s} (median of ${runs})` : s));
  const cells = rows.map((r) => {
    const line = [r.label, ...sides.map((s) => show(r[s], r.unit))];
    if (sides.length === 2) line.push(r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}x`);
    return line;
  });
  const header = ['', ...head, ...(sides.length === 2 ? ['parley / relay'] : [])];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const fmt = (line: string[]) => line.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ').trimEnd();
  return [fmt(header), ...cells.map(fmt)].join('\n');
}

/** Lines below the table: refusals by code, what was unavailable and why, the find-max steps. */
export function notes(results: RunResult[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    const tag = `${r.target} run ${r.run}`;
    const spread = Object.entries(r.connections.spread).map(([id, n]) => `${id} ${n}`).join(', ');
    out.push(`${tag}: ${r.description}; placement ${r.load.placement}; clients per instance: ${spread || 'unknown'}`);
    if (Object.keys(r.connections.connectFailed).length) out.push(`${tag}: connections failed by reason: ${JSON.stringify(r.connections.connectFailed)}`);
    if (Object.keys(r.connections.joinFailed).length) out.push(`${tag}: joins failed by code: ${JSON.stringify(r.connections.joinFailed)}`);
    if (r.traffic && Object.keys(r.traffic.refused).length) out.push(`${tag}: sends refused by code: ${JSON.stringify(r.traffic.refused)}`);
    if (r.traffic && r.traffic.unacked > 0) out.push(`${tag}: ${r.traffic.unacked} deliveries of sends that were not acked`);
    for (const p of r.resources.processes) if (p.source === 'unavailable' || p.note) out.push(`${tag}: ${p.name}: ${p.source === 'unavailable' ? 'CPU/memory unavailable: ' : ''}${p.note ?? ''}`);
    if (r.redisTraffic.unavailable && r.traffic) out.push(`${tag}: traffic from Redis per instance unavailable: ${r.redisTraffic.unavailable}`);
    if ('unavailable' in r.heap && r.profile === 'idle') out.push(`${tag}: heap per connection unavailable: ${r.heap.unavailable}`);
    if (r.findMax?.belowLimit) out.push(`${tag}: find-max: every rate tried was sustained; the highest is above ${r.findMax.steps.at(-1)?.rate} msg/s (raise --max-steps or --rate)`);
    for (const s of r.findMax?.steps ?? []) {
      out.push(`${tag}: find-max ${s.rate} msg/s -> ${s.deliveriesPerSec} deliveries/s, p99 ${s.p99Ms} ms: ${s.sustained ? 'sustained' : `not sustained (${s.why})`}`);
    }
  }
  return out;
}

/** The JSON document written by `--json`. */
export function jsonReport(options: Options, argv: string[], parley: RunResult[], relay: RunResult[] | undefined, problems: string[]) {
  const cpus = os.cpus();
  return {
    tool: 'parley-loadtest',
    version: 1,
    date: new Date().toISOString(),
    command: ['npm', 'run', 'loadtest', '--', ...argv].join(' '),
    machine: { cpus: cpus.length, model: cpus[0]?.model, memoryBytes: os.totalmem(), node: process.version, platform: `${os.platform()} ${os.release()}` },
    options,
    figures: compare(parley, relay),
    results: { parley, relay },
    ok: problems.length === 0,
    problems,
  };
}
