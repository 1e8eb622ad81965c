import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import {
  ERROR_CODES,
  HANDSHAKE_ERRORS,
  HISTORY_DEFAULT_LIMIT,
  HISTORY_MAX_LIMIT,
  type Ack,
  type Answer,
  type ClientToServerEvents,
  type HandshakeAuth,
  type Message,
  type PresenceEvent,
  type ServerToClientEvents,
  type SessionEvent,
  type TypingEvent,
  type User,
} from '../../protocol';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
import { Emitter } from './emitter';
import { isPermanent, ParleyError, type ParleyErrorCode } from './errors';
import { randomId } from './ids';
import { Outbox, type OutboxEntry, type Sending } from './outbox';
import { RoomState } from './room';

/**
 * The connection as a UI shows it:
 * - `connecting`: opening the first connection;
 * - `connected`: connected; joined rooms are live (or re-joining);
 * - `reconnecting`: the connection dropped and is being reopened on its own;
 * - `offline`: the browser is offline, the server refused the handshake or
 *   closed the session, reconnection gave up, or the client was closed.
 */
export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting' | 'offline';

/** Options of `new ParleyClient()`. */
export interface ParleyClientOptions {
  /**
   * The server, e.g. `https://chat.example.com`.
   * @default the page's own origin (browsers only)
   */
  url?: string;
  /**
   * The handshake identity: `{ name }` in open mode, `{ token }` in token
   * mode, or a function answering one, called at every (re)connection, so
   * that a reconnect can use a fresh token.
   */
  auth: HandshakeAuth | (() => HandshakeAuth | Promise<HandshakeAuth>);
  /**
   * How long a message that came early waits for the missing ones before
   * the SDK reads them with `room:history`.
   * @default 400
   */
  gapFillMs?: number;
  /**
   * How long a request waits for its answer; an unanswered send is then
   * resent with the same `clientId`.
   * @default 10000
   */
  ackTimeoutMs?: number;
  /** Retry delays after `unavailable` and other transient failures. @default { baseMs: 250, maxMs: 10000 } */
  backoff?: Partial<BackoffOptions>;
  /**
   * Passed to socket.io-client's `io()` (e.g. `transports`,
   * `reconnectionDelay`, `reconnectionDelayMax`, `timeout`).
   * @default { transports: ['websocket', 'polling'], tryAllTransports: true }
   */
  socket?: Partial<ManagerOptions & SocketOptions>;
}

/** A room as joined: what a UI needs to draw it. */
export interface JoinInfo {
  room: string;
  /** The last `seq` handed to the application (0: none yet). */
  seq: number;
  /** Users present, on every instance. */
  members: User[];
  /** Whether `loadOlder` has more to give. */
  hasOlder: boolean;
  /** False for the first join, true for a re-join after a reconnect. */
  rejoin: boolean;
}

/** A page of older messages, from `loadOlder`. */
export interface OlderPage {
  messages: Message[];
  /** Whether still older messages exist. */
  hasMore: boolean;
}

/** The events of a `ParleyClient`; each listener takes one argument. */
export type ParleyClientEvents = {
  /** The connection status changed. */
  status: (status: ConnectionStatus) => void;
  /** The server identified this connection (again after every reconnect). */
  session: (session: SessionEvent) => void;
  /** The next message of a joined room: in `seq` order per room, each once. */
  message: (message: Message) => void;
  /** A room's join, or re-join after a reconnect, completed: every message up to `seq` was handed over. */
  joined: (info: JoinInfo) => void;
  /** A room's member list changed (join answers and presence). */
  members: (update: { room: string; members: User[] }) => void;
  /** A user's first socket joined a room, or its last one left. */
  presence: (event: PresenceEvent) => void;
  /** Another user started or stopped typing. */
  typing: (event: TypingEvent) => void;
  /** A send changed status (`queued`, `sending`, `sent`, `failed`). */
  outbox: (entry: OutboxEntry) => void;
  /** Something failed with no caller to tell: a refused handshake, a room that cannot be joined. */
  error: (error: ParleyError) => void;
};

