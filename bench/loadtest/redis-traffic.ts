/**
 * How much each instance receives from Redis: the bytes its TCP connections
 * to Redis received, from the kernel's own per-socket counters (`ss -ti`,
 * tcp_info's bytes_received), told apart into the subscriber link (the
 * Socket.IO adapter's broadcasts) and the others (commands' replies) by
 * Redis's CLIENT LIST, which also says how many channels each link is
 * subscribed to. Redis 7.0 keeps no per-client byte counters, and the
 * instances' /proc counts every socket together, so this is what separates
 * the bus traffic of one instance from the rest; it needs the instances and
 * Redis on this host (a cluster started here).
 */
import { execFile } from 'node:child_process';
import type { RedisProbe } from './redis-probe';

/** One TCP connection from a local process to Redis. */
interface Link {
  pid: number;
  localPort: number;
  bytesReceived: number;
}

/** Every established connection to local port `redisPort`, with its owner's pid and bytes received. */
export function readLinks(redisPort: number): Promise<Link[] | string> {
  return new Promise((resolve) => {
    execFile('ss', ['-tinpH', 'state', 'established', `( dport = :${redisPort} )`], { timeout: 5000 }, (err, stdout) => {
      if (err) return resolve(`ss failed: ${err.message.split('\n')[0]}`);
      const links: Link[] = [];
      const lines = stdout.split('\n');
      for (let i = 0; i < lines.length; i++) {
        // A socket's line, then (indented) its tcp_info.
        const head = /^\S+\s+\S+\s+\S+:(\d+)\s+\S+:\d+\s+users:\(\("[^"]*",pid=(\d+)/.exec(lines[i]);
        if (!head) continue;
        const info = /bytes_received:(\d+)/.exec(lines[i + 1] ?? '');
        links.push({ localPort: Number(head[1]), pid: Number(head[2]), bytesReceived: info ? Number(info[1]) : 0 });
      }
      resolve(links);
    });
  });
}

/** What one instance received from Redis during a stage. */
export interface InstanceTraffic {
  instance: string;
  /** Bytes on its subscriber link(s): the broadcasts it was sent. */
  busBytes: number;
  /** Bytes on its other links: replies to its commands (store, presence, publishes). */
  commandBytes: number;
  /** Channels its subscriber link is subscribed to at the end (SUBSCRIBE + PSUBSCRIBE + SSUBSCRIBE). */
  channels: number;
}

export interface TrafficSnapshot {
  links: Map<number, Link>;
}

/** Reads the links of `pids` (instance id by pid); a string says why it cannot. */
export async function snapshot(redisPort: number, pids: Map<number, string>): Promise<TrafficSnapshot | string> {
  const links = await readLinks(redisPort);
  if (typeof links === 'string') return links;
  const mine = links.filter((l) => pids.has(l.pid));
  if (mine.length === 0) return 'no connection from the instances to Redis seen by ss';
  return { links: new Map(mine.map((l) => [l.localPort, l])) };
}

/** Bytes each instance received between two snapshots, split by link kind using CLIENT LIST. */
export async function trafficBetween(
  before: TrafficSnapshot,
  redisPort: number,
  pids: Map<number, string>,
  redis: RedisProbe,
): Promise<InstanceTraffic[] | string> {
  const after = await snapshot(redisPort, pids);
  if (typeof after === 'string') return after;
  const clients = await redis.clients();
  if (clients.length === 0) return 'CLIENT LIST failed';
  const byPort = new Map(clients.map((c) => [Number(c.addr?.slice(c.addr.lastIndexOf(':') + 1)), c]));
  const result = new Map<string, InstanceTraffic>();
  for (const id of pids.values()) result.set(id, { instance: id, busBytes: 0, commandBytes: 0, channels: 0 });
  for (const [port, link] of after.links) {
    const entry = result.get(pids.get(link.pid)!)!;
    const bytes = link.bytesReceived - (before.links.get(port)?.bytesReceived ?? 0);
    const client = byPort.get(port);
    const channels = client ? Number(client.sub ?? 0) + Number(client.psub ?? 0) + Number(client.ssub ?? 0) : 0;
    const subscriber = client !== undefined && (client.flags?.includes('P') || channels > 0);
    if (subscriber) {
      entry.busBytes += bytes;
      entry.channels += channels;
    } else entry.commandBytes += bytes;
  }
  return [...result.values()];
}
