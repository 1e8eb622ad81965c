/**
 * The connections of an instance to a Redis Cluster, through node-redis's
 * cluster client (`createCluster`): one cluster client for commands (a
 * connection to every master) and one for sharded subscriptions (a
 * connection to each master that holds some), and the following of the
 * cluster's topology when a master fails over.
 *
 * node-redis 4.7 re-reads the slots only when a node answers MOVED or ASK,
 * or ends a sharded subscription (SUNSUBSCRIBE, when a slot moves during
 * resharding). A master that dies sends neither: its connection reconnects
 * to the dead address for ever, so every command and subscription of its
 * slots fails after its replica took over. This module therefore watches
 * the masters itself and, when the cluster names other masters than the
 * client knows, replaces both cluster clients with new ones connected to
 * the new masters (the bus then subscribes again). Everything it touches is
 * node-redis's public surface: `createCluster`, the cluster client's
 * `masters`, `shards`, `slots` and `nodeClient()`, a
 * master's `pubSubClient`, the node clients' events and `clusterSlots()`,
 * `clusterInfo()` and `time()`. test/cluster/redis-failover.test.ts fails
 * if following a failover stops working.
 */
import calculateSlot from 'cluster-key-slot';
import { EventEmitter } from 'node:events';
import { createClient, createCluster, type RedisClientOptions, type RedisClusterType } from 'redis';
import type { Logger } from '../logger';
import { clientOptions, quitOrDrop, watchConnection, type ConnectionSettings, type RedisClient, type Topology, type TopologyEvents } from './topology';

/** The two cluster clients of one view of the topology; `retired` once replaced or closed (their connections stop reconnecting). */
interface Pair {
  command: RedisClusterType;
  subscriber: RedisClusterType;
  retired: boolean;
}

type Slots = Awaited<ReturnType<RedisClient['clusterSlots']>>;

/** A node's connection, or the promise of it while it connects (node-redis's `ClientOrPromise`). */
type MaybeClient = RedisClient | Promise<RedisClient> | undefined;

function readyClient(client: MaybeClient): RedisClient | undefined {
  return client !== undefined && !(client instanceof Promise) && client.isReady ? client : undefined;
}

/** Credentials and TLS of the seed URL, for every node's connection (node-redis takes them from `defaults`, not from the seeds). */
function seedSecurity(url: string): Pick<RedisClientOptions, 'username' | 'password'> & { tls: boolean } {
  const u = new URL(url);
  return {
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    tls: u.protocol === 'rediss:',
  };
}

/** One Redis Cluster, reached through seed nodes (`REDIS_CLUSTER_NODES`). */
export class RedisClusterTopology extends EventEmitter<TopologyEvents> implements Topology {
  private pair: Pair;
  private readonly log: Logger;
  private readonly watched = new WeakSet<object>();
  private following?: Promise<void>;
  private closed = false;

  constructor(
    private readonly seeds: string[],
    private readonly settings: ConnectionSettings,
  ) {
    super();
    this.log = settings.logger.child({ redis: 'cluster' });
    this.pair = this.newPair(seeds.map((url) => ({ url })));
  }

  get command(): RedisClusterType {
    return this.pair.command;
  }

  get subscriber(): RedisClusterType {
    return this.pair.subscriber;
  }

  async connect(): Promise<void> {
    for (let attempt = 1; !this.closed; attempt++) {
      const pair = this.pair;
      try {
        await this.open(pair);
        this.watchNodes();
        this.emit('change');
        return;
      } catch (err) {
        if (attempt === 1 || attempt % 10 === 0) this.log.warn({ err: (err as Error).message }, 'cannot reach the redis cluster yet; retrying');
        // A master that does not answer keeps its connection trying: start again from the seeds.
        this.retire(pair);
        if (this.closed) return;
        this.pair = this.newPair(this.seeds.map((url) => ({ url })));
        await new Promise((r) => setTimeout(r, this.settings.reconnectStrategy(attempt)));
      }
    }
  }

  commandUp(): boolean {
    const { command } = this.pair;
    return command.isOpen && command.masters.length > 0 && command.masters.every((node) => readyClient(node.client) !== undefined);
  }

  subscriberUp(): boolean {
    const { subscriber } = this.pair;
    this.watchNodes();
    // A connection still being made for a first subscription on a shard is not an outage.
    return (
      subscriber.isOpen &&
      subscriber.shards.length > 0 &&
      subscriber.shards.every(({ master }) => master.pubSubClient === undefined || master.pubSubClient instanceof Promise || master.pubSubClient.isReady)
    );
  }

  async probe(): Promise<Date> {
    const { command } = this.pair;
    this.watchNodes();
    if (command.masters.length === 0) throw new Error('no master of the cluster is known');
    const times = await Promise.all(
      command.masters.map(async (node) => {
        const client = await command.nodeClient(node);
        const [time, info] = await Promise.all([client.time(), client.clusterInfo()]);
        // A master that answers while the cluster is down still refuses every key (CLUSTERDOWN).
        if (info.state !== 'ok') throw new Error(`cluster_state:${info.state} on ${node.address}`);
        return time;
      }),
    );
    return times[0];
  }

  async clientFor(key: string): Promise<RedisClient> {
    const { command } = this.pair;
    const shard = command.slots[calculateSlot(key)];
    if (!shard) throw new Error('the cluster\'s slots are not known yet');
    return command.nodeClient(shard.master);
  }

  follow(key?: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    return (this.following ??= this.followNow(key)
      .catch((err) => this.log.debug({ err: (err as Error).message }, 'following the cluster\'s topology failed; tried again on the next probe'))
      .finally(() => {
        this.following = undefined;
      }));
  }

