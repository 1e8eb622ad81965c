/**
 * The connections of an instance to a Redis Cluster, through node-redis's
 * cluster client (`createCluster`): one cluster client for commands (a
 * connection to every master) and one for sharded subscriptions (a
 * connection to each master that holds some), and the following of the
 * cluster's topology when a master fails over.
 *
 * What node-redis 4.7 leaves to its user, measured here:
 * - It re-reads the slots only when a node answers MOVED or ASK, or ends a
 *   sharded subscription (SUNSUBSCRIBE, when a slot moves during
 *   resharding). A master that dies sends neither: its connection
 *   reconnects to the dead address for ever, so every command and
 *   subscription of its slots fails after its replica took over.
 * - A sharded-subscription connection that reconnects subscribes to all its
 *   channels again in one SSUBSCRIBE, which a cluster refuses (CROSSSLOT)
 *   when they are in several slots (MOVED, if the node came back as a
 *   replica): the subscriptions are gone, and the connection never says it
 *   is ready again.
 *
 * So this module probes the masters itself and, when the cluster names other
 * masters than a cluster client knows, replaces that client with a new one
 * connected to them; and it replaces the subscription client whenever one of
 * its connections comes back after a drop or fails to subscribe again (an
 * error reply). After a subscription client is
 * replaced the bus subscribes to every channel again. Everything it touches
 * is node-redis's public surface: `createCluster`, the cluster client's
 * `masters`, `shards`, `slots` and `nodeClient()`, a master's
 * `pubSubClient`, the node clients' events and `clusterSlots()`,
 * `clusterInfo()` and `time()`. test/cluster/redis-failover.test.ts fails if
 * following a failover stops working.
 */
import calculateSlot from 'cluster-key-slot';
import { EventEmitter } from 'node:events';
import { createClient, createCluster, ErrorReply, type RedisClientOptions, type RedisClusterType } from 'redis';
import type { Logger } from '../logger';
import { clientOptions, quitOrDrop, watchConnection, type ConnectionSettings, type RedisClient, type Topology, type TopologyEvents } from './topology';

type Role = 'command' | 'subscriber';

/** One cluster client; `retired` once replaced or closed (its connections stop reconnecting then). */
interface Link {
  cluster: RedisClusterType;
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

/** Whether a cluster client routes every slot range to the master the cluster names for it. */
function routesAs(cluster: RedisClusterType, slots: Slots): boolean {
  const known = cluster.slots;
  return slots.every(({ from, to, master }) => {
    const address = `${master.ip}:${master.port}`;
    return known[from]?.master.address === address && known[to]?.master.address === address;
  });
}

/** Rejects after `ms`: for what node-redis may wait on for ever (a node that does not answer). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** One Redis Cluster, reached through seed nodes (`REDIS_CLUSTER_NODES`). */
export class RedisClusterTopology extends EventEmitter<TopologyEvents> implements Topology {
  private readonly links: Record<Role, Link>;
  private readonly log: Logger;
  private readonly watched = new WeakSet<object>();
  private following?: Promise<void>;
  /** A replacement under way, per client: one at a time, the next waits for it. */
  private readonly replacing: Partial<Record<Role, Promise<void>>> = {};
  private closed = false;

  constructor(
    private readonly seeds: string[],
    private readonly settings: ConnectionSettings,
  ) {
    super();
    this.log = settings.logger.child({ redis: 'cluster' });
    this.links = { command: this.newLink('command', []), subscriber: this.newLink('subscriber', []) };
  }

  get command(): RedisClusterType {
    return this.links.command.cluster;
  }

  get subscriber(): RedisClusterType {
    return this.links.subscriber.cluster;
  }

  async connect(): Promise<void> {
    for (let attempt = 1; !this.closed; attempt++) {
      const { command, subscriber } = this.links;
      try {
        await Promise.all([this.open(command), this.open(subscriber)]);
        this.watchNodes();
        this.emit('change');
        return;
      } catch (err) {
        if (attempt === 1 || attempt % 10 === 0) this.log.warn({ err: (err as Error).message }, 'cannot reach the redis cluster yet; retrying');
        // A master that does not answer keeps its connection trying: start again from the seeds.
        this.retire(command);
        this.retire(subscriber);
        if (this.closed) return;
        this.links.command = this.newLink('command', []);
        this.links.subscriber = this.newLink('subscriber', []);
        await new Promise((r) => setTimeout(r, this.settings.reconnectStrategy(attempt)));
      }
    }
  }

