import { CHANGES_MAX_LIMIT, HISTORY_DEFAULT_LIMIT, type JoinAnswer, type JoinPayload, type Message, type Ok, type PresenceEvent, type User } from '../../protocol';
import { backoffDelay, type BackoffOptions } from '../../common/backoff';
import type { AnswerOf, Connection, PayloadOf, RequestEvent } from './connection';
import { asParleyError, isPermanent, ParleyError } from './errors';
import { RoomPresence } from './presence';
import { requestWithRetry } from './retry';
import { RoomState, type Handover } from './room';
import type { JoinInfo, OlderPage, ParleyClientEvents } from './types';

/** The application events a room hands over itself. */
type RoomEvents = Pick<ParleyClientEvents, 'message' | 'update' | 'skipped' | 'members' | 'presence' | 'error'>;

/** What a room needs from the client around it. */
export interface RoomLink {
  readonly connection: Connection;
  /** See `ParleyClientOptions.gapFillMs`. */
  readonly gapFillMs: number;
  readonly backoff: BackoffOptions;
  /** Hands an event to the application. */
  tell<E extends keyof RoomEvents>(event: E, ...args: Parameters<RoomEvents[E]>): void;
  /** The room was joined (again) on this connection: every change up to `info.rev` was handed over. */
  joined(info: JoinInfo): void;
  /** The room can never be joined (a bad or forbidden room): the client drops it and says why. */
  refused(room: RoomSync, error: ParleyError): void;
}

/**
 * One joined room kept in step with the server, on whatever connection is
 * current: the join, and after every reconnect the re-join and the catch-up
 * with `room:changes` after the last rev, page by page while `hasMore`; the
 * wait for a change that came early and the same catch-up to fill the gap;
 * the wait for a missing presence version and the fetch of a fresh member
 * list; and `loadOlder`. It decides when to ask; `RoomState` (rev and seq
 * order) and `RoomPresence` (member list) keep the books.
 */
export class RoomSync {
  private readonly state: RoomState;
  private readonly presence = new RoomPresence();
  /** Joined on the current connection (false again after a disconnect, or a `not_joined`). */
  private joinedHere = false;
  /** A join answer was taken once: the next one is a re-join. */
  private everJoined = false;
  /** Left, refused, or the client closed: nothing more is asked or handed over. */
  private gone = false;
  /** The `whenJoined()` callers' promise, until the first join answer (or a refusal). */
  private waiting: Deferred<JoinInfo> | undefined;
  /** The join in progress, and whether another must follow it. */
  private syncing: Promise<void> | undefined;
  private syncAgain = false;
  /** A gap waits for this timer before its `room:changes` read. */
  private gapTimer: ReturnType<typeof setTimeout> | undefined;
  /** Catch-ups (after a join, or to fill a gap) under way or waiting their turn, one after the other. */
  private catching = 0;
  private catchUps: Promise<void> = Promise.resolve();
  /** A presence gap waits for this timer before the member list is fetched again. */
  private presenceTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshing = false;
  /** Fetches in a row that left a presence gap, for the backoff. */
  private refreshes = 0;
  /** `loadOlder` calls, one after the other. */
  private older: Promise<unknown> = Promise.resolve();
  /** While a `loadOlder` page is read: the states handed over meanwhile, by id, newer than what the page may say. */
  private handedDuringOlder: Map<string, Message> | undefined;

  constructor(
    readonly room: string,
    private readonly link: RoomLink,
  ) {
    this.state = new RoomState(room);
  }

  /** Whether the room is joined on the current connection, so that its sends may go out. */
  get joined(): boolean {
    return this.joinedHere;
  }

  /** The last `seq` handed to the application; undefined before the first join answer. */
  get lastSeq(): number | undefined {
    return this.state.lastSeq;
  }

  /** Every change up to this `rev` was handed to the application; undefined before the first join answer. */
  get lastRev(): number | undefined {
    return this.state.lastRev;
  }

  /** The users present, in presence-version order. */
  get members(): User[] {
    return this.presence.members;
  }

  /** Resolves once the room was joined (at once if it was, once); rejects if it is dropped first or the handshake is refused. */
  whenJoined(): Promise<JoinInfo> {
    if (this.everJoined) return Promise.resolve(this.info(false));
    this.waiting ??= deferred();
    return this.waiting.promise;
  }

  /**
   * Joins the room on the current connection (again, after a reconnect or a
   * `not_joined`); one join at a time, and one more if asked meanwhile.
   */
  sync(): void {
    this.joinedHere = false;
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    this.syncing = this.runSync()
      .catch((err: unknown) => this.fail(err))
      .then(() => {
        this.syncing = undefined;
        const again = this.syncAgain;
        this.syncAgain = false;
        if (again && this.live() && !this.joinedHere) this.sync();
      });
  }