type ParleySocket = Socket<ServerToClientEvents, ClientToServerEvents>;
type RequestEvent = 'room:join' | 'room:leave' | 'message:send' | 'room:history';
type PayloadOf<E extends RequestEvent> = Parameters<ClientToServerEvents[E]>[0];
type AnswerOf<E extends RequestEvent> = NonNullable<Parameters<ClientToServerEvents[E]>[1]> extends Ack<infer T> ? T : never;

/** The client's side of one room. */
interface RoomEntry {
  state: RoomState;
  /** `join()` callers waiting for the first join answer. */
  waiters: Array<{ resolve(info: JoinInfo): void; reject(error: ParleyError): void }>;
  /** Whether a join answer was ever taken (the next one is a re-join). */
  everJoined: boolean;
  /** The join in progress, and whether another must follow it. */
  syncing?: Promise<void>;
  syncAgain: boolean;
  /** A gap waits for this timer before its history read. */
  gapTimer?: ReturnType<typeof setTimeout>;
  filling: boolean;
  /** `loadOlder` calls, one after the other. */
  older: Promise<unknown>;
}

/**
 * A Parley connection that keeps the delivery guarantee of the protocol:
 * every message answered `ok: true` in a joined room is handed to the
 * application once, in `seq` order, across reconnects, the loss of an
 * instance and Redis restarts.
 *
 * @example
 * const client = new ParleyClient({ url: 'http://localhost:3000', auth: { name: 'ada' } });
 * client.on('message', (m) => console.log(`${m.user.name}: ${m.text}`));
 * await client.join('lobby');
 * await client.send('lobby', 'hello');
 */
export class ParleyClient extends Emitter<ParleyClientEvents> {
  private readonly socket: ParleySocket;
  private readonly rooms = new Map<string, RoomEntry>();
  private readonly outbox: Outbox;
  private readonly gapFillMs: number;
  private readonly ackTimeoutMs: number;
  private readonly backoff: BackoffOptions;
  /** Wakes every pending `sleep` (on disconnect and close), so no retry loop outlives its connection. */
  private readonly sleepers = new Set<() => void>();
  private currentStatus: ConnectionStatus = 'connecting';
  private currentSession: SessionEvent | undefined;
  private everConnected = false;
  /** The server refused or ended the session, or reconnection gave up: socket.io will not retry. */
  private gaveUp = false;
  private browserOffline = false;
  private closed = false;
  private connectAttempts = 0;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly unlisten: Array<() => void> = [];

  constructor(options: ParleyClientOptions) {
    super();
    this.gapFillMs = options.gapFillMs ?? 400;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    const { auth } = options;
    const authFn = typeof auth === 'function' ? (auth as () => HandshakeAuth | Promise<HandshakeAuth>) : undefined;
    const socketOptions: Partial<ManagerOptions & SocketOptions> = {
      transports: ['websocket', 'polling'],
      tryAllTransports: true,
      forceNew: true,
      ...options.socket,
      autoConnect: false,
      auth: authFn
          ? (cb: (data: object) => void) => {
              Promise.resolve()
                .then(authFn)
                .then(cb, (err: unknown) => {
                  this.emit('error', new ParleyError('unauthorized', `auth() failed: ${String(err)}`));
                  cb({});
                });
            }
          : (auth as HandshakeAuth),
    };
    this.socket = options.url === undefined ? io(socketOptions) : io(options.url, socketOptions);
    this.outbox = new Outbox(
      {
        ready: (room) => this.socket.connected && this.rooms.get(room)?.state.joined === true,
        send: (payload) => this.request('message:send', payload),
        rejoin: (room) => {
          const entry = this.rooms.get(room);
          if (!entry) return;
          entry.state.joined = false;
          this.sync(entry);
        },
        stored: (message) => this.onMessage(message),
        changed: (entry) => this.emit('outbox', entry),
      },
      this.backoff,
    );
    this.listen();
    this.socket.connect();
  }