  commandUp(): boolean {
    const { cluster } = this.links.command;
    return cluster.isOpen && cluster.masters.length > 0 && cluster.masters.every((node) => readyClient(node.client) !== undefined);
  }

  subscriberUp(): boolean {
    const { cluster } = this.links.subscriber;
    this.watchNodes();
    // A connection still being made for a first subscription on a shard is not an outage.
    return (
      cluster.isOpen &&
      cluster.shards.length > 0 &&
      cluster.shards.every(({ master }) => master.pubSubClient === undefined || master.pubSubClient instanceof Promise || master.pubSubClient.isReady)
    );
  }

  async probe(): Promise<Date> {
    const { cluster } = this.links.command;
    this.watchNodes();
    if (cluster.masters.length === 0) throw new Error('no master of the cluster is known');
    const times = await Promise.all(
      cluster.masters.map(async (node, i) => {
        const client = await cluster.nodeClient(node);
        const [time, info, slots] = await Promise.all([client.time(), client.clusterInfo(), i === 0 ? client.clusterSlots() : undefined]);
        // A master that answers while the cluster is down still refuses every key (CLUSTERDOWN).
        if (info.state !== 'ok') throw new Error(`cluster_state:${info.state} on ${node.address}`);
        // A failover, or a master back as a replica: the clients route by an old map.
        if (slots && !(routesAs(cluster, slots) && routesAs(this.links.subscriber.cluster, slots))) void this.follow();
        return time;
      }),
    );
    return times[0];
  }

  async clientFor(key: string): Promise<RedisClient> {
    const { cluster } = this.links.command;
    const shard = cluster.slots[calculateSlot(key)];
    if (!shard) throw new Error('the cluster\'s slots are not known yet');
    return cluster.nodeClient(shard.master);
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
    const { command, subscriber } = this.links;
    command.retired = subscriber.retired = true;
    await Promise.all([quitOrDrop(command.cluster, this.settings.connectTimeoutMs), quitOrDrop(subscriber.cluster, this.settings.connectTimeoutMs)]);
  }

  async abandon(): Promise<void> {
    this.closed = true;
    this.retire(this.links.command);
    this.retire(this.links.subscriber);
  }

  /**
   * A new cluster client, seeded with `masters` (`host:port`, the nodes known
   * to serve now) and the configured seeds; its connections give up
   * reconnecting once it is retired.
   */
  private newLink(role: Role, masters: string[]): Link {
    const link = { retired: false } as Link;
    const { tls, ...credentials } = seedSecurity(this.seeds[0]);
    const options = clientOptions(this.settings, role);
    const rootNodes: RedisClientOptions[] = [
      ...masters.map((address) => {
        const at = address.lastIndexOf(':');
        return { socket: { host: address.slice(0, at), port: Number(address.slice(at + 1)) } };
      }),
      ...this.seeds.map((url) => ({ url })),
    ];
    link.cluster = createCluster({
      rootNodes,
      defaults: {
        ...options,
        ...credentials,
        socket: {
          ...options.socket,
          ...(tls ? { tls: true as const } : {}),
          reconnectStrategy: (retries: number) => (link.retired ? new Error('replaced') : this.settings.reconnectStrategy(retries)),
        },
      },
      // Subscriptions connect only to the masters that hold some.
      minimizeConnections: role === 'subscriber',
    }) as RedisClusterType;
    // Every node's errors come here too; each connection is also watched (and logged) on its own.
    link.cluster.on('error', (err: Error) => this.log.debug({ err: err.message, link: role }, 'redis cluster error'));
    link.cluster.on('sharded-shannel-moved-error', (err: Error, channel: string) =>
      this.log.warn({ err: err.message, channel }, 'a sharded subscription could not follow its slot; made again with the next subscription client'),
    );
    return link;
  }