  /** The connection dropped: the room is no longer joined on it, and presence events were missed. */
  disconnected(): void {
    this.joinedHere = false;
    this.presence.reset();
    this.clearGapTimer();
    this.clearPresenceTimer();
  }

  /**
   * A message's state, by whatever path (`message`, `message:update`, the
   * answer of a send or a change): handed over in rev order.
   */
  offer(message: Message): void {
    if (typeof message.seq !== 'number' || typeof message.rev !== 'number' || typeof message.id !== 'string') return;
    this.deliver(this.state.offer(message));
  }

  /** A presence event of the room. */
  offerPresence(event: PresenceEvent): void {
    if (typeof event.user?.id !== 'string' || (event.event !== 'join' && event.event !== 'leave')) return;
    // Older than the member list held, or a repeat: it changes nothing.
    if (!this.presence.offer(event)) return;
    this.tellMembers();
    this.link.tell('presence', event);
    this.checkPresenceGap();
  }

  /** See `ParleyClient.loadOlder`. */
  loadOlder(limit = HISTORY_DEFAULT_LIMIT): Promise<OlderPage> {
    const page = this.older.then(async (): Promise<OlderPage> => {
      const { state } = this;
      if (state.oldestSeq === undefined || !state.hasOlder) return { messages: [], hasMore: false };
      const handed = (this.handedDuringOlder = new Map());
      try {
        const answer = await this.link.connection.request('room:history', { room: this.room, before: state.oldestSeq, limit });
        if (!answer.ok) throw ParleyError.fromBody(answer.error);
        state.older(answer.messages, answer.hasMore);
        // A change handed over while the page was on its way is newer than the page may say.
        const messages = answer.messages.map((m) => (handed.get(m.id)?.rev ?? 0) > m.rev ? handed.get(m.id)! : m);
        return { messages, hasMore: answer.hasMore };
      } finally {
        this.handedDuringOlder = undefined;
      }
    });
    this.older = page.catch(() => undefined);
    return page;
  }

  /** Rejects the `whenJoined()` callers (the handshake was refused); the room stays, to be joined once connected. */
  rejectWaiting(error: ParleyError): void {
    this.waiting?.reject(error);
    this.waiting = undefined;
  }

  /** Drops the room: every timer stops, nothing more is asked, waiting joins reject with `error`. */
  close(error: ParleyError): void {
    this.gone = true;
    this.clearGapTimer();
    this.clearPresenceTimer();
    this.rejectWaiting(error);
  }

  /** Leaves the room on the server; a failure needs nothing more: a connection that dropped left the room with it. */
  leaveOnServer(): Promise<void> {
    return this.link.connection.request('room:leave', { room: this.room }).then(
      () => undefined,
      () => undefined,
    );
  }

  /** The room as a UI draws it. */
  private info(rejoin: boolean): JoinInfo {
    const { state } = this;
    return { room: this.room, seq: state.lastSeq ?? 0, rev: state.lastRev ?? 0, members: [...this.presence.members], hasOlder: state.hasOlder, rejoin };
  }

  /** Whether requests for the room can go out: still wanted, and connected. */
  private live(): boolean {
    return !this.gone && this.link.connection.connected;
  }

  /**
   * `room:join`, with `since` once the room has a last seq, and what follows
   * it; then the room counts as joined here and its queued sends go out.
   */
  private async runSync(): Promise<void> {
    const answer = await this.requestJoin();
    if (!answer || !(await this.takeJoin(answer)) || !this.live()) return;
    this.joinedHere = true;
    const info = this.info(this.everJoined);
    this.everJoined = true;
    this.waiting?.resolve(info);
    this.waiting = undefined;
    this.link.joined(info);
    this.checkGap();
    this.checkPresenceGap();
  }

  /** A `room:join` retried until answered; undefined if cut short, and the room dropped if it is refused for good. */
  private async requestJoin(): Promise<Ok<JoinAnswer> | undefined> {
    const payload = (): JoinPayload => (this.state.lastSeq === undefined ? { room: this.room } : { room: this.room, since: this.state.lastSeq });
    // Left while the join was in flight: undo it on the server.
    const late = () => void this.leaveOnServer();
    try {
      return await this.request('room:join', payload, late);
    } catch (err) {
      this.fail(err);
      return undefined;
    }
  }

  /**
   * Takes a join answer: its member list, then its messages. The first
   * answer starts the sequence at its latest page; a re-join catches up
   * with `room:changes` when the room's rev moved on (the answer's own
   * messages are among those changes). Answers false if the reading was
   * cut short.
   */
  private async takeJoin(answer: Ok<JoinAnswer>): Promise<boolean> {
    if (this.presence.take(answer.members, answer.presenceVersion)) this.tellMembers();
    const { state } = this;
    if (state.lastRev === undefined) {
      this.deliver(state.begin(answer.messages, answer.hasMore, answer.seq, answer.rev));
      return true;
    }
    return answer.rev <= state.lastRev || this.catchUp();
  }