  /** The connection status; see the `status` event. */
  get status(): ConnectionStatus {
    return this.currentStatus;
  }

  /** Who the server says this connection is, and which instance serves it; undefined before the first `session`. */
  get session(): SessionEvent | undefined {
    return this.currentSession;
  }

  /**
   * Opens the connection again after it went `offline` (refused, gave up);
   * rooms are re-joined and queued sends go out. Does nothing while connected.
   */
  connect(): void {
    if (this.closed || this.socket.connected) return;
    this.gaveUp = false;
    // Starting over skips whatever is left of socket.io's reconnection delay.
    this.socket.disconnect();
    this.socket.connect();
    this.updateStatus();
  }

  /**
   * Joins a room, and keeps it joined across reconnects until `leave`.
   * Resolves once the latest page of messages was handed over (through
   * `message` events); live messages follow. Rejects if the room can never
   * be joined (`invalid_room`, `forbidden`) or the client closes first.
   */
  join(room: string): Promise<JoinInfo> {
    if (this.closed) return Promise.reject(new ParleyError('closed', 'the client is closed'));
    let entry = this.rooms.get(room);
    if (entry?.everJoined) return Promise.resolve(this.info(entry, false));
    if (!entry) {
      entry = { state: new RoomState(room), waiters: [], everJoined: false, syncAgain: false, filling: false, older: Promise.resolve() };
      this.rooms.set(room, entry);
      if (this.socket.connected) this.sync(entry);
    }
    const waiting = entry;
    return new Promise((resolve, reject) => waiting.waiters.push({ resolve, reject }));
  }

  /** Leaves a room: no more messages from it; its pending sends fail with `not_joined`. */
  async leave(room: string): Promise<void> {
    const entry = this.rooms.get(room);
    if (!entry) return;
    this.forget(entry, new ParleyError('closed', `left ${room}`), new ParleyError('not_joined', `left ${room}`));
    if (this.socket.connected) {
      // A failure needs nothing more: a connection that dropped left the room with it.
      await this.request('room:leave', { room }).catch(() => undefined);
    }
  }

  /** The rooms joined (or being joined), in the order they were joined. */
  joinedRooms(): string[] {
    return [...this.rooms.keys()];
  }

  /** The users present in a joined room, on every instance. */
  members(room: string): User[] {
    return [...(this.rooms.get(room)?.state.members ?? [])];
  }

  /** The last `seq` of a room handed to the application; undefined before its first join answer. */
  lastSeq(room: string): number | undefined {
    return this.rooms.get(room)?.state.lastSeq;
  }

  /**
   * Reads the page of messages before the oldest one the application has
   * (from the join, live, or an earlier `loadOlder`), for scrolling back.
   * They are answered, not emitted as `message`: the live order is untouched.
   * Calls run one after the other, each continuing where the last stopped.
   */
  loadOlder(room: string, limit = HISTORY_DEFAULT_LIMIT): Promise<OlderPage> {
    const entry = this.rooms.get(room);
    if (!entry) return Promise.reject(new ParleyError('not_joined', `join ${room} first`));
    const page = entry.older.then(async (): Promise<OlderPage> => {
      const { state } = entry;
      if (state.oldestSeq === undefined || !state.hasOlder) return { messages: [], hasMore: false };
      const answer = await this.request('room:history', { room, before: state.oldestSeq, limit });
      if (!answer.ok) throw ParleyError.fromBody(answer.error);
      state.older(answer.messages, answer.hasMore);
      return { messages: answer.messages, hasMore: answer.hasMore };
    });
    entry.older = page.catch(() => undefined);
    return page;
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
    if (this.socket.connected && this.rooms.get(room)?.state.joined) this.socket.emit('typing', { room, typing });
  }