  /** Connects a cluster client, within a bound: a master that does not answer makes node-redis wait for ever. */
  private open(link: Link): Promise<void> {
    return within(link.cluster.connect(), 4 * this.settings.connectTimeoutMs, 'connecting to the redis cluster');
  }

  private retire(link: Link): void {
    link.retired = true;
    link.cluster.disconnect().catch(() => {});
  }

  /** Watches the connections that appeared since the last look (node-redis makes them lazily). */
  private watchNodes(): void {
    const watch = (link: Link, client: MaybeClient, role: Role, address: string) => {
      if (client === undefined || this.watched.has(client)) return;
      this.watched.add(client);
      if (client instanceof Promise) {
        client.then((c) => watch(link, c, role, address), () => {});
        return;
      }
      const log = this.settings.logger.child({ redis: role, node: address });
      const current = () => this.links[role] === link && !link.retired;
      // node-redis's own resubscription after a reconnect cannot be trusted on a cluster (see above).
      const renew = (why: string) => void this.replace('subscriber', why).catch(() => {});
      watchConnection(client, role, this, log, current, () => renew('a subscription connection came back'));
      if (role === 'subscriber') {
        client.on('error', (err: unknown) => {
          if (err instanceof ErrorReply && current()) renew(`a subscription connection could not subscribe again (${err.message})`);
        });
      }
    };
    const { command, subscriber } = this.links;
    for (const node of command.cluster.masters) watch(command, node.client, 'command', node.address);
    for (const { master } of subscriber.cluster.shards) watch(subscriber, master.pubSubClient, 'subscriber', master.address);
  }

  private async followNow(key?: string): Promise<void> {
    // A slot that moved (resharding): one command through the cluster client
    // for that key gets the MOVED, and node-redis re-reads the slots itself.
    if (key) await this.links.command.cluster.exists(key).catch(() => {});
    const slots = await this.readSlots();
    if (!slots) return;
    if (!routesAs(this.links.command.cluster, slots)) await this.replace('command', 'the cluster\'s masters changed (a failover)', slots);
    if (!routesAs(this.links.subscriber.cluster, slots)) await this.replace('subscriber', 'the cluster\'s masters changed (a failover)', slots);
  }

  /** The cluster's slots as a node that answers sees them: a known master, else a seed. */
  private async readSlots(): Promise<Slots | undefined> {
    const ms = this.settings.connectTimeoutMs;
    for (const node of this.links.command.cluster.masters) {
      const client = readyClient(node.client);
      if (!client) continue;
      try {
        return await within(client.clusterSlots(), ms, 'CLUSTER SLOTS');
      } catch {
        // Try the next one.
      }
    }
    for (const url of this.seeds) {
      const client = createClient({ url, socket: { connectTimeout: ms, reconnectStrategy: false } });
      client.on('error', () => {});
      try {
        await within(client.connect(), ms, 'connecting');
        return await within(client.clusterSlots(), ms, 'CLUSTER SLOTS');
      } catch {
        // Try the next one.
      } finally {
        client.disconnect().catch(() => {});
      }
    }
    return undefined;
  }

  /**
   * Replaces one cluster client with a new one, connected to the masters the
   * cluster names now (`slots`, else those the command client knows); the
   * old one is dropped. After the subscription client, the bus subscribes
   * again (`subscriber-replaced`).
   */
  private async replace(role: Role, why: string, slots?: Slots): Promise<void> {
    const running = this.replacing[role];
    if (running) return running;
    const done = this.replaceNow(role, why, slots).finally(() => {
      this.replacing[role] = undefined;
    });
    this.replacing[role] = done;
    return done;
  }

  private async replaceNow(role: Role, why: string, slots?: Slots): Promise<void> {
    if (this.closed) return;
    const masters = slots
      ? [...new Set(slots.map(({ master }) => `${master.ip}:${master.port}`))]
      : this.links.command.cluster.masters.map((node) => node.address);
    const next = this.newLink(role, masters);
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
    const old = this.links[role];
    this.links[role] = next;
    this.retire(old);
    this.watchNodes();
    this.log.warn({ link: role, masters }, `${why}: ${role === 'command' ? 'reconnected to the masters' : 'subscribing again'}`);
    if (role === 'subscriber') this.emit('subscriber-replaced');
    this.emit('change');
  }
}
