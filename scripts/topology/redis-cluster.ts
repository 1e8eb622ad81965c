/**
 * Starts and controls a private Redis Cluster for tests, the local cluster
 * and the load tester: `shards × (1 + replicas)` redis-server processes with
 * `--cluster-enabled yes` on free ports of 127.0.0.1 (each with its own data
 * folder and append-only file), joined with `redis-cli --cluster create`
 * (which wants three masters at least: one or two are joined with CLUSTER
 * ADDSLOTSRANGE, MEET and REPLICATE instead), and ready once every node
 * says `cluster_state:ok`, every node agrees on who serves which slots and
 * every replica is in sync with its master.
 *
 * Like redis.ts it never touches a Redis it did not start: it signals only
 * the processes it spawned, and talks only to their ports.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, pollUntil } from './instance';
import { command, startRedis, type RedisServer, type StartRedisOptions } from './redis';

/** Hash slots of every Redis Cluster. */
export const CLUSTER_SLOTS = 16384;

export interface StartRedisClusterOptions {
  /** Masters, each serving an equal share of the slots. @default 3 */
  shards?: number;
  /** Replicas of each master. @default 0 */
  replicas?: number;
  /**
   * Data folder: one sub-folder per node. A folder that holds a cluster of
   * the same shape from an earlier run, whose ports are free, is started
   * again with its data; anything else in it is replaced by a new cluster.
   * @default a new temporary folder, removed by `destroy()`
   */
  dir?: string;
  /**
   * `cluster-node-timeout`: how long a master may be unreachable before the
   * others take it for failed and its replica takes over. Redis's default
   * is 15 s; tests pass a second or two.
   * @default 5000
   */
  nodeTimeoutMs?: number;
  /** Append-only file on every node. @default true */
  appendonly?: boolean;
  appendfsync?: StartRedisOptions['appendfsync'];
  /** redis-server executable. @default "redis-server" from PATH */
  bin?: string;
  /** redis-cli executable, for `--cluster create`. @default "redis-cli" from PATH */
  cli?: string;
  /** Extra redis-server arguments for every node. @default [] */
  args?: string[];
  /** How long to wait for the cluster to be healthy. @default 30000 */
  startTimeoutMs?: number;
}

/** One node as the cluster sees it now. */
export interface ClusterNodeRole {
  server: RedisServer;
  /** Redis's node id. */
  id: string;
  role: 'master' | 'replica';
  /** Slot ranges it serves as master, `[from, to]` inclusive. */
  slots: Array<[number, number]>;
  /** A replica's master (its node id). */
  masterId?: string;
}

export interface RedisClusterServer {
  readonly shards: number;
  readonly replicas: number;
  /** Every node, in the order they were started (a node's pid changes when it restarts). */
  readonly nodes: RedisServer[];
  /** `redis://127.0.0.1:<port>` of every node: the seed list for `REDIS_CLUSTER_NODES`. */
  readonly urls: string[];
  readonly dir: string;
  /** Whether the data of an earlier run was started again. */
  readonly reused: boolean;
  /** Each running node's role and slots, as the running nodes see them. */
  roles(): Promise<ClusterNodeRole[]>;
  /** The node serving `slot` as master now. */
  masterOf(slot: number): Promise<RedisServer>;
  /**
   * Resolves once every running node says `cluster_state:ok` with every slot
   * served, they all agree on the masters, and every running replica is in
   * sync with its master.
   */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** SIGTERM to every node (each fsyncs), waiting for them to exit. Idempotent. */
  stop(): Promise<void>;
  /** Stops, and removes the data folder when it was a temporary one made here. */
  destroy(): Promise<void>;
}

/** What the data folder remembers of the cluster in it, to start it again on the same ports. */
interface Layout {
  shards: number;
  replicas: number;
  nodes: Array<{ port: number; busPort: number }>;
}

const LAYOUT_FILE = 'cluster.json';