  /**
   * Disconnects and stops every timer. Pending sends and joins reject with
   * `closed`. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.connectTimer);
    const error = new ParleyError('closed', 'the client was closed');
    for (const entry of [...this.rooms.values()]) this.forget(entry, error, error);
    this.outbox.close(error);
    this.wakeSleepers();
    for (const off of this.unlisten.splice(0)) off();
    this.socket.disconnect();
    this.updateStatus();
  }

  // ---- connection ----

  private listen(): void {
    const { socket } = this;
    socket.on('connect', () => this.onConnect());
    socket.on('disconnect', (reason) => this.onDisconnect(reason));
    socket.on('connect_error', (err) => this.onConnectError(err));
    socket.io.on('reconnect_attempt', () => this.updateStatus());
    socket.io.on('reconnect_failed', () => {
      this.gaveUp = true;
      this.updateStatus();
    });
    socket.on('session', (session) => {
      this.currentSession = session;
      this.emit('session', session);
    });
    socket.on('message', (message) => this.onMessage(message));
    socket.on('presence', (event) => this.onPresence(event));
    socket.on('typing', (event) => {
      if (this.rooms.has(event?.room)) this.emit('typing', event);
    });

    // Browsers say when the network goes away; socket.io would take a heartbeat to notice.
    const g = globalThis as { addEventListener?: typeof addEventListener; removeEventListener?: typeof removeEventListener; navigator?: { onLine?: boolean } };
    if (typeof g.addEventListener === 'function' && typeof g.navigator?.onLine === 'boolean') {
      this.browserOffline = !g.navigator.onLine;
      const offline = () => {
        this.browserOffline = true;
        this.updateStatus();
      };
      const online = () => {
        this.browserOffline = false;
        this.connect();
        this.updateStatus();
      };
      g.addEventListener('offline', offline);
      g.addEventListener('online', online);
      this.unlisten.push(() => {
        g.removeEventListener?.('offline', offline);
        g.removeEventListener?.('online', online);
      });
    }
  }

  private onConnect(): void {
    this.gaveUp = false;
    this.everConnected = true;
    this.connectAttempts = 0;
    this.updateStatus();
    for (const entry of this.rooms.values()) {
      entry.state.joined = false;
      this.sync(entry);
    }
  }

  private onDisconnect(reason: string): void {
    for (const entry of this.rooms.values()) {
      entry.state.joined = false;
      this.clearGapTimer(entry);
    }
    this.wakeSleepers();
    // socket.io-client does not reconnect after the server ended the session.
    if (!this.socket.active && reason !== 'io client disconnect') this.gaveUp = true;
    this.updateStatus();
  }

  private onConnectError(err: Error): void {
    // A transport failure: socket.io keeps trying on its own.
    if (this.socket.active || this.closed) return this.updateStatus();
    // The server's middleware refused the handshake: socket.io will not retry.
    if (err.message === 'rate_limited') {
      this.connectTimer = setTimeout(() => {
        this.connectTimer = undefined;
        if (!this.closed) this.socket.connect();
      }, backoffDelay(++this.connectAttempts, this.backoff));
      return this.updateStatus();
    }
    const known = (HANDSHAKE_ERRORS as readonly string[]).concat(ERROR_CODES).includes(err.message);
    const error = new ParleyError(known ? (err.message as ParleyErrorCode) : 'internal', `connection refused: ${err.message}`);
    this.gaveUp = true;
    for (const entry of this.rooms.values()) this.settleWaiters(entry, error);
    this.updateStatus();
    this.emit('error', error);
  }

  private updateStatus(): void {
    const status: ConnectionStatus =
      this.closed || this.gaveUp || this.browserOffline
        ? 'offline'
        : this.socket.connected
          ? 'connected'
          : this.everConnected
            ? 'reconnecting'
            : 'connecting';
    if (status === this.currentStatus) return;
    this.currentStatus = status;
    this.emit('status', status);
  }

  /**
   * Emits a request and resolves with its answer; rejects with `timeout` when
   * none comes in time, and with `disconnected` when the connection is down
   * or drops first. Never emits while disconnected: socket.io would buffer
   * the packet and send it on reconnect, behind the SDK's own resend.
   */
  private request<E extends RequestEvent>(event: E, payload: PayloadOf<E>): Promise<Answer<AnswerOf<E>>> {
    return new Promise((resolve, reject) => {
      if (!this.socket.connected) return reject(new ParleyError('disconnected', 'not connected'));
      const timed = this.socket.timeout(this.ackTimeoutMs) as unknown as {
        emit(event: string, payload: unknown, ack: (err: Error | null, answer: Answer<AnswerOf<E>>) => void): void;
      };
      timed.emit(event, payload, (err, answer) => {
        if (err) reject(new ParleyError(this.socket.connected ? 'timeout' : 'disconnected', `${event}: ${err.message}`));
        else if (typeof answer !== 'object' || answer === null) reject(new ParleyError('internal', `${event}: malformed answer`));
        else resolve(answer);
      });
    });
  }

