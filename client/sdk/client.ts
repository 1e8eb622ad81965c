import { HISTORY_DEFAULT_LIMIT, type Message, type RoomSummary, type SessionEvent, type User } from '../../protocol';
import { DEFAULT_BACKOFF, type BackoffOptions } from '../../common/backoff';
import { Connection } from './connection';
import { Emitter } from './emitter';
import { ParleyError } from './errors';
import { randomId } from './ids';
import { Outbox, type ChangeRequest, type OutboxEntry, type Sending } from './outbox';
import { RoomSync, type RoomLink } from './room-sync';
import type { ConnectionStatus, JoinInfo, OlderPage, ParleyClientEvents, ParleyClientOptions } from './types';

/**
 * A Parley connection that keeps the delivery guarantee of the protocol:
 * every message answered `ok: true` in a joined room is handed to the
 * application once, in `seq` order, and every change to a message (an
 * edit, a deletion, a reaction) once, in `rev` order, across reconnects,
 * the loss of an instance and Redis restarts.
 *
 * The public face of the SDK: it routes the connection's events to the
 * rooms (`RoomSync`, one per joined room) and the sends and changes to the
 * `Outbox`.
 *
 * @example
 * const client = new ParleyClient({ url: 'http://localhost:3000', auth: { name: 'ada' } });
 * client.on('message', (m) => console.log(`${m.user.name}: ${m.text}`));
 * await client.join('lobby');
 * const sent = await client.send('lobby', 'hello');
 * client.on('update', (m) => redraw(m)); // edited, deleted, reacted to
 * await client.react('lobby', sent.id, '👍');
 */