/**
 * Starts a Redis Cluster and resolves once it is healthy. On any failure it
 * stops what it started and rejects.
 *
 * @example
 * const cluster = await startRedisCluster({ shards: 3, replicas: 1 });
 * // ... REDIS_CLUSTER_NODES=cluster.urls.join(',') ...
 * await (await cluster.masterOf(slot)).kill();
 * await cluster.destroy();
 */
export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisClusterServer> {
  const shards = options.shards ?? 3;
  const replicas = options.replicas ?? 0;
  if (!Number.isInteger(shards) || shards < 1) throw new Error(`shards must be a whole number from 1 (got ${shards})`);
  if (!Number.isInteger(replicas) || replicas < 0) throw new Error(`replicas must be a whole number from 0 (got ${replicas})`);
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'parley-redis-cluster-'));
  fs.mkdirSync(dir, { recursive: true });
  const total = shards * (1 + replicas);
  const timeoutMs = options.startTimeoutMs ?? 30_000;

  const nodes: RedisServer[] = [];
  const startNode = (i: number, port: number, busPort: number) =>
    startRedis({
      dir: path.join(dir, `node-${i + 1}`),
      port,
      appendonly: options.appendonly ?? true,
      appendfsync: options.appendfsync,
      bin: options.bin,
      args: [
        '--cluster-enabled', 'yes',
        // Relative to the node's folder: redis-server works in its --dir.
        '--cluster-config-file', 'nodes.conf',
        '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 5000),
        // The bus port is given rather than port + 10000, which may be taken or past 65535.
        '--cluster-port', String(busPort),
        // A master otherwise waits 5 s for more replicas before it sends them its data.
        '--repl-diskless-sync-delay', '0',
        ...(options.args ?? []),
      ],
    });
  const stopAll = () => Promise.all(nodes.map((n) => n.stop().catch(() => {})));

  let reused = false;
  try {
    const previous = readLayout(dir, shards, replicas);
    if (previous && (await portsFree(previous))) {
      try {
        for (const [i, { port, busPort }] of previous.nodes.entries()) nodes.push(await startNode(i, port, busPort));
        await waitHealthy(nodes, shards, timeoutMs);
        reused = true;
      } catch {
        // Not the cluster it was (a half-written folder, a node that cannot rejoin): start afresh.
        await stopAll();
        nodes.length = 0;
      }
    }
    if (!reused) {
      for (const entry of fs.readdirSync(dir)) fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
      const layout: Layout = { shards, replicas, nodes: [] };
      for (let i = 0; i < total; i++) {
        const node = await startFresh((port, busPort) => startNode(i, port, busPort));
        nodes.push(node.server);
        layout.nodes.push({ port: node.server.port, busPort: node.busPort });
      }
      if (shards >= 3) await create(options.cli ?? 'redis-cli', nodes, replicas);
      else await join(nodes, layout.nodes.map((n) => n.busPort), shards, timeoutMs);
      await waitHealthy(nodes, shards, timeoutMs);
      fs.writeFileSync(path.join(dir, LAYOUT_FILE), `${JSON.stringify(layout, null, 2)}\n`);
    }
  } catch (err) {
    await stopAll();
    if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopAll().then(() => undefined));
  return {
    shards,
    replicas,
    nodes,
    urls: nodes.map((n) => n.url),
    dir,
    reused,
    roles: () => roles(nodes),
    async masterOf(slot) {
      const found = (await roles(nodes)).find((r) => r.role === 'master' && r.slots.some(([from, to]) => slot >= from && slot <= to));
      if (!found) throw new Error(`no running master serves slot ${slot}`);
      return found.server;
    },
    waitHealthy: (ms = timeoutMs) => waitHealthy(nodes, shards, ms),
    stop,
    async destroy() {
      await stop();
      if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts a node on a free port and a free bus port, trying others when one is taken meanwhile. */
async function startFresh(start: (port: number, busPort: number) => Promise<RedisServer>): Promise<{ server: RedisServer; busPort: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const busPort = await freePort();
    if (port === busPort) continue;
    try {
      return { server: await start(port, busPort), busPort };
    } catch (err) {
      if (attempt >= 5 || !/in use/i.test((err as Error).message)) throw err;
    }
  }
}

function readLayout(dir: string, shards: number, replicas: number): Layout | undefined {
  try {
    const layout = JSON.parse(fs.readFileSync(path.join(dir, LAYOUT_FILE), 'utf8')) as Layout;
    const same = layout.shards === shards && layout.replicas === replicas && layout.nodes.length === shards * (1 + replicas);
    return same ? layout : undefined;
  } catch {
    return undefined;
  }
}

async function portsFree(layout: Layout): Promise<boolean> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  for (const { port, busPort } of layout.nodes) if (!(await free(port)) || !(await free(busPort))) return false;
  return true;
}