  /** Resolves after `ms`, or at once on disconnect or close. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  private wakeSleepers(): void {
    for (const wake of [...this.sleepers]) wake();
  }

  // ---- rooms ----

  /** Whether `entry` is still wanted and its requests can go out. */
  private live(entry: RoomEntry): boolean {
    return this.current(entry) && this.socket.connected;
  }

  /** Whether `entry` is still the application's (not left, not closed). */
  private current(entry: RoomEntry): boolean {
    return !this.closed && this.rooms.get(entry.state.name) === entry;
  }

  /** Joins (or re-joins) a room on the current connection; one at a time per room. */
  private sync(entry: RoomEntry): void {
    if (entry.syncing) {
      entry.syncAgain = true;
      return;
    }
    entry.syncing = this.runSync(entry)
      .catch((err: unknown) => this.emit('error', new ParleyError('internal', `joining ${entry.state.name} failed: ${String(err)}`)))
      .then(() => {
      entry.syncing = undefined;
      if (entry.syncAgain && this.live(entry) && !entry.state.joined) {
        entry.syncAgain = false;
        this.sync(entry);
      }
      entry.syncAgain = false;
    });
  }

  /**
   * `room:join` — with `since` once the room has a last seq — then what
   * follows, page by page, handed over in order; then the room's queued
   * sends go out. Retries transient failures while connected; a reconnect
   * starts it over.
   */
  private async runSync(entry: RoomEntry): Promise<void> {
    const { state } = entry;
    const room = state.name;
    let attempt = 0;
    while (this.live(entry)) {
      const since = state.lastSeq;
      let answer: Answer<AnswerOf<'room:join'>>;
      try {
        answer = await this.request('room:join', since === undefined ? { room } : { room, since });
      } catch {
        if (!this.live(entry)) return;
        await this.sleep(backoffDelay(++attempt, this.backoff));
        continue;
      }
      if (!this.current(entry)) {
        // Left while the join was in flight: undo it on the server.
        if (answer.ok && this.socket.connected) this.socket.emit('room:leave', { room });
        return;
      }
      if (!answer.ok) {
        const error = ParleyError.fromBody(answer.error);
        if (isPermanent(error.code)) {
          this.forget(entry, error, error);
          this.emit('error', error);
          return;
        }
        await this.sleep(error.retryAfterMs ?? backoffDelay(++attempt, this.backoff));
        continue;
      }
      this.setMembers(entry, answer.members);
      this.deliver(entry, since === undefined ? state.begin(answer.messages, answer.hasMore, answer.seq) : state.offerPage(answer.messages));
      if (since !== undefined && answer.hasMore && !(await this.readAfter(entry))) return;
      if (!this.live(entry)) return;
      state.joined = true;
      const info = this.info(entry, entry.everJoined);
      entry.everJoined = true;
      this.settleWaiters(entry, info);
      this.emit('joined', info);
      this.outbox.pump(room);
      this.checkGap(entry);
      return;
    }
  }

