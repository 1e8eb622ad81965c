import type { Config } from './config';
import { FlexibleRateLimits, noLimits, type RateLimits } from './limits';
import { MemoryPresence } from './presence/memory';
import type { Presence } from './presence/types';
import { MemoryMessageStore } from './store/memory';
import type { MessageStore } from './store/types';
import type { Message } from '../protocol';

/** A Socket.IO adapter factory, as `io.adapter()` takes it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AdapterFactory = (nsp: any) => any;

/**
 * Everything an instance keeps outside its own sockets: history, presence,
 * limits and the broadcast bus. One in memory (a single instance) and one
 * over Redis (any number of instances).
 */
export interface Backend {
  readonly kind: 'memory' | 'redis';
  store: MessageStore;
  presence: Presence;
  limits: RateLimits;
  /** The Socket.IO adapter; undefined = Socket.IO's in-memory one. */
  adapter?: AdapterFactory;
  /**
   * Resolves once this instance receives the room's broadcasts from every
   * instance, so that a join reads history only after it can hear new messages.
   */
  subscribed(room: string): Promise<void>;
  /** Whether every link (store, presence, bus) is up: `/readyz`. */
  ready(): boolean;
  /** Registers who hears that the broadcast link came back after an outage. */
  onLinkRestored(listener: () => void): void;
  /** Registers who hears of every message broadcast by another instance (for catch-up bookkeeping). */
  onRemoteMessage(listener: (message: Message) => void): void;
  close(): Promise<void>;
}

/** The backend of a single instance, in memory. */
export interface MemoryBackend extends Backend {
  readonly kind: 'memory';
  presence: MemoryPresence;
}

export function createMemoryBackend(config: Pick<Config, 'historyMax' | 'limits'>): MemoryBackend {
  return {
    kind: 'memory',
    store: new MemoryMessageStore(config.historyMax),
    presence: new MemoryPresence(),
    limits: config.limits ? new FlexibleRateLimits() : noLimits,
    subscribed: async () => {},
    ready: () => true,
    onLinkRestored: () => {},
    onRemoteMessage: () => {},
    close: async () => {},
  };
}