/** `redis-cli --cluster create`: assigns the slots to the first masters, the replicas to them, and joins every node. */
function create(cli: string, nodes: RedisServer[], replicas: number): Promise<void> {
  const args = ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'];
  return new Promise((resolve, reject) => {
    const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    child.stderr.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    child.once('error', (err) => reject(new Error(`${cli} could not run: ${err.message}`)));
    child.once('close', (code) => {
      if (code === 0 && /All 16384 slots covered/.test(output)) resolve();
      else reject(new Error(`${cli} --cluster create failed (exit ${code}): ${output.trim().split('\n').slice(-5).join(' | ')}`));
    });
  });
}

/**
 * Makes a cluster of one or two masters by hand: the first `shards` nodes
 * take equal ranges of the slots, every node meets the first, and the rest
 * replicate the masters in turn.
 */
async function join(nodes: RedisServer[], busPorts: number[], shards: number, timeoutMs: number): Promise<void> {
  const must = async (port: number, ...parts: string[]) => {
    const reply = await command(port, parts[0], 5000, ...parts.slice(1));
    if (reply !== '+OK') throw new Error(`${parts.join(' ')} on ${port} answered ${reply}`);
  };
  for (let i = 0; i < shards; i++) {
    const from = Math.floor((i * CLUSTER_SLOTS) / shards);
    const to = Math.floor(((i + 1) * CLUSTER_SLOTS) / shards) - 1;
    await must(nodes[i].port, 'CLUSTER', 'ADDSLOTSRANGE', String(from), String(to));
  }
  for (const [i, node] of nodes.entries()) if (i > 0) await must(nodes[0].port, 'CLUSTER', 'MEET', '127.0.0.1', String(node.port), String(busPorts[i]));
  const ids: string[] = [];
  for (const node of nodes.slice(0, shards)) {
    const reply = await bulk(node.port, 'CLUSTER', 'MYID');
    if (!reply) throw new Error(`CLUSTER MYID on ${node.port} did not answer`);
    ids.push(reply.trim());
  }
  // A node replicates a master it knows of (by id, once their handshake is over).
  await pollUntil(
    'every node of the Redis Cluster to know the masters',
    async () => (await Promise.all(nodes.map((n) => bulk(n.port, 'CLUSTER', 'NODES')))).every((text) => text !== undefined && !text.includes('handshake') && ids.every((id) => text.includes(id))),
    { timeoutMs, intervalMs: 50 },
  );
  for (const [i, node] of nodes.entries()) if (i >= shards) await must(node.port, 'CLUSTER', 'REPLICATE', ids[(i - shards) % shards]);
}

/** The text of a bulk-string reply from the raw RESP helper; undefined on an error or no answer. */
async function bulk(port: number, ...parts: string[]): Promise<string | undefined> {
  const reply = await command(port, parts[0], 1000, ...parts.slice(1));
  if (!reply?.startsWith('$')) return undefined;
  return reply.slice(reply.indexOf('\r\n') + 2);
}

