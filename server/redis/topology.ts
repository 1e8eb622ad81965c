/**
 * What the Redis links stand on: the connections to one Redis server
 * (`SingleRedis`, here) or to a Redis Cluster (cluster-topology.ts), behind
 * one interface, so that the links (connection.ts) and everything above
 * them run the same code on both. Also how a connection's events are
 * watched, the same way for either.
 */
import { EventEmitter } from 'node:events';
import { createClient, type RedisClientOptions, type RedisClientType, type RedisClusterType } from 'redis';
import type { Logger } from '../logger';

/** One connection to one Redis server (a single Redis, or one node of a cluster). */
export type RedisClient = RedisClientType;

/**
 * What the store, presence and limits send their commands to: a client, or
 * a cluster client that routes each command by its first key's slot. Both
 * take the same key commands; what is not about a key (TIME, INFO, PUBSUB)
 * goes to a `RedisClient` from the links.
 */
export type RedisCommands = RedisClientType | RedisClusterType;

/**
 * Sends a raw command whose first key is `firstKey`: on a cluster client,
 * routed to (and redirected with) that key's slot. For commands whose
 * node-redis definition cannot tell their key to the cluster client: EVAL
 * and EVALSHA in node-redis 4.7 read the keys from the wrong argument, so
 * the cluster client sends every script to a random node.
 */
export function sendByKey(target: RedisCommands, firstKey: string, args: string[]): Promise<unknown> {
  return isCluster(target) ? target.sendCommand(firstKey, false, args) : target.sendCommand(args);
}

function isCluster(target: RedisCommands): target is RedisClusterType {
  return 'masters' in target;
}

/** What a topology tells the links. */
export interface TopologyEvents {
  /** A connection went down or came back: readiness may have changed. */
  change: [];
  /** A subscriber connection is back after being down; node-redis has resubscribed what had succeeded on it. */
  'subscriber-restored': [];
  /** The subscriber connections were replaced (the cluster's topology changed): every subscription must be made again. */
  'subscriber-replaced': [];
}

/** The connections of an instance to one Redis or to one Redis Cluster. */
export interface Topology extends EventEmitter<TopologyEvents> {
  /** For commands (history, presence, limits, publishing). */
  readonly command: RedisCommands;
  /** For subscriptions (the bus). */
  readonly subscriber: RedisCommands;
  /** Connects, retrying with backoff until Redis answers. */
  connect(): Promise<void>;
  /** Whether every connection for commands is up (a cluster: the one to each master). */
  commandUp(): boolean;
  /** Whether every connection that holds subscriptions is up. */
  subscriberUp(): boolean;
  /**
   * Asks every master for its clock and whether it serves: resolves with
   * the first one's time; rejects if any does not answer or does not serve
   * (a cluster that is down).
   */
  probe(): Promise<Date>;
  /** The connection to the master that serves `key`'s slot. */
  clientFor(key: string): Promise<RedisClient>;
  /**
   * A master stopped answering, or answered that a slot moved: looks at the
   * cluster's topology and follows it if it changed. Never rejects; does
   * nothing on a single Redis.
   */
  follow(key?: string): Promise<void>;
  /** Quits every connection politely. */
  close(): Promise<void>;
  /** Drops every connection at once. */
  abandon(): Promise<void>;
}

/** How every connection of a topology is made. */
export interface ConnectionSettings {
  /** Shows in CLIENT LIST as `parley-cmd:<name>` / `parley-sub:<name>`. */
  name: string;
  connectTimeoutMs: number;
  /** node-redis's reconnect strategy: the delay before attempt `retries + 1`. */
  reconnectStrategy: (retries: number) => number;
  logger: Logger;
}

