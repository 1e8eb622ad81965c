/**
 * Message history in memory, for a single instance: the log of each room by
 * `seq`, its changes indexed by `rev`, and the idempotency references. What
 * it keeps is bounded whatever clients do: `historyMax` messages per room,
 * `maxMessages` in all and `maxRooms` rooms, the rooms written least recently
 * dropped first.
 */
import type { Message } from '../../protocol';
import { IDEMPOTENCY_WINDOW_MS } from '../../protocol';
import { applyChange, refused } from './change';
import { storedMessage, type SendRef } from './send-ref';
import type { AppendInput, AppendResult, ChangeInput, ChangeResult, ChangesPage, MessageStore, Page } from './types';

interface RoomLog {
  /** The last `historyMax` messages (and a few more, trimmed in batches), current state; `messages[i].seq === messages[0].seq + i`. */
  messages: Message[];
  seq: number;
  /** The room's latest rev: every change takes the next one. */
  rev: number;
  /** Message id → seq, for the messages in `messages`. */
  ids: Map<string, number>;
  /**
   * Every message's latest change, ascending by rev: `revs[i]` is the rev
   * that message `seqs[i]` took. A change appends an entry and leaves the
   * message's previous one behind, dead (its rev is no longer the message's);
   * so are the entries of trimmed messages. Dead entries are skipped when
   * read and dropped once they are as many as the live ones, so a read
   * after a rev is a binary search and a walk over what it answers.
   */
  revs: number[];
  seqs: number[];
  dead: number;
}


/** A single instance's history, in memory. Keeps `historyMax` messages per room, `maxMessages` in all, and `maxRooms` rooms. */
export class MemoryMessageStore implements MessageStore {
  /** In the order they were last written to: the first is the next to go when there are too many messages. */
  private readonly rooms = new Map<string, RoomLog>();
  /** `user.id \0 room \0 clientId` → a reference to the message it stored, and when it expires; oldest first. */
  private readonly keys = new Map<string, SendRef & { expires: number }>();
  private lastSweep = 0;
  /** Messages in all the logs. */
  private total = 0;
  /**
   * The highest seq or rev a dropped room had reached: a room written again
   * after it was dropped counts on from there, so that a client holding its
   * old seqs sees older messages skipped, never the numbers start again.
   */
  private floor = 0;

  constructor(
    private readonly historyMax: number,
    private readonly now: () => number = Date.now,
    private readonly maxMessages = Number.POSITIVE_INFINITY,
    private readonly maxRooms = Number.POSITIVE_INFINITY,
  ) {}

  async append(input: AppendInput): Promise<AppendResult> {
    const now = this.now();
    this.sweep(now);
    const key = `${input.user.id}\0${input.room}\0${input.clientId}`;
    const seen = this.keys.get(key);
    if (seen && seen.expires > now) return { message: this.resent(input, seen), duplicate: true };

    const log = this.log(input.room, true);
    // Last written, last to go.
    this.rooms.delete(input.room);
    this.rooms.set(input.room, log);
    const { id, room, clientId, user, text, ts } = input;
    const message: Message = { seq: log.seq + 1, rev: log.rev + 1, id, room, clientId, user: { id: user.id, name: user.name }, text, ts, reactions: {} };
    log.seq = message.seq;
    log.rev = message.rev;
    log.messages.push(message);
    this.total++;
    log.ids.set(message.id, message.seq);
    this.indexRev(log, message);
    // Trim in batches so that a full room does not shift its array on every send.
    if (log.messages.length > this.historyMax + Math.max(16, this.historyMax >> 4)) {
      const trimmed = log.messages.splice(0, log.messages.length - this.historyMax);
      for (const m of trimmed) log.ids.delete(m.id);
      this.total -= trimmed.length;
      log.dead += trimmed.length;
      this.compact(log);
    }
    this.keys.set(key, { seq: message.seq, rev: message.rev, id: message.id, ts: message.ts, expires: now + IDEMPOTENCY_WINDOW_MS });
    this.bound(input.room);
    return { message, duplicate: false };
  }

  async change(input: ChangeInput): Promise<ChangeResult> {
    const log = this.log(input.room, false);
    const seq = log?.ids.get(input.id);
    const current = log && seq !== undefined ? this.keptMessage(log, seq) : undefined;
    if (!log || !current) throw refused('not_found', input);
    const next = applyChange(current, input);
    if (!next) return { message: current, changed: false };
    next.rev = ++log.rev;
    log.messages[current.seq - log.messages[0].seq] = next;
    log.dead++;
    this.indexRev(log, next);
    this.compact(log);
    return { message: next, changed: true };
  }

