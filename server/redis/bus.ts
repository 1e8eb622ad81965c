/**
 * The broadcast bus between instances, over Redis pub/sub: Parley's Socket.IO
 * adapter. socket.io-adapter's `ClusterAdapter` carries Socket.IO's cluster
 * protocol (broadcasts, `socketsJoin`, `fetchSockets`, `serverSideEmit`);
 * this module is its transport, through node-redis's own promises and
 * events. It owns the (un)subscription of one channel per chat room and the
 * publishing, each with what the cluster protocol leaves to its transport:
 * a join can wait for its room's subscription, a failed (un)subscription is
 * repeated once the link is back, and a publication has the command timeout
 * and never rejects.
 */
import { EventEmitter } from 'node:events';
import type { Namespace } from 'socket.io';
import {
  ClusterAdapter,
  MessageType,
  type BroadcastOptions,
  type ClusterMessage,
  type ClusterResponse,
  type Offset,
  type ServerId,
} from 'socket.io-adapter';
import type { AdapterFactory, Bus, BusEvents, BusKind } from '../backend';
import type { BusPublication } from '../store/types';
import { UnavailableError } from '../errors';
import type { Logger } from '../logger';
import { isChatRoom } from '../sockets';
import type { RedisLinks } from './connection';
import { channels } from './keys';

/** What arrives on a channel (node-redis hands it over as a string). */
type Listener = (message: string) => void;

/** The pub/sub commands of one kind: sharded (SSUBSCRIBE, SPUBLISH; Redis >= 7) or classic (SUBSCRIBE, PUBLISH). */
interface PubSub {
  subscribe(channel: string, listener: Listener): Promise<void>;
  unsubscribe(channel: string, listener: Listener): Promise<void>;
  publish(channel: string, message: string): Promise<number>;
  /** How many clients are subscribed to the channel. */
  subscribers(channel: string): Promise<number>;
}

function pubSub(links: RedisLinks, kind: BusKind): PubSub {
  const sharded = kind === 'sharded';
  // The links' clients are read at every call: on a cluster they are replaced when its masters change.
  return {
    subscribe: (channel, listener) => (sharded ? links.subscriber.sSubscribe(channel, listener) : links.subscriber.subscribe(channel, listener)),
    unsubscribe: (channel, listener) => (sharded ? links.subscriber.sUnsubscribe(channel, listener) : links.subscriber.unsubscribe(channel, listener)),
    publish: (channel, message) => (sharded ? links.command.sPublish(channel, message) : links.command.publish(channel, message)),
    // Counted where the channel lives: on a cluster, its slot's master.
    subscribers: async (channel) => {
      const client = await links.clientFor(channel);
      return (await (sharded ? client.pubSubShardNumSub(channel) : client.pubSubNumSub(channel)))[channel] ?? 0;
    },
  };
}

interface Subscription {
  /** Subscribed (true) or unsubscribed (false) by the last call. */
  wanted: boolean;
  /** The last call failed: repeat it when the link is back. */
  failed: boolean;
  /** Settles with the last call; rejects if it failed. */
  settled: Promise<void>;
}

/**
 * The state of each channel's subscription, as this instance last asked for
 * it. node-redis resubscribes by itself, after a reconnection, what had
 * succeeded; a call made while the link was down fails when a reconnection
 * attempt does, and is left to its caller: here, to `repair`.
 */
class Subscriptions {
  private readonly entries = new Map<string, Subscription>();

  constructor(
    private readonly pubsub: PubSub,
    private readonly listener: Listener,
    private readonly log: Logger,
  ) {}

  get(channel: string): Subscription | undefined {
    return this.entries.get(channel);
  }

  /** (Un)subscribes a channel, after the call still running on it if any; never rejects. */
  set(channel: string, wanted: boolean): Subscription {
    const previous = this.entries.get(channel);
    if (previous && previous.wanted === wanted && !previous.failed) return previous;
    const entry: Subscription = { wanted, failed: false, settled: Promise.resolve() };
    const call = async () => (wanted ? this.pubsub.subscribe(channel, this.listener) : this.pubsub.unsubscribe(channel, this.listener));
    // One call at a time per channel: node-redis keeps its listeners by
    // channel, and an unsubscribe answered after a later subscribe would
    // take that subscription's listener away.
    entry.settled = (previous ? previous.settled.then(call, call) : call()).then(
      () => {
        if (!wanted && this.entries.get(channel) === entry) this.entries.delete(channel);
      },
      (err: Error) => {
        entry.failed = true;
        this.log.warn({ channel, err: err.message }, wanted ? 'subscription failed; repeated when redis is back' : 'unsubscription failed; repeated when redis is back');
        throw err;
      },
    );
    entry.settled.catch(() => {});
    this.entries.set(channel, entry);
    return entry;
  }