/** One line of CLUSTER NODES. */
interface NodeLine {
  id: string;
  port: number;
  flags: string[];
  masterId?: string;
  slots: Array<[number, number]>;
}

function parseNodes(text: string): NodeLine[] {
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id, address, flags, master, , , , , ...slots] = line.trim().split(' ');
      return {
        id,
        port: Number(/:(\d+)@/.exec(address)?.[1]),
        flags: flags.split(','),
        masterId: master === '-' ? undefined : master,
        // Entries in brackets are slots being migrated: not served yet.
        slots: slots.filter((s) => !s.startsWith('[')).map((s) => {
          const [from, to] = s.split('-').map(Number);
          return [from, to ?? from] as [number, number];
        }),
      };
    });
}

async function roles(nodes: RedisServer[]): Promise<ClusterNodeRole[]> {
  for (const node of nodes.filter((n) => n.running)) {
    const text = await bulk(node.port, 'CLUSTER', 'NODES');
    if (!text) continue;
    const lines = parseNodes(text);
    return nodes
      .filter((n) => n.running)
      .flatMap((server) => {
        const line = lines.find((l) => l.port === server.port);
        if (!line) return [];
        const master = line.flags.includes('master');
        return [{ server, id: line.id, role: master ? 'master' : 'replica', slots: master ? line.slots : [], masterId: line.masterId } as ClusterNodeRole];
      });
  }
  throw new Error('no node of the cluster answers');
}

/** What one node says of the cluster, reduced to what "healthy" needs. */
async function view(port: number): Promise<{ ok: boolean; masters: string; placed: boolean; inSync: boolean } | undefined> {
  const [info, nodesText, replication] = await Promise.all([bulk(port, 'CLUSTER', 'INFO'), bulk(port, 'CLUSTER', 'NODES'), bulk(port, 'INFO', 'replication')]);
  if (!info || !nodesText || !replication) return undefined;
  const ok = /cluster_state:ok/.test(info) && new RegExp(`cluster_slots_ok:${CLUSTER_SLOTS}\\b`).test(info);
  const lines = parseNodes(nodesText);
  // Who serves which slots, in a form two nodes can compare; failed nodes do not count.
  const masters = lines
    .filter((l) => l.flags.includes('master') && l.slots.length > 0 && !l.flags.some((f) => f.startsWith('fail')))
    .map((l) => `${l.port}:${l.slots.map((s) => s.join('-')).join(',')}`)
    .sort()
    .join(' ');
  // Every node serves slots or replicates a master (not yet: a master with none).
  const placed = !lines.some((l) => l.flags.includes('master') && l.slots.length === 0 && !l.flags.some((f) => f.startsWith('fail')));
  const inSync = !/role:slave/.test(replication) || /master_link_status:up/.test(replication);
  return { ok, masters, placed, inSync };
}

async function waitHealthy(nodes: RedisServer[], shards: number, timeoutMs: number): Promise<void> {
  let last = 'no answer yet';
  await pollUntil(
    'the Redis Cluster to be healthy',
    async () => {
      const running = nodes.filter((n) => n.running);
      const views = await Promise.all(running.map((n) => view(n.port)));
      const answered = views.filter((v): v is NonNullable<typeof v> => v !== undefined);
      const agreed = new Set(answered.map((v) => v.masters));
      const healthy =
        answered.length === running.length &&
        answered.every((v) => v.ok && v.placed && v.inSync) &&
        agreed.size === 1 &&
        [...agreed][0].split(' ').length === shards;
      if (!healthy) {
        last = answered.map((v, i) => `${running[i].port}: ${v.ok ? 'ok' : 'not ok'}${v.placed ? '' : ', a master with no slots'}${v.inSync ? '' : ', replica not in sync'}`).join('; ');
      }
      return healthy;
    },
    { timeoutMs, intervalMs: 100 },
  ).catch((err: Error) => {
    throw new Error(`${err.message} (${last})`);
  });
}
