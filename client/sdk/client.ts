import { HISTORY_DEFAULT_LIMIT, type Message, type SessionEvent, type User } from '../../protocol';
import { DEFAULT_BACKOFF, type BackoffOptions } from '../../common/backoff';
import { Connection } from './connection';
import { Emitter } from './emitter';
import { ParleyError } from './errors';
import { randomId } from './ids';
import { Outbox, type OutboxEntry, type Sending } from './outbox';
import { RoomSync, type RoomLink } from './room-sync';
import type { ConnectionStatus, JoinInfo, OlderPage, ParleyClientEvents, ParleyClientOptions } from './types';

/**
 * A Parley connection that keeps the delivery guarantee of the protocol:
 * every message answered `ok: true` in a joined room is handed to the
 * application once, in `seq` order, across reconnects, the loss of an
 * instance and Redis restarts.
 *
 * The public face of the SDK: it routes the connection's events to the
 * rooms (`RoomSync`, one per joined room) and the sends to the `Outbox`.
 *
 * @example
 * const client = new ParleyClient({ url: 'http://localhost:3000', auth: { name: 'ada' } });
 * client.on('message', (m) => console.log(`${m.user.name}: ${m.text}`));
 * await client.join('lobby');
 * await client.send('lobby', 'hello');
 */
export class ParleyClient extends Emitter<ParleyClientEvents> {
  private readonly connection: Connection;
  private readonly rooms = new Map<string, RoomSync>();
  private readonly outbox: Outbox;
  private readonly link: RoomLink;
  private closed = false;

  constructor(options: ParleyClientOptions) {
    super();
    const backoff: BackoffOptions = { ...DEFAULT_BACKOFF, ...options.backoff };
    const connection = new Connection({
      url: options.url,
      auth: options.auth,
      socket: options.socket,
      ackTimeoutMs: options.ackTimeoutMs ?? 10_000,
      backoff,
    });
    this.connection = connection;
    this.outbox = new Outbox(
      {
        ready: (room) => connection.connected && this.rooms.get(room)?.joined === true,
        send: ({ event, payload }) => connection.request(event, payload),
        rejoin: (room) => this.rooms.get(room)?.sync(),
        stored: (message) => this.onMessage(message),
        changed: (entry) => this.emit('outbox', entry),
      },
      backoff,
    );
    this.link = {
      connection,
      gapFillMs: options.gapFillMs ?? 400,
      backoff,
      tell: (event, ...args) => this.emit(event, ...args),
      joined: (info) => {
        this.emit('joined', info);
        this.outbox.pump(info.room);
      },
      refused: (room, error) => {
        this.forget(room, error, error);
        this.emit('error', error);
      },
    };
    connection
      .on('status', (status) => this.emit('status', status))
      .on('session', (session) => this.emit('session', session))
      .on('connected', () => {
        for (const room of this.rooms.values()) room.sync();
      })
      .on('disconnected', () => {
        for (const room of this.rooms.values()) room.disconnected();
      })
      .on('refused', (error) => {
        for (const room of this.rooms.values()) room.rejectWaiting(error);
        this.emit('error', error);
      })
      .on('message', (message) => this.onMessage(message))
      .on('presence', (event) => this.rooms.get(event?.room)?.offerPresence(event))
      .on('typing', (event) => {
        if (this.rooms.has(event?.room)) this.emit('typing', event);
      });
  }

  /** The connection status; see the `status` event. */
  get status(): ConnectionStatus {
    return this.connection.status;
  }

  /** Who the server says this connection is, and which instance serves it; undefined before the first `session`. */
  get session(): SessionEvent | undefined {
    return this.connection.session;
  }

  /**
   * Opens the connection again after it went `offline` (refused, ended by
   * the server, gave up); rooms are re-joined and queued sends go out.
   * Does nothing while connected.
   */
  connect(): void {
    if (!this.closed) this.connection.reconnect();
  }