  /** Repeats every call that failed; resolves with how many, once they have settled. */
  async repair(): Promise<number> {
    const failed = [...this.entries].filter(([, entry]) => entry.failed);
    const repeated = failed.map(([channel, entry]) => this.set(channel, entry.wanted).settled.catch(() => {}));
    await Promise.all(repeated);
    return repeated.length;
  }

  /**
   * Makes every wanted subscription again, on subscriber links that replaced
   * the ones they were made on (which hold none of them now, so nothing
   * waits for calls still running there); resolves with how many, once they
   * have settled. A failure is repaired as any other.
   */
  async renew(): Promise<number> {
    const wanted = [...this.entries].filter(([, entry]) => entry.wanted).map(([channel]) => channel);
    this.entries.clear();
    await Promise.all(wanted.map((channel) => this.set(channel, true).settled.catch(() => {})));
    return wanted.length;
  }
}

/**
 * The bus of one instance: the Socket.IO adapter factory, and what the rest
 * of the instance asks of it (see `Bus`).
 */
export class RedisBus extends EventEmitter<BusEvents> implements Bus {
  readonly adapter: AdapterFactory;
  private readonly pubsub: PubSub;
  private readonly subscriptions: Subscriptions;
  private readonly log: Logger;
  /** The adapter that receives what arrives on the channels (Parley has one namespace). */
  private receiver?: BusAdapter;
  /** The last publication failed: the next failure logs nothing, the next success clears it. */
  private publishFailing = false;

  constructor(
    private readonly links: RedisLinks,
    logger: Logger,
    readonly kind: BusKind,
  ) {
    super();
    this.log = logger.child({ component: 'bus' });
    this.pubsub = pubSub(links, kind);
    this.subscriptions = new Subscriptions(this.pubsub, (message) => this.receiver?.receive(message), this.log);
    this.adapter = adapterFactory(this);
    links.on('subscriber-restored', () => {
      this.restore(() => this.subscriptions.repair()).catch((err) => this.log.error({ err }, 'restoring the bus failed'));
    });
    links.on('subscriber-replaced', () => {
      this.restore(() => this.subscriptions.renew()).catch((err) => this.log.error({ err }, 'restoring the bus failed'));
    });
  }

  async subscribed(room: string): Promise<void> {
    if (!isChatRoom(room)) return;
    const channel = channels.room(room);
    let entry = this.subscriptions.get(channel);
    if (!entry) return;
    // node-redis queues (un)subscriptions while disconnected, even with
    // disableOfflineQueue: do not wait for a link that is down, nor longer
    // than any other command.
    if (!this.links.subscriberReady()) throw new UnavailableError('cannot subscribe to the room right now; retry');
    if (entry.failed) entry = this.subscriptions.set(channel, entry.wanted);
    const { settled } = entry;
    await this.links.run('subscribe', () => settled);
  }

  publication(room: string, event: string): BusPublication | undefined {
    if (!isChatRoom(room) || !this.receiver) return undefined;
    return { channel: channels.room(room), sharded: this.kind === 'sharded', ...this.receiver.wrapping(room, event) };
  }

  /** For the adapter: becomes the receiver of every channel's messages. */
  attach(adapter: BusAdapter): void {
    this.receiver = adapter;
  }

  /** For the adapter: (un)subscribes a channel. */
  subscribe(channel: string, wanted: boolean): void {
    this.subscriptions.set(channel, wanted);
  }

  /**
   * For the adapter: publishes; settles within the command timeout and never
   * rejects. A lost broadcast is made up for by the catch-up after the link
   * comes back, and by the clients' seq gap filling.
   */
  publish(channel: string, payload: string): Promise<void> {
    return this.links.run('publish', () => this.pubsub.publish(channel, payload)).then(this.published, this.publishFailed);
  }

  /** For the adapter: how many instances listen on the bus. */
  instances(): Promise<number> {
    return this.links.run('bus instances', () => this.pubsub.subscribers(channels.all));
  }

  /** For the adapter: an event broadcast to one room was handed to this instance's sockets. */
  delivered(room: string, data: unknown): void {
    if (Array.isArray(data) && typeof data[0] === 'string') this.emit('delivered', room, data[0], data[1]);
  }

  /** For the adapter: a message from the bus could not be read. */
  dropped(err: unknown): void {
    this.log.debug({ err: (err as Error)?.message }, 'dropped a bad bus message');
  }

  private readonly published = () => {
    this.publishFailing = false;
  };

  private readonly publishFailed = (err: Error) => {
    if (!this.publishFailing) this.log.warn({ err: err.message }, 'broadcast to other instances failed');
    this.publishFailing = true;
  };

  /**
   * After the subscriber links came back (or were replaced): repeats what
   * had failed (or makes every subscription again), then tells `restored`.
   */
  private async restore(resubscribe: () => Promise<number>): Promise<void> {
    const subscribed = await resubscribe();
    // Catch-up reads the store: wait for the command link too, which may come back later.
    await this.links.whenReady();
    this.log.info({ subscribed }, 'bus link restored');
    this.emit('restored');
  }
}