  async changes(room: string, after: number, limit: number): Promise<ChangesPage> {
    const log = this.log(room, false);
    if (!log) return { messages: [], rev: this.floor, hasMore: false };
    const messages: Message[] = [];
    let hasMore = false;
    for (let i = firstAbove(log.revs, after); i < log.revs.length; i++) {
      const message = this.keptMessage(log, log.seqs[i]);
      if (message?.rev !== log.revs[i]) continue;
      if (messages.length === limit) {
        hasMore = true;
        break;
      }
      messages.push(message);
    }
    return { messages, rev: log.rev, hasMore };
  }

  async latest(room: string, limit: number): Promise<Page> {
    const { all, start } = this.kept(room);
    const from = Math.max(start, all.length - limit);
    return { messages: all.slice(from), hasMore: from > start };
  }

  async before(room: string, before: number, limit: number): Promise<Page> {
    const { all, start } = this.kept(room);
    if (all.length === start) return { messages: [], hasMore: false };
    const end = clamp(start + before - all[start].seq, start, all.length);
    const from = Math.max(start, end - limit);
    return { messages: all.slice(from, end), hasMore: from > start };
  }

  async after(room: string, after: number, limit: number): Promise<Page> {
    const { all, start } = this.kept(room);
    if (all.length === start) return { messages: [], hasMore: false };
    const from = clamp(start + after + 1 - all[start].seq, start, all.length);
    const end = Math.min(all.length, from + limit);
    return { messages: all.slice(from, end), hasMore: end < all.length };
  }

  async lastSeqs(rooms: string[]): Promise<number[]> {
    return rooms.map((room) => this.rooms.get(room)?.seq ?? this.floor);
  }

  async lastRevs(rooms: string[]): Promise<number[]> {
    return rooms.map((room) => this.rooms.get(room)?.rev ?? this.floor);
  }

  /** A repeated send's answer: the message in its current state while it is kept. */
  private resent(input: AppendInput, ref: SendRef): Message {
    const log = this.log(input.room, false);
    return (log && this.keptMessage(log, ref.seq)) || storedMessage(input, ref);
  }

  /** A room's log and the index of its oldest message still kept (at most `historyMax` are). */
  private kept(room: string): { all: Message[]; start: number } {
    const all = this.log(room, false)?.messages ?? [];
    return { all, start: Math.max(0, all.length - this.historyMax) };
  }

  /** The message with `seq`, if it is one of the last `historyMax`. */
  private keptMessage(log: RoomLog, seq: number): Message | undefined {
    const { messages } = log;
    if (messages.length === 0 || seq <= log.seq - this.historyMax) return undefined;
    return messages[seq - messages[0].seq];
  }

  private indexRev(log: RoomLog, message: Message): void {
    log.revs.push(message.rev);
    log.seqs.push(message.seq);
  }

  /** Drops the dead entries of the rev index once they are as many as the live ones. */
  private compact(log: RoomLog): void {
    if (log.dead < 64 || log.dead * 2 < log.revs.length) return;
    let n = 0;
    for (let i = 0; i < log.revs.length; i++) {
      if (this.keptMessage(log, log.seqs[i])?.rev !== log.revs[i]) continue;
      log.revs[n] = log.revs[i];
      log.seqs[n] = log.seqs[i];
      n++;
    }
    log.revs.length = n;
    log.seqs.length = n;
    log.dead = 0;
  }

  private log(room: string, create: true): RoomLog;
  private log(room: string, create: false): RoomLog | undefined;
  private log(room: string, create: boolean): RoomLog | undefined {
    let log = this.rooms.get(room);
    if (!log && create) {
      log = { messages: [], seq: this.floor, rev: this.floor, ids: new Map(), revs: [], seqs: [], dead: 0 };
      this.rooms.set(room, log);
    }
    return log;
  }

  /**
   * Past `maxMessages` or `maxRooms`, drops the rooms written least recently
   * (never `keep`, the one just written) and the oldest idempotency keys: a
   * resend older than the last `maxMessages` sends is then stored again.
   */
  private bound(keep: string): void {
    for (const [room, log] of this.rooms) {
      if ((this.total <= this.maxMessages && this.rooms.size <= this.maxRooms) || room === keep) break;
      this.rooms.delete(room);
      this.total -= log.messages.length;
      this.floor = Math.max(this.floor, log.seq, log.rev);
    }
    for (const key of this.keys.keys()) {
      if (this.keys.size <= this.maxMessages) break;
      this.keys.delete(key);
    }
  }

  /** Drops expired idempotency keys, at most once a minute. */
  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [key, entry] of this.keys) if (entry.expires <= now) this.keys.delete(key);
  }
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}

/** The index of the first element of ascending `values` above `x` (its length if none). */
function firstAbove(values: number[], x: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