  /**
   * Joins a room, and keeps it joined across reconnects until `leave`.
   * Resolves once the latest page of messages was handed over (through
   * `message` events); live messages follow. Rejects if the room can never
   * be joined (`invalid_room`, `forbidden`) or the client closes first.
   */
  join(room: string): Promise<JoinInfo> {
    if (this.closed) return Promise.reject(new ParleyError('closed', 'the client is closed'));
    let sync = this.rooms.get(room);
    if (!sync) {
      sync = new RoomSync(room, this.link);
      this.rooms.set(room, sync);
      if (this.connection.connected) sync.sync();
    }
    return sync.whenJoined();
  }

  /** Leaves a room: no more messages from it; its pending sends fail with `not_joined`. */
  async leave(room: string): Promise<void> {
    const sync = this.rooms.get(room);
    if (!sync) return;
    this.forget(sync, new ParleyError('closed', `left ${room}`), new ParleyError('not_joined', `left ${room}`));
    await sync.leaveOnServer();
  }

  /** The rooms joined (or being joined), in the order they were joined. */
  joinedRooms(): string[] {
    return [...this.rooms.keys()];
  }

  /** The users present in a joined room, on every instance. */
  members(room: string): User[] {
    return [...(this.rooms.get(room)?.members ?? [])];
  }

  /** The last `seq` of a room handed to the application; undefined before its first join answer. */
  lastSeq(room: string): number | undefined {
    return this.rooms.get(room)?.lastSeq;
  }

  /**
   * Reads the page of messages before the oldest one the application has
   * (from the join, live, or an earlier `loadOlder`), for scrolling back.
   * They are answered, not emitted as `message`: the live order is untouched.
   * Calls run one after the other, each continuing where the last stopped.
   */
  loadOlder(room: string, limit = HISTORY_DEFAULT_LIMIT): Promise<OlderPage> {
    const sync = this.rooms.get(room);
    if (!sync) return Promise.reject(new ParleyError('not_joined', `join ${room} first`));
    return sync.loadOlder(limit);
  }

  /**
   * Sends a message to a joined room. Resolves with the stored message once
   * the server answered `ok` — after as many resends (same `clientId`) as
   * reconnects, timeouts and `unavailable` take — or rejects when the server
   * refused it for good (`invalid_payload`, `too_large`, `forbidden`, ...).
   * Follow its progress with the `outbox` event, keyed by `clientId`.
   */
  send(room: string, text: string): Sending {
    if (!this.rooms.has(room)) {
      return Object.assign(Promise.reject(new ParleyError('not_joined', `join ${room} before sending to it`)), { clientId: randomId() });
    }
    return this.outbox.add(room, text);
  }

  /** Queues a `failed` send again, with its `clientId`; undefined if there is none. */
  retry(clientId: string): Sending | undefined {
    if (this.closed) return undefined;
    return this.outbox.retry(clientId);
  }

  /** Forgets a `failed` send (the UI's "discard"); whether there was one. */
  discard(clientId: string): boolean {
    return this.outbox.discard(clientId);
  }

  /** Sends not stored yet (`queued`, `sending`, `failed`), of one room or all. */
  pending(room?: string): OutboxEntry[] {
    return this.outbox.entries(room);
  }

  /** Tells the room's other users that this one is typing, or stopped; dropped while not connected. */
  setTyping(room: string, typing: boolean): void {
    if (this.rooms.get(room)?.joined) this.connection.notify('typing', { room, typing });
  }

  /**
   * Disconnects and stops every timer. Pending sends and joins reject with
   * `closed`. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const error = new ParleyError('closed', 'the client was closed');
    for (const sync of [...this.rooms.values()]) this.forget(sync, error, error);
    this.outbox.close(error);
    this.connection.close();
  }

  /** A message from the server or a send's answer, for the room's ordering. */
  private onMessage(message: Message): void {
    this.rooms.get(message?.room)?.offer(message);
  }

  /** Drops a room: its joins reject with `joinError`, its sends fail with `sendError`. */
  private forget(sync: RoomSync, joinError: ParleyError, sendError: ParleyError): void {
    if (this.rooms.get(sync.room) !== sync) return;
    this.rooms.delete(sync.room);
    sync.close(joinError);
    this.outbox.dropRoom(sync.room, sendError);
  }
}

/** `new ParleyClient(options)`. */
export function connect(options: ParleyClientOptions): ParleyClient {
  return new ParleyClient(options);
}