/** Socket.IO calls the factory with `new`: a function, not an arrow. */
function adapterFactory(bus: RedisBus): AdapterFactory {
  return function adapter(nsp: Namespace) {
    return new BusAdapter(nsp, bus);
  };
}

/** A publication's offset serves Socket.IO's connection state recovery, which Parley does not use. */
const noOffset = (): Offset => '';

/**
 * The adapter of the main namespace. Each chat room with sockets here has its
 * channel subscribed; a broadcast to one chat room goes on that room's
 * channel, everything else on the channel every instance hears. Messages go
 * as JSON: Parley's events carry no binary data.
 */
class BusAdapter extends ClusterAdapter {
  constructor(
    nsp: Namespace,
    private readonly bus: RedisBus,
  ) {
    super(nsp);
    // Channels are named after rooms alone: a second namespace would share them.
    if (nsp.name !== '/') throw new Error(`the Redis bus serves the main namespace only, not ${nsp.name}`);
    bus.attach(this);
    bus.subscribe(channels.all, true);
    bus.subscribe(channels.replies(this.uid), true);
    // `user:<id>` rooms and sockets' own rooms get no channel: nothing is ever sent to them from another instance.
    this.on('create-room', (room: string) => {
      if (isChatRoom(room)) bus.subscribe(channels.room(room), true);
    });
    this.on('delete-room', (room: string) => {
      if (isChatRoom(room)) bus.subscribe(channels.room(room), false);
    });
  }

  /** Every broadcast from this instance, to its own sockets and (unless `local`) to the others. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override broadcast(packet: any, opts: BroadcastOptions): Promise<void> {
    const sent = super.broadcast(packet, opts);
    if (opts.rooms.size === 1) this.bus.delivered(opts.rooms.values().next().value as string, packet.data);
    return sent;
  }

  /**
   * The text of the cluster message that `io.to(room).emit(event, x)` would
   * publish, split where `x`'s JSON goes: what the other instances receive
   * from a publication made by the store (`RedisBus.publication`).
   */
  wrapping(room: string, event: string): { before: string; after: string } {
    // The payload is the text's last value: `null` holds its place. Packet
    // type 2 is Socket.IO's EVENT.
    const text = JSON.stringify({
      uid: this.uid,
      nsp: this.nsp.name,
      type: MessageType.BROADCAST,
      data: { opts: { rooms: [room], except: [], flags: {} }, packet: { type: 2, nsp: this.nsp.name, data: [event, null] } },
    });
    const tail = 'null]}}}';
    return { before: text.slice(0, -tail.length), after: tail.slice('null'.length) };
  }

  /** What arrived on a channel. A malformed message is dropped with a debug line, never thrown into node-redis. */
  receive(raw: string): void {
    try {
      const message = JSON.parse(raw) as ClusterMessage;
      if (typeof message?.type !== 'number' || typeof message.uid !== 'string') throw new Error('not a cluster message');
      // Responses arrive here too: `onMessage` hands them to `onResponse`.
      this.onMessage(message);
      const fromElsewhere = message.uid !== this.uid && message.nsp === this.nsp.name;
      if (fromElsewhere && message.type === MessageType.BROADCAST && message.data.opts.rooms.length === 1) {
        this.bus.delivered(message.data.opts.rooms[0], (message.data.packet as { data?: unknown })?.data);
      }
    } catch (err) {
      this.bus.dropped(err);
    }
  }

  /**
   * The cluster adapter delivers a broadcast to this instance's sockets once
   * its publication has settled: as Redis answers (a send's ack goes out
   * first), or, if Redis does not, after the command timeout; never later.
   */
  protected override doPublish(message: ClusterMessage): Promise<Offset> {
    return this.bus.publish(channelOf(message), JSON.stringify(message)).then(noOffset);
  }

  protected override doPublishResponse(requesterUid: ServerId, response: ClusterResponse): Promise<void> {
    return this.bus.publish(channels.replies(requesterUid), JSON.stringify(response));
  }

  /** How many instances answer a request (`fetchSockets`, `serverSideEmit` with an ack). */
  override serverCount(): Promise<number> {
    return this.bus.instances();
  }

  override close(): void {
    this.bus.subscribe(channels.all, false);
    this.bus.subscribe(channels.replies(this.uid), false);
  }
}

function channelOf(message: ClusterMessage): string {
  // A broadcast with acks goes to every instance: each one answers its client count.
  if (message.type === MessageType.BROADCAST && message.data.requestId === undefined) {
    const { rooms } = message.data.opts;
    if (rooms.length === 1 && isChatRoom(rooms[0])) return channels.room(rooms[0]);
  }
  return channels.all;
}
