import { HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT, type Answer, type Message, type PresenceEvent, type SessionEvent, type User } from '../../protocol';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
import { Connection, type AnswerOf } from './connection';
import { Emitter } from './emitter';
import { isPermanent, ParleyError } from './errors';
import { randomId } from './ids';
import { Outbox, type OutboxEntry, type Sending } from './outbox';
import { RoomPresence } from './presence';
import { RoomState } from './room';
import type { ConnectionStatus, JoinInfo, OlderPage, ParleyClientEvents, ParleyClientOptions } from './types';

/** The client's side of one room. */
interface RoomEntry {
  state: RoomState;
  presence: RoomPresence;
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
  /** A presence gap waits for this timer before the member list is fetched again. */
  presenceTimer?: ReturnType<typeof setTimeout>;
  /** A fetch of the member list is under way. */
  refreshing: boolean;
  /** Fetches in a row that left a gap, for the backoff. */
  refreshes: number;
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
  private readonly connection: Connection;
  private readonly rooms = new Map<string, RoomEntry>();
  private readonly outbox: Outbox;
  private readonly gapFillMs: number;
  private readonly backoff: BackoffOptions;
  private closed = false;

  constructor(options: ParleyClientOptions) {
    super();
    this.gapFillMs = options.gapFillMs ?? 400;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.outbox = new Outbox(
      {
        ready: (room) => this.connection.connected && this.rooms.get(room)?.state.joined === true,
        send: (payload) => this.connection.request('message:send', payload),
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
    this.connection = new Connection({
      url: options.url,
      auth: options.auth,
      socket: options.socket,
      ackTimeoutMs: options.ackTimeoutMs ?? 10_000,
      backoff: this.backoff,
    });
    this.connection
      .on('status', (status) => this.emit('status', status))
      .on('session', (session) => this.emit('session', session))
      .on('connected', () => this.onConnect())
      .on('disconnected', () => this.onDisconnect())
      .on('refused', (error) => {
        for (const entry of this.rooms.values()) this.settleWaiters(entry, error);
        this.emit('error', error);
      })
      .on('message', (message) => this.onMessage(message))
      .on('presence', (event) => this.onPresence(event))
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
    let entry = this.rooms.get(room);
    if (entry?.everJoined) return Promise.resolve(this.info(entry, false));
    if (!entry) {
      entry = {
        state: new RoomState(room),
        presence: new RoomPresence(),
        waiters: [],
        everJoined: false,
        syncAgain: false,
        filling: false,
        older: Promise.resolve(),
        refreshing: false,
        refreshes: 0,
      };
      this.rooms.set(room, entry);
      if (this.connection.connected) this.sync(entry);
    }
    const waiting = entry;
    return new Promise((resolve, reject) => waiting.waiters.push({ resolve, reject }));
  }

  /** Leaves a room: no more messages from it; its pending sends fail with `not_joined`. */
  async leave(room: string): Promise<void> {
    const entry = this.rooms.get(room);
    if (!entry) return;
    this.forget(entry, new ParleyError('closed', `left ${room}`), new ParleyError('not_joined', `left ${room}`));
    if (this.connection.connected) {
      // A failure needs nothing more: a connection that dropped left the room with it.
      await this.connection.request('room:leave', { room }).catch(() => undefined);
    }
  }

  /** The rooms joined (or being joined), in the order they were joined. */
  joinedRooms(): string[] {
    return [...this.rooms.keys()];
  }

  /** The users present in a joined room, on every instance. */
  members(room: string): User[] {
    return [...(this.rooms.get(room)?.presence.members ?? [])];
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
      const answer = await this.connection.request('room:history', { room, before: state.oldestSeq, limit });
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
    if (this.rooms.get(room)?.state.joined) this.connection.notify('typing', { room, typing });
  }

  /**
   * Disconnects and stops every timer. Pending sends and joins reject with
   * `closed`. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const error = new ParleyError('closed', 'the client was closed');
    for (const entry of [...this.rooms.values()]) this.forget(entry, error, error);
    this.outbox.close(error);
    this.connection.close();
  }

  private onConnect(): void {
    for (const entry of this.rooms.values()) {
      entry.state.joined = false;
      this.sync(entry);
    }
  }

  private onDisconnect(): void {
    for (const entry of this.rooms.values()) {
      entry.state.joined = false;
      entry.presence.reset();
      this.clearGapTimer(entry);
      this.clearPresenceTimer(entry);
    }
  }

  // ---- rooms ----

  /** Whether `entry` is still wanted and its requests can go out. */
  private live(entry: RoomEntry): boolean {
    return this.current(entry) && this.connection.connected;
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
        answer = await this.connection.request('room:join', since === undefined ? { room } : { room, since });
      } catch {
        if (!this.live(entry)) return;
        await this.connection.sleep(backoffDelay(++attempt, this.backoff));
        continue;
      }
      if (!this.current(entry)) {
        // Left while the join was in flight: undo it on the server.
        if (answer.ok) this.connection.notify('room:leave', { room });
        return;
      }
      if (!answer.ok) {
        const error = ParleyError.fromBody(answer.error);
        if (this.refusedForGood(entry, error)) return;
        await this.connection.sleep(error.retryAfterMs ?? backoffDelay(++attempt, this.backoff));
        continue;
      }
      if (entry.presence.take(answer.members, answer.presenceVersion)) this.emitMembers(entry);
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
      this.checkPresenceGap(entry);
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
        answer = await this.connection.request('room:history', { room: state.name, after: state.lastSeq, limit: HISTORY_MAX_LIMIT });
      } catch {
        if (!this.live(entry)) return false;
        await this.connection.sleep(backoffDelay(++attempt, this.backoff));
        continue;
      }
      if (!this.current(entry)) return false;
      if (!answer.ok) {
        const error = ParleyError.fromBody(answer.error);
        if (isPermanent(error.code)) {
          this.emit('error', error);
          return false;
        }
        await this.connection.sleep(error.retryAfterMs ?? backoffDelay(++attempt, this.backoff));
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
    if (!entry || typeof event.user?.id !== 'string' || (event.event !== 'join' && event.event !== 'leave')) return;
    // Older than the member list held, or a repeat: it changes nothing.
    if (!entry.presence.offer(event)) return;
    this.emitMembers(entry);
    this.emit('presence', event);
    this.checkPresenceGap(entry);
  }

  private emitMembers(entry: RoomEntry): void {
    this.emit('members', { room: entry.state.name, members: [...entry.presence.members] });
  }

  /**
   * A presence event that skipped a version waits `gapFillMs` for the missing
   * one (events from different instances arrive in any order); if it is
   * still missing, it was lost, and the member list is fetched again.
   */
  private checkPresenceGap(entry: RoomEntry): void {
    if (!entry.presence.hasGap || !entry.state.joined || !this.current(entry)) {
      if (!entry.refreshing) entry.refreshes = 0;
      return this.clearPresenceTimer(entry);
    }
    if (entry.presenceTimer !== undefined || entry.refreshing) return;
    const delay = entry.refreshes === 0 ? this.gapFillMs : backoffDelay(entry.refreshes, this.backoff);
    entry.presenceTimer = setTimeout(() => {
      entry.presenceTimer = undefined;
      if (entry.presence.hasGap && entry.state.joined && this.live(entry)) this.refreshPresence(entry);
    }, delay);
  }

  /**
   * Fetches the room's member list again with a `room:join` of the joined
   * room, which changes nothing on the server and answers the members with
   * their version. `since` is the last seq handed over: only newer messages
   * come with it, and they go through the room's ordering like any other.
   */
  private refreshPresence(entry: RoomEntry): void {
    // A join under way (after a reconnect) answers a fresh list already.
    if (entry.syncing) return;
    const { state } = entry;
    const room = state.name;
    entry.refreshing = true;
    entry.refreshes++;
    const since = state.lastSeq;
    this.connection
      .request('room:join', since === undefined ? { room } : { room, since })
      .then(async (answer) => {
        if (!this.current(entry)) return;
        if (!answer.ok) {
          this.refusedForGood(entry, ParleyError.fromBody(answer.error));
          return;
        }
        if (entry.presence.take(answer.members, answer.presenceVersion)) this.emitMembers(entry);
        this.deliver(entry, state.offerPage(answer.messages));
        if (answer.hasMore) await this.readAfter(entry);
      })
      // A dropped connection or a timeout: the re-join or the next attempt will do.
      .catch(() => undefined)
      .then(() => {
        entry.refreshing = false;
        this.checkPresenceGap(entry);
      });
  }

  private clearPresenceTimer(entry: RoomEntry): void {
    clearTimeout(entry.presenceTimer);
    entry.presenceTimer = undefined;
  }

  private info(entry: RoomEntry, rejoin: boolean): JoinInfo {
    const { state } = entry;
    return { room: state.name, seq: state.lastSeq ?? 0, members: [...entry.presence.members], hasOlder: state.hasOlder, rejoin };
  }

  private settleWaiters(entry: RoomEntry, outcome: JoinInfo | ParleyError): void {
    for (const waiter of entry.waiters.splice(0)) {
      if (outcome instanceof ParleyError) waiter.reject(outcome);
      else waiter.resolve(outcome);
    }
  }

  /** A join refused for good (a bad or forbidden room): the room is forgotten and the error reported. */
  private refusedForGood(entry: RoomEntry, error: ParleyError): boolean {
    if (!isPermanent(error.code)) return false;
    this.forget(entry, error, error);
    this.emit('error', error);
    return true;
  }

  /** Drops a room: its joins reject with `joinError`, its sends fail with `sendError`. */
  private forget(entry: RoomEntry, joinError: ParleyError, sendError: ParleyError): void {
    this.rooms.delete(entry.state.name);
    this.clearGapTimer(entry);
    this.clearPresenceTimer(entry);
    this.settleWaiters(entry, joinError);
    this.outbox.dropRoom(entry.state.name, sendError);
  }
}

/** `new ParleyClient(options)`. */
export function connect(options: ParleyClientOptions): ParleyClient {
  return new ParleyClient(options);
}
