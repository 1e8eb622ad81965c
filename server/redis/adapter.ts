import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import type { Message } from '../../protocol';
import type { AdapterFactory } from '../backend';
import { UnavailableError } from '../errors';
import type { Logger } from '../logger';
import type { RedisLinks } from './connection';

/** Channel prefix of both adapters (their default). */
const PREFIX = 'socket.io';
/** `MessageType.BROADCAST` of socket.io-adapter's cluster protocol (a stable wire number). */
const BROADCAST = 3;

type Listener = (message: Buffer, channel: Buffer) => void;
type SubscribeMethod = (channels: string | string[], listener?: Listener, bufferMode?: boolean) => Promise<void> | undefined;
type Kind = 'sSubscribe' | 'pSubscribe' | 'subscribe';
const UNSUBSCRIBE: Record<Kind, 'sUnsubscribe' | 'pUnsubscribe' | 'unsubscribe'> = {
  sSubscribe: 'sUnsubscribe',
  pSubscribe: 'pUnsubscribe',
  subscribe: 'unsubscribe',
};

interface Subscription {
  kind: Kind;
  channel: string;
  listener?: Listener;
  bufferMode?: boolean;
  /** The adapter wants it (subscribed last), or not (unsubscribed last). */
  wanted: boolean;
  /** The last (un)subscribe failed: repeat it when the link is back. */
  failed: boolean;
  /** Settles with the last (un)subscribe; rejects if it failed. */
  settled: Promise<void>;
}

export interface Bus {
  /** The Socket.IO adapter factory. */
  adapter: AdapterFactory;
  /** Which adapter: `sharded` (Redis >= 7) or `classic`. */
  kind: 'sharded' | 'classic';
  /** Resolves once this instance receives the room's broadcasts; rejects with UnavailableError if it cannot. */
  subscribed(room: string): Promise<void>;
  onRemoteMessage(listener: (message: Message) => void): void;
  /** Registers who hears that the subscriber link is back and every subscription is in place again. */
  onRestored(listener: () => void): void;
}

/**
 * The broadcast bus between instances: @socket.io/redis-adapter, sharded
 * (SSUBSCRIBE per room, Redis >= 7) or classic (one PSUBSCRIBE), with what the
 * adapter leaves out: it neither awaits nor catches its subscriptions (a
 * rejection while Redis is down would go unhandled, and `socket.join()` does
 * not wait for them), so the subscriber's (un)subscribe methods are wrapped
 * here to keep each channel's latest promise, log failures, and repeat the
 * failed ones when the link comes back.
 */