/** The options of one connection, for commands or for subscriptions. */
export function clientOptions(settings: ConnectionSettings, role: 'command' | 'subscriber'): RedisClientOptions {
  return {
    name: `${role === 'command' ? 'parley-cmd' : 'parley-sub'}:${settings.name}`,
    // Fail fast while disconnected instead of queueing sends that the client
    // will retry anyway. Subscriptions are queued while down all the same
    // (node-redis does not apply this to them), but are dropped, and
    // repeated by the bus, if a reconnection attempt fails.
    disableOfflineQueue: true,
    socket: { reconnectStrategy: settings.reconnectStrategy, connectTimeout: settings.connectTimeoutMs },
  };
}

/**
 * Tells a topology's listeners of one connection's changes: `change` when it
 * goes down or comes back, and calls `restored` (by default: tells
 * `subscriber-restored`) when a subscriber connection is back after being
 * down. Logs one line per distinct error. `current()` says whether the
 * connection still belongs to the topology (a replaced one's late events
 * are ignored).
 */
export function watchConnection(
  client: RedisClient,
  role: 'command' | 'subscriber',
  topology: EventEmitter<TopologyEvents>,
  log: Logger,
  current: () => boolean = () => true,
  restored: () => void = () => topology.emit('subscriber-restored'),
): void {
  let lastError = '';
  let wasDown = false;
  const down = () => {
    wasDown = true;
    if (current()) topology.emit('change');
  };
  // Without an 'error' listener node-redis would throw from its event emitter and kill the process.
  client.on('error', (err: Error) => {
    // One line per distinct error while reconnecting, not one per attempt.
    if (err.message !== lastError && current()) log.warn({ err: err.message }, 'redis link error');
    lastError = err.message;
    down();
  });
  client.on('end', down);
  client.on('reconnecting', down);
  client.on('ready', () => {
    if (lastError && current()) log.info('redis link is back');
    lastError = '';
    if (!current()) return;
    if (role === 'subscriber' && wasDown) restored();
    wasDown = false;
    topology.emit('change');
  });
}

/** Quits a client politely within `ms`, or drops it. */
export async function quitOrDrop(client: { isOpen: boolean; quit(): Promise<unknown>; disconnect(): Promise<unknown> }, ms: number): Promise<void> {
  if (!client.isOpen) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)));
  try {
    const outcome = await Promise.race([client.quit().then(() => 'quit' as const), late]);
    if (outcome === 'late') await client.disconnect().catch(() => {});
  } catch {
    await client.disconnect().catch(() => {});
  } finally {
    clearTimeout(timer);
  }
}

/** One Redis server: one connection for commands, one for subscriptions. */
export class SingleRedis extends EventEmitter<TopologyEvents> implements Topology {
  readonly command: RedisClientType;
  readonly subscriber: RedisClientType;

  constructor(
    url: string,
    private readonly settings: ConnectionSettings,
  ) {
    super();
    this.command = createClient({ url, ...clientOptions(settings, 'command') }) as RedisClientType;
    this.subscriber = createClient({ url, ...clientOptions(settings, 'subscriber') }) as RedisClientType;
    watchConnection(this.command, 'command', this, settings.logger.child({ redis: 'command' }));
    watchConnection(this.subscriber, 'subscriber', this, settings.logger.child({ redis: 'subscriber' }));
  }

  async connect(): Promise<void> {
    // node-redis retries by itself with the reconnect strategy until Redis answers.
    await Promise.all([this.command.connect(), this.subscriber.connect()]);
  }

  commandUp(): boolean {
    return this.command.isReady;
  }

  subscriberUp(): boolean {
    return this.subscriber.isReady;
  }

  probe(): Promise<Date> {
    return this.command.time();
  }

  async clientFor(): Promise<RedisClient> {
    return this.command;
  }

  async follow(): Promise<void> {}

  async close(): Promise<void> {
    await Promise.all([quitOrDrop(this.command, this.settings.connectTimeoutMs), quitOrDrop(this.subscriber, this.settings.connectTimeoutMs)]);
  }

  async abandon(): Promise<void> {
    await Promise.all([this.command, this.subscriber].map((c) => (c.isOpen ? c.disconnect().catch(() => {}) : undefined)));
  }
}