  /**
   * Reads `room:history` after the room's last seq, page by page while
   * `hasMore`, handing everything over in order. Answers false if it was
   * cut short (disconnected, left, refused).
   */
  private async readAfter(entry: RoomEntry): Promise<boolean> {
    const { state } = entry;
    let attempt = 0;
    for (;;) {
      if (!this.live(entry) || state.lastSeq === undefined) return false;
      let answer: Answer<AnswerOf<'room:history'>>;
      try {
        answer = await this.request('room:history', { room: state.name, after: state.lastSeq, limit: HISTORY_MAX_LIMIT });
      } catch {
        if (!this.live(entry)) return false;
        await this.sleep(backoffDelay(++attempt, this.backoff));
        continue;
      }
      if (!this.current(entry)) return false;
      if (!answer.ok) {
        const error = ParleyError.fromBody(answer.error);
        if (isPermanent(error.code)) {
          this.emit('error', error);
          return false;
        }
        await this.sleep(error.retryAfterMs ?? backoffDelay(++attempt, this.backoff));
        continue;
      }
      attempt = 0;
      this.deliver(entry, state.offerPage(answer.messages));
      if (!answer.hasMore || answer.messages.length === 0) return true;
    }
  }

  private onMessage(message: Message): void {
    const entry = this.rooms.get(message?.room);
    if (!entry || typeof message.seq !== 'number') return;
    this.deliver(entry, entry.state.offer(message));
  }

  private deliver(entry: RoomEntry, messages: Message[]): void {
    for (const message of messages) {
      // A listener may have left the room (or closed the client) meanwhile.
      if (!this.current(entry)) return;
      this.emit('message', message);
    }
    this.checkGap(entry);
  }

  /**
   * A message that came early waits `gapFillMs` for the ones before it (they
   * are usually just behind); then the SDK reads them from history.
   */
  private checkGap(entry: RoomEntry): void {
    if (!entry.state.hasGap || !entry.state.joined || !this.current(entry)) return this.clearGapTimer(entry);
    if (entry.gapTimer !== undefined || entry.filling) return;
    entry.gapTimer = setTimeout(() => {
      entry.gapTimer = undefined;
      if (!entry.state.hasGap || !this.live(entry)) return;
      entry.filling = true;
      this.readAfter(entry).catch(() => false).then(() => {
        entry.filling = false;
        this.checkGap(entry);
      });
    }, this.gapFillMs);
  }

  private clearGapTimer(entry: RoomEntry): void {
    clearTimeout(entry.gapTimer);
    entry.gapTimer = undefined;
  }

  private onPresence(event: PresenceEvent): void {
    const entry = this.rooms.get(event?.room);
    if (!entry || !event.user) return;
    const others = entry.state.members.filter((u) => u.id !== event.user.id);
    this.setMembers(entry, event.event === 'join' ? [...others, event.user] : others);
    this.emit('presence', event);
  }

  private setMembers(entry: RoomEntry, members: User[]): void {
    entry.state.members = members;
    this.emit('members', { room: entry.state.name, members: [...members] });
  }

  private info(entry: RoomEntry, rejoin: boolean): JoinInfo {
    const { state } = entry;
    return { room: state.name, seq: state.lastSeq ?? 0, members: [...state.members], hasOlder: state.hasOlder, rejoin };
  }

  private settleWaiters(entry: RoomEntry, outcome: JoinInfo | ParleyError): void {
    for (const waiter of entry.waiters.splice(0)) {
      if (outcome instanceof ParleyError) waiter.reject(outcome);
      else waiter.resolve(outcome);
    }
  }

  /** Drops a room: its joins reject with `joinError`, its sends fail with `sendError`. */
  private forget(entry: RoomEntry, joinError: ParleyError, sendError: ParleyError): void {
    this.rooms.delete(entry.state.name);
    this.clearGapTimer(entry);
    this.settleWaiters(entry, joinError);
    this.outbox.dropRoom(entry.state.name, sendError);
  }
}

/** `new ParleyClient(options)`. */
export function connect(options: ParleyClientOptions): ParleyClient {
  return new ParleyClient(options);
}