  /**
   * Reads every change after the last rev with `room:changes`, page by page
   * while `hasMore`, and hands it over (`RoomState.catchUp`). One read at a
   * time: a catch-up asked for while another runs follows it. Answers false
   * if it was cut short (disconnected, left, refused).
   */
  private catchUp(): Promise<boolean> {
    this.catching++;
    const run = this.catchUps.then(() => this.readChanges());
    this.catchUps = run.then(
      () => undefined,
      () => undefined,
    );
    return run.finally(() => this.catching--);
  }

  private async readChanges(): Promise<boolean> {
    const messages: Message[] = [];
    let after = this.state.lastRev ?? 0;
    for (;;) {
      let answer: Ok<AnswerOf<'room:changes'>> | undefined;
      try {
        answer = await this.request('room:changes', () => ({ room: this.room, after, limit: CHANGES_MAX_LIMIT }));
      } catch (err) {
        this.link.tell('error', asParleyError(err));
        return false;
      }
      if (!answer) return false;
      messages.push(...answer.messages);
      const last = answer.messages.at(-1);
      if (!answer.hasMore || !last) {
        this.deliver(this.state.catchUp(messages, answer.rev));
        return true;
      }
      after = last.rev;
    }
  }

  private request<E extends RequestEvent>(event: E, payload: () => PayloadOf<E>, late?: () => void): Promise<Ok<AnswerOf<E>> | undefined> {
    return requestWithRetry(this.link.connection, event, payload, { live: () => this.live(), backoff: this.link.backoff, late });
  }

  private deliver(handovers: Handover[]): void {
    for (const handover of handovers) {
      // A listener may have left the room (or closed the client) meanwhile.
      if (this.gone) return;
      if (handover.kind === 'skipped') {
        this.link.tell('skipped', handover.skipped);
        continue;
      }
      this.handedDuringOlder?.set(handover.message.id, handover.message);
      if (handover.kind === 'message') this.link.tell('message', handover.message);
      else this.link.tell('update', handover.message);
    }
    this.checkGap();
  }

  /**
   * A change that came early waits `gapFillMs` for the ones before it (they
   * are usually just behind); then they are read with `room:changes`.
   */
  private checkGap(): void {
    if (!this.state.hasGap || !this.joinedHere || this.gone) return this.clearGapTimer();
    if (this.gapTimer !== undefined || this.catching > 0) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = undefined;
      if (!this.state.hasGap || !this.live()) return;
      this.catchUp()
        .catch((err: unknown) => this.fail(err))
        .then(() => this.checkGap());
    }, this.link.gapFillMs);
  }

  private clearGapTimer(): void {
    clearTimeout(this.gapTimer);
    this.gapTimer = undefined;
  }

  private tellMembers(): void {
    this.link.tell('members', { room: this.room, members: [...this.presence.members] });
  }

  /**
   * A presence event that skipped a version waits `gapFillMs` for the missing
   * one (events from different instances arrive in any order); if it is
   * still missing, it was lost, and the member list is fetched again.
   */
  private checkPresenceGap(): void {
    if (!this.presence.hasGap || !this.joinedHere || this.gone) {
      if (!this.refreshing) this.refreshes = 0;
      return this.clearPresenceTimer();
    }
    if (this.presenceTimer !== undefined || this.refreshing) return;
    const delay = this.refreshes === 0 ? this.link.gapFillMs : backoffDelay(this.refreshes, this.link.backoff);
    this.presenceTimer = setTimeout(() => {
      this.presenceTimer = undefined;
      if (this.presence.hasGap && this.joinedHere && this.live()) this.refreshPresence();
    }, delay);
  }

  /**
   * Fetches the member list again with a `room:join` of the joined room,
   * which changes nothing on the server and answers the members with their
   * version. `since` is the last seq handed over: only newer messages come
   * with it, and a rev past the last one catches up like any re-join.
   */
  private refreshPresence(): void {
    // A join under way (after a reconnect) answers a fresh list already.
    if (this.syncing) return;
    this.refreshing = true;
    this.refreshes++;
    this.requestJoin()
      .then((answer) => answer && this.takeJoin(answer))
      .catch((err: unknown) => this.fail(err))
      .then(() => {
        this.refreshing = false;
        this.checkPresenceGap();
      });
  }

  private clearPresenceTimer(): void {
    clearTimeout(this.presenceTimer);
    this.presenceTimer = undefined;
  }

  /** A join refused for good drops the room; anything else unexpected is reported. */
  private fail(err: unknown): void {
    const error = asParleyError(err);
    if (this.gone) return;
    if (isPermanent(error.code)) this.link.refused(this, error);
    else this.link.tell('error', error);
  }
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: ParleyError): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: Deferred<T>['resolve'];
  let reject!: Deferred<T>['reject'];
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