export class ParleyClient extends Emitter<ParleyClientEvents> {
  private readonly connection: Connection;
  private readonly syncs = new Map<string, RoomSync>();
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
        ready: (room) => connection.connected && this.syncs.get(room)?.joined === true,
        send: ({ event, payload }) => connection.request(event, payload),
        rejoin: (room) => this.syncs.get(room)?.sync(),
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
        for (const room of this.syncs.values()) room.sync();
      })
      .on('disconnected', () => {
        for (const room of this.syncs.values()) room.disconnected();
      })
      .on('refused', (error) => {
        for (const room of this.syncs.values()) room.rejectWaiting(error);
        this.emit('error', error);
      })
      .on('message', (message) => this.onMessage(message))
      .on('message:update', (event) => this.onMessage(event?.message))
      .on('presence', (event) => this.syncs.get(event?.room)?.offerPresence(event))
      .on('typing', (event) => {
        if (this.syncs.has(event?.room)) this.emit('typing', event);
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
    let sync = this.syncs.get(room);
    if (!sync) {
      sync = new RoomSync(room, this.link);
      this.syncs.set(room, sync);
      if (this.connection.connected) sync.sync();
    }
    return sync.whenJoined();
  }

  /** Leaves a room: no more messages from it; its pending sends and changes fail with `not_joined`. */
  async leave(room: string): Promise<void> {
    const sync = this.syncs.get(room);
    if (!sync) return;
    this.forget(sync, new ParleyError('closed', `left ${room}`), new ParleyError('not_joined', `left ${room}`));
    await sync.leaveOnServer();
  }

  /** The rooms joined (or being joined), in the order they were joined. */
  joinedRooms(): string[] {
    return [...this.syncs.keys()];
  }

  /** The users present in a joined room, on every instance. */
  members(room: string): User[] {
    return [...(this.syncs.get(room)?.members ?? [])];
  }

  /** The last `seq` of a room handed to the application; undefined before its first join answer. */
  lastSeq(room: string): number | undefined {
    return this.syncs.get(room)?.lastSeq;
  }

  /** Every change of a room up to this `rev` was handed to the application; undefined before its first join answer. */
  lastRev(room: string): number | undefined {
    return this.syncs.get(room)?.lastRev;
  }

  /**
   * The service's rooms that have members now, on every instance, with
   * their member counts and latest `seq` (`rooms:list`; in token mode only
   * those the `rooms` claim allows). Waits for the connection while it is
   * being made; rejects with `disconnected` when offline or the connection
   * drops first, `timeout` without an answer in `ackTimeoutMs`, `closed`
   * once the client is closed.
   */
  async rooms(): Promise<RoomSummary[]> {
    await this.whenConnected();
    const answer = await this.connection.request('rooms:list', {});
    if (!answer.ok) throw ParleyError.fromBody(answer.error);
    return answer.rooms;
  }

  /**
   * Reads the page of messages before the oldest one the application has
   * (from the join, live, or an earlier `loadOlder`), for scrolling back,
   * each in its current state (a change handed over as `update` while the
   * page was read is in it). They are answered, not emitted as `message`:
   * the live order is untouched. Calls run one after the other, each
   * continuing where the last stopped.
   */
  loadOlder(room: string, limit = HISTORY_DEFAULT_LIMIT): Promise<OlderPage> {
    const sync = this.syncs.get(room);
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
    if (!this.syncs.has(room)) {
      return Object.assign(Promise.reject(new ParleyError('not_joined', `join ${room} before sending to it`)), { clientId: randomId() });
    }
    return this.outbox.add(room, text);
  }

  /**
   * Edits the text of one's own message `id` in a joined room (the text
   * rules of `send`). Resolves with the message's state after the edit; an
   * edit to the text it has changes nothing and resolves with it as it is.
   *
   * Every change (`edit`, `remove`, `react`, `unreact`) is queued in the
   * room's outbox behind the sends and changes made before it, and resent
   * like a send (after reconnects, timeouts, `unavailable`) until answered:
   * made offline, it is applied once when the connection is back (the server
   * makes a repeat change nothing). It rejects when refused for good:
   * `not_found` (no such message in the room, or deleted), `forbidden`
   * (another user's message, or the `rooms` claim), `invalid_payload`,
   * `too_large`. Its progress shows in the `outbox` event (`kind: 'edit'`,
   * `messageId`), keyed by the promise's `clientId`. Other members get the
   * change as `update`, as does this client.
   */
  edit(room: string, id: string, text: string): Sending {
    return this.change({ event: 'message:edit', payload: { room, id, text } });
  }

  /**
   * Deletes one's own message `id`: it stays in history at its `seq` as a
   * tombstone (`deleted: true`, text `""`, no reactions). Deleting it again
   * resolves with the tombstone. Queued and retried like `edit`.
   */
  remove(room: string, id: string): Sending {
    return this.change({ event: 'message:delete', payload: { room, id } });
  }

  /**
   * Adds this user's `reaction` (1–16 UTF-16 code units, no whitespace or
   * control characters) to message `id`; adding it again changes nothing;
   * a 21st distinct reaction on a message is `too_large`. Queued and
   * retried like `edit`.
   */
  react(room: string, id: string, reaction: string): Sending {
    return this.change({ event: 'reaction:add', payload: { room, id, reaction } });
  }

  /** Takes this user's `reaction` to message `id` back; one it did not give changes nothing. Queued and retried like `edit`. */
  unreact(room: string, id: string, reaction: string): Sending {
    return this.change({ event: 'reaction:remove', payload: { room, id, reaction } });
  }

  /** Queues a `failed` send or change again, with its `clientId`; undefined if there is none. */
  retry(clientId: string): Sending | undefined {
    if (this.closed) return undefined;
    return this.outbox.retry(clientId);
  }

  /** Forgets a `failed` send or change (the UI's "discard"); whether there was one. */
  discard(clientId: string): boolean {
    return this.outbox.discard(clientId);
  }

  /** Sends and changes not stored yet (`queued`, `sending`, `failed`), of one room or all. */
  pending(room?: string): OutboxEntry[] {
    return this.outbox.entries(room);
  }

  /** Tells the room's other users that this one is typing, or stopped; dropped while not connected. */
  setTyping(room: string, typing: boolean): void {
    if (this.syncs.get(room)?.joined) this.connection.notify('typing', { room, typing });
  }

  /**
   * Disconnects and stops every timer. Pending sends, changes and joins
   * reject with `closed`. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const error = new ParleyError('closed', 'the client was closed');
    for (const sync of [...this.syncs.values()]) this.forget(sync, error, error);
    this.outbox.close(error);
    this.connection.close();
  }

  /** Queues a change to a joined room's message. */
  private change(request: ChangeRequest): Sending {
    const { room } = request.payload;
    if (!this.syncs.has(room)) {
      return Object.assign(Promise.reject(new ParleyError('not_joined', `join ${room} before changing its messages`)), { clientId: randomId() });
    }
    return this.outbox.change(request);
  }

  /** Resolves once connected; rejects with `disconnected` while offline (or once the connection gives up), `closed` once closed. */
  private whenConnected(): Promise<void> {
    if (this.closed) return Promise.reject(new ParleyError('closed', 'the client is closed'));
    if (this.connection.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (status: ConnectionStatus) => {
        if (status === 'connecting' || status === 'reconnecting') return;
        this.connection.off('status', check);
        if (status === 'connected') resolve();
        else reject(new ParleyError('disconnected', 'not connected'));
      };
      this.connection.on('status', check);
      check(this.connection.status);
    });
  }

  /** A message's state from the server (live, or an answer to a send or a change), for the room's ordering. */
  private onMessage(message: Message | undefined): void {
    if (message) this.syncs.get(message.room)?.offer(message);
  }

  /** Drops a room: its joins reject with `joinError`, its sends fail with `sendError`. */
  private forget(sync: RoomSync, joinError: ParleyError, sendError: ParleyError): void {
    if (this.syncs.get(sync.room) !== sync) return;
    this.syncs.delete(sync.room);
    sync.close(joinError);
    this.outbox.dropRoom(sync.room, sendError);
  }
}

/** `new ParleyClient(options)`. */
export function connect(options: ParleyClientOptions): ParleyClient {
  return new ParleyClient(options);
}