export function createBus(links: RedisLinks, logger: Logger, kind: 'sharded' | 'classic'): Bus {
  const log = logger.child({ component: 'bus' });
  const subscriptions = new Map<string, Subscription>();
  const remoteListeners: Array<(message: Message) => void> = [];
  const restoredListeners: Array<() => void> = [];
  const sub = links.subscriber as unknown as Record<string, SubscribeMethod>;
  const original = {} as Record<string, SubscribeMethod>;

  function issue(kind: Kind, channel: string, wanted: boolean, listener?: Listener, bufferMode?: boolean): Promise<void> {
    const key = `${kind}:${channel}`;
    const entry: Subscription = { kind, channel, listener, bufferMode, wanted, failed: false, settled: Promise.resolve() };
    const method = original[wanted ? kind : UNSUBSCRIBE[kind]];
    let pending: Promise<void>;
    try {
      pending = Promise.resolve(method(channel, listener, bufferMode));
    } catch (err) {
      pending = Promise.reject(err);
    }
    entry.settled = pending.then(
      () => {
        if (!wanted && subscriptions.get(key) === entry) subscriptions.delete(key);
      },
      (err: Error) => {
        entry.failed = true;
        log.warn({ channel, err: err.message }, wanted ? 'subscription failed; retried when redis is back' : 'unsubscription failed; retried when redis is back');
        throw err;
      },
    );
    entry.settled.catch(() => {});
    subscriptions.set(key, entry);
    return entry.settled.catch(() => {});
  }

  for (const kind of Object.keys(UNSUBSCRIBE) as Kind[]) {
    const unsubscribe = UNSUBSCRIBE[kind];
    original[kind] = sub[kind].bind(links.subscriber);
    original[unsubscribe] = sub[unsubscribe].bind(links.subscriber);
    // The adapter calls these without awaiting or catching: the wrappers never reject.
    sub[kind] = (channels, listener, bufferMode) =>
      Promise.all(toArray(channels).map((c) => issue(kind, c, true, listener, bufferMode))).then(() => {});
    sub[unsubscribe] = (channels, listener, bufferMode) =>
      Promise.all(toArray(channels).map((c) => issue(kind, c, false, listener, bufferMode))).then(() => {});
  }

  links.on('subscriber-restored', () => {
    // node-redis has resubscribed what had succeeded; repeat what had failed, then say the bus is whole again.
    const repairs = [...subscriptions.values()]
      .filter((s) => s.failed)
      .map((s) => issue(s.kind, s.channel, s.wanted, s.listener, s.bufferMode));
    void Promise.all(repairs)
      // Catch-up reads the store: wait for the command link too, which may come back later.
      .then(() => links.whenReady())
      .then(() => {
        log.info({ repaired: repairs.length }, 'bus link restored');
        for (const listener of restoredListeners) {
          try {
            listener();
          } catch (err) {
            log.error({ err }, 'bus restored listener failed');
          }
        }
      });
  });

  wrapPublishing(links, log);

  const notify = (message: Message) => {
    for (const listener of remoteListeners) {
      try {
        listener(message);
      } catch (err) {
        log.error({ err }, 'remote message listener failed');
      }
    }
  };

  // Socket.IO calls the factory with `new`: it must be a function, not an arrow.
  const adapter: AdapterFactory =
    kind === 'sharded'
      ? function sharded(nsp) {
          // eslint-disable-next-line @typescript-eslint/no-explicit-any
          const a: any = createShardedAdapter(links.command, links.subscriber, { channelPrefix: PREFIX, subscriptionMode: 'dynamic' })(nsp);
          const separate = a.shouldUseASeparateNamespace.bind(a);
          // `user:<id>` rooms only serve `.except()`; nothing is ever sent to them, so they need no channel.
          a.shouldUseASeparateNamespace = (room: string) => !room.startsWith('user:') && separate(room);
          const onMessage = a.onMessage.bind(a);
          a.onMessage = (message: any, offset?: string) => {
            let chat: Message | undefined;
            try {
              if (message?.type === BROADCAST && message.uid !== a.uid && message.nsp === nsp.name) {
                const data = message.data?.packet?.data;
                if (Array.isArray(data) && data[0] === 'message') chat = data[1];
              }
              onMessage(message, offset);
            } catch (err) {
              // A malformed message from the bus is dropped, never thrown into node-redis.
              log.debug({ err: (err as Error).message }, 'dropped a bad bus message');
              return;
            }
            if (chat) notify(chat);
          };
          return a;
        }
      : function classic(nsp) {
          // eslint-disable-next-line @typescript-eslint/no-explicit-any
          const a: any = createAdapter(links.command, links.subscriber, { key: PREFIX })(nsp);
          const onmessage = a.onmessage.bind(a);
          a.onmessage = (pattern: unknown, channel: Buffer | string, raw: Buffer) => {
            let chat: Message | undefined;
            try {
              const room = String(channel).slice(a.channel.length, -1);
              if (room !== '' && a.rooms.has(room)) {
                const [uid, packet] = a.parser.decode(raw);
                if (uid !== a.uid && packet?.data?.[0] === 'message') chat = packet.data[1];
              }
              onmessage(pattern, channel, raw);
            } catch (err) {
              log.debug({ err: (err as Error).message }, 'dropped a bad bus message');
              return;
            }
            if (chat) notify(chat);
          };
          return a;
        };

  return {
    adapter,
    kind,
    async subscribed(room) {
      const entry =
        kind === 'sharded' ? subscriptions.get(`sSubscribe:${PREFIX}#/#${room}#`) : subscriptions.get(`pSubscribe:${PREFIX}#/#*`);
      if (!entry) return;
      // node-redis queues (un)subscriptions while disconnected, even with
      // disableOfflineQueue: do not wait for a link that is down, nor longer
      // than any other command.
      if (!links.subscriber.isReady) throw new UnavailableError('cannot subscribe to the room right now; retry');
      await links.run('subscribe', () => entry.settled);
    },
    onRemoteMessage: (listener) => remoteListeners.push(listener),
    onRestored: (listener) => restoredListeners.push(listener),
  };
}

/**
 * The adapters publish on the command client: SPUBLISH (sharded, awaited
 * before local delivery, so a frozen Redis would hold back even local
 * broadcasts) or PUBLISH (classic, neither awaited nor caught). Both get the
 * command timeout and never reject: a lost broadcast is made up for by the
 * catch-up after the link comes back, and by the clients' seq gap filling.
 */
function wrapPublishing(links: RedisLinks, log: Logger): void {
  const client = links.command as unknown as Record<string, (channel: string, message: Buffer | string) => Promise<number>>;
  let failing = false;
  for (const name of ['sPublish', 'publish'] as const) {
    const publish = client[name].bind(links.command);
    client[name] = (channel, message) =>
      links.run(name, () => publish(channel, message)).then(
        (receivers) => {
          failing = false;
          return receivers;
        },
        (err: Error) => {
          if (!failing) log.warn({ err: err.message }, 'broadcast to other instances failed');
          failing = true;
          return 0;
        },
      );
  }
}

function toArray(channels: string | string[]): string[] {
  return Array.isArray(channels) ? channels : [channels];
}

