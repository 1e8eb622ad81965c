/**
 * Message history in memory, for a single instance.
 */
import type { Message } from '../../protocol';
import { IDEMPOTENCY_WINDOW_MS } from '../../protocol';
import type { AppendInput, AppendResult, MessageStore, Page } from './types';

interface RoomLog {
  /** The last `historyMax` messages; `messages[i].seq === firstSeq + i`. */
  messages: Message[];
  seq: number;
  /** The room's latest rev: every change takes the next one. */
  rev: number;
}

/** A single instance's history, in memory. Keeps `historyMax` messages per room. */
export class MemoryMessageStore implements MessageStore {
  private readonly rooms = new Map<string, RoomLog>();
  /** `user.id \0 room \0 clientId` → message and when the key expires. */
  private readonly keys = new Map<string, { message: Message; expires: number }>();
  private lastSweep = 0;

  constructor(
    private readonly historyMax: number,
    private readonly now: () => number = Date.now,
  ) {}

  async append(input: AppendInput): Promise<AppendResult> {
    const now = this.now();
    this.sweep(now);
    const key = `${input.user.id}\0${input.room}\0${input.clientId}`;
    const seen = this.keys.get(key);
    if (seen && seen.expires > now) return { message: seen.message, duplicate: true };

    const log = this.log(input.room, true);
    const message: Message = { ...input, user: { ...input.user }, seq: log.seq + 1, rev: log.rev + 1, reactions: {} };
    log.seq = message.seq;
    log.rev = message.rev;
    log.messages.push(message);
    // Trim in batches so that a full room does not shift its array on every send.
    if (log.messages.length > this.historyMax + Math.max(16, this.historyMax >> 4)) {
      log.messages.splice(0, log.messages.length - this.historyMax);
    }
    this.keys.set(key, { message, expires: now + IDEMPOTENCY_WINDOW_MS });
    return { message, duplicate: false };
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
    return rooms.map((room) => this.rooms.get(room)?.seq ?? 0);
  }

  async lastRevs(rooms: string[]): Promise<number[]> {
    return rooms.map((room) => this.rooms.get(room)?.rev ?? 0);
  }

  /** A room's log and the index of its oldest message still kept (at most `historyMax` are). */
  private kept(room: string): { all: Message[]; start: number } {
    const all = this.log(room, false)?.messages ?? [];
    return { all, start: Math.max(0, all.length - this.historyMax) };
  }

  private log(room: string, create: true): RoomLog;
  private log(room: string, create: false): RoomLog | undefined;
  private log(room: string, create: boolean): RoomLog | undefined {
    let log = this.rooms.get(room);
    if (!log && create) {
      log = { messages: [], seq: 0, rev: 0 };
      this.rooms.set(room, log);
    }
    return log;
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