  async close(): Promise<void> {
    this.closed = true;
    const pair = this.pair;
    pair.retired = true;
    await Promise.all([quitOrDrop(pair.command, this.settings.connectTimeoutMs), quitOrDrop(pair.subscriber, this.settings.connectTimeoutMs)]);
  }

  async abandon(): Promise<void> {
    this.closed = true;
    this.retire(this.pair);
  }

  /** Two new cluster clients; their connections give up reconnecting once the pair is retired. */
  private newPair(rootNodes: RedisClientOptions[]): Pair {
    const pair = { retired: false } as Pair;
    const { tls, ...credentials } = seedSecurity(this.seeds[0]);
    const make = (role: 'command' | 'subscriber'): RedisClusterType => {
      const options = clientOptions(this.settings, role);
      const cluster = createCluster({
        rootNodes,
        defaults: {
          ...options,
          ...credentials,
          socket: {
            ...options.socket,
            ...(tls ? { tls: true as const } : {}),
            reconnectStrategy: (retries: number) => (pair.retired ? new Error('replaced') : this.settings.reconnectStrategy(retries)),
          },
        },
        // Subscriptions connect only to the masters that hold some.
        minimizeConnections: role === 'subscriber',
      }) as RedisClusterType;
      // Every node's errors come here too; each connection is also watched (and logged) on its own.
      cluster.on('error', (err: Error) => this.log.debug({ err: err.message, link: role }, 'redis cluster error'));
      cluster.on('sharded-shannel-moved-error', (err: Error, channel: string) =>
        this.log.warn({ err: err.message, channel }, 'a sharded subscription could not follow its slot; made again on the next topology change'),
      );
      return cluster;
    };
    pair.command = make('command');
    pair.subscriber = make('subscriber');
    return pair;
  }

  /** Connects both clients of a pair, within a bound: a master that does not answer makes node-redis wait for ever. */
  private async open(pair: Pair): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the cluster\'s nodes did not all answer in time')), 4 * this.settings.connectTimeoutMs);
    });
    try {
      await Promise.race([Promise.all([pair.command.connect(), pair.subscriber.connect()]), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private retire(pair: Pair): void {
    pair.retired = true;
    for (const cluster of [pair.command, pair.subscriber]) cluster.disconnect().catch(() => {});
  }

  /** Watches the connections that appeared since the last look (node-redis makes them lazily). */
  private watchNodes(): void {
    const pair = this.pair;
    const watch = (client: MaybeClient, role: 'command' | 'subscriber', address: string) => {
      if (client === undefined || this.watched.has(client)) return;
      this.watched.add(client);
      if (client instanceof Promise) {
        client.then((c) => watch(c, role, address), () => {});
        return;
      }
      watchConnection(client, role, this, this.settings.logger.child({ redis: role, node: address }), () => this.pair === pair && !pair.retired);
    };
    for (const node of pair.command.masters) watch(node.client, 'command', node.address);
    for (const { master } of pair.subscriber.shards) watch(master.pubSubClient, 'subscriber', master.address);
  }

  private async followNow(key?: string): Promise<void> {
    // A slot that moved (resharding): one command through the cluster client
    // for that key gets the MOVED, and node-redis re-reads the slots itself.
    if (key) await this.pair.command.exists(key).catch(() => {});
    const slots = await this.readSlots();
    if (!slots || this.matches(slots)) return;
    await this.replace(slots);
  }

  /** The cluster's slots as a node that answers sees them: a known master, else a seed. */
  private async readSlots(): Promise<Slots | undefined> {
    const within = <T>(p: Promise<T>) =>
      Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer')), this.settings.connectTimeoutMs).unref())]);
    for (const node of this.pair.command.masters) {
      const client = readyClient(node.client);
      if (!client) continue;
      try {
        return await within(client.clusterSlots());
      } catch {
        // Try the next one.
      }
    }
    for (const url of this.seeds) {
      const client = createClient({ url, socket: { connectTimeout: this.settings.connectTimeoutMs, reconnectStrategy: false } });
      client.on('error', () => {});
      try {
        await within(client.connect());
        return await within(client.clusterSlots());
      } catch {
        // Try the next one.
      } finally {
        client.disconnect().catch(() => {});
      }
    }
    return undefined;
  }

  /** Whether the cluster client routes every slot range to the master the cluster names for it. */
  private matches(slots: Slots): boolean {
    const known = this.pair.command.slots;
    return slots.every(({ from, to, master }) => {
      const address = `${master.ip}:${master.port}`;
      return known[from]?.master.address === address && known[to]?.master.address === address;
    });
  }

  /** New cluster clients, connected to the masters the cluster names now; the old ones are dropped. */
  private async replace(slots: Slots): Promise<void> {
    const masters = [...new Set(slots.map(({ master }) => `${master.ip}:${master.port}`))];
    const next = this.newPair([
      ...slots.map(({ master }) => ({ socket: { host: master.ip, port: master.port } })),
      ...this.seeds.map((url) => ({ url })),
    ]);
    try {
      await this.open(next);
    } catch (err) {
      this.retire(next);
      throw err;
    }
    if (this.closed) {
      this.retire(next);
      return;
    }
    const old = this.pair;
    this.pair = next;
    this.retire(old);
    this.watchNodes();
    this.log.warn({ masters }, 'the redis cluster\'s masters changed (a failover): following them, subscriptions made again');
    this.emit('subscriber-replaced');
    this.emit('change');
  }
}
