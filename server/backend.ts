/**
 * What an instance keeps outside its own sockets: history, presence, limits
 * and the broadcast bus, behind one interface; and the in-memory backend of
 * a single instance. The Redis backend (any number of instances) is
 * redis/backend.ts.
 */
import type { EventEmitter } from 'node:events';
import type { Namespace } from 'socket.io';
import type { Adapter } from 'socket.io-adapter';
import type { Config } from './config';
import { FlexibleRateLimits, noLimits, type RateLimits } from './limits';
import { MemoryPresence } from './presence/memory';
import type { Presence } from './presence/types';
import { MemoryMessageStore } from './store/memory';
import type { BusPublication, MessageStore } from './store/types';

/** A Socket.IO adapter factory, as `io.adapter()` takes it (Socket.IO calls it with `new`). */
export type AdapterFactory = (nsp: Namespace) => Adapter;

/** How the bus uses Redis pub/sub: `sharded` (SSUBSCRIBE, Redis >= 7) or `classic` (SUBSCRIBE). */
export type BusKind = 'sharded' | 'classic';

/** What the bus tells the instance. */
export interface BusEvents {
  /**
   * An event broadcast to one room was handed to this instance's sockets in
   * it: sent from this instance, or received from another one.
   */
  delivered: [room: string, event: string, payload: unknown];
  /**
   * The bus link is back after an outage and every subscription is in place
   * again: what other instances broadcast meanwhile may have been lost.
   */
  restored: [];
}

/** The broadcast bus between instances. */
export interface Bus extends EventEmitter<BusEvents> {
  readonly kind: BusKind;
  /** The Socket.IO adapter that broadcasts over the bus. */
  readonly adapter: AdapterFactory;
  /**
   * Resolves once this instance receives the room's broadcasts from every
   * instance, so that a join reads history only after it can hear new
   * messages; rejects with `UnavailableError` if that cannot be had now.
   */
  subscribed(room: string): Promise<void>;
  /**
   * The broadcast of `event` to `room`'s other instances, for the store to
   * publish along with a new message (see `AppendInput.publish`); undefined
   * when this bus cannot have it published so.
   */
  publication(room: string, event: string): BusPublication | undefined;
}

/**
 * Everything an instance keeps outside its own sockets. One in memory (a
 * single instance) and one over Redis (any number of instances).
 */
export interface Backend {
  readonly kind: 'memory' | 'redis';
  store: MessageStore;
  presence: Presence;
  limits: RateLimits;
  /** The bus between instances; none in memory, where Socket.IO's own adapter serves the one instance. */
  bus?: Bus;
  /** Whether every link (store, presence, bus) is up: `/readyz`. */
  ready(): boolean;
  close(): Promise<void>;
}

/** The backend of a single instance, in memory. */
export interface MemoryBackend extends Backend {
  readonly kind: 'memory';
  presence: MemoryPresence;
}

export function createMemoryBackend(config: Pick<Config, 'historyMax' | 'limits'> & Partial<Pick<Config, 'rateLimits' | 'memoryMaxMessages' | 'memoryMaxRooms'>>): MemoryBackend {
  return {
    kind: 'memory',
    store: new MemoryMessageStore(config.historyMax, Date.now, config.memoryMaxMessages, config.memoryMaxRooms),
    presence: new MemoryPresence(),
    limits: config.limits ? new FlexibleRateLimits(config.rateLimits) : noLimits,
    ready: () => true,
    close: async () => {},
  };
}
