import type { Message } from '../../protocol';
import type { SkippedEvent } from './types';

/**
 * How many out-of-order messages a room holds while it waits for a gap to
 * fill. Past that, newer arrivals are dropped here: the history read that
 * fills the gap pages on to the newest message, so they come back that way.
 */
const MAX_PENDING = 1000;

/** What a room hands the application, in order: each is one event of `ParleyClient`. */
export type Handover = { kind: 'message'; message: Message } | { kind: 'skipped'; skipped: SkippedEvent };

/**
 * One room's ordering state: the last `seq` handed to the application and
 * the messages that came early. Every message, from whatever path (live
 * broadcast, join answer, history, send answer), goes through `offer`, which
 * hands back only what continues the sequence, in order, each once.
 *
 * Pure bookkeeping: no timers, no socket. `RoomSync` decides when to read
 * history and calls back in with what it got.
 */
export class RoomState {
  /** The last `seq` handed to the application; undefined until the first join answer. */
  lastSeq: number | undefined;
  /** The lowest `seq` the application has (from the join page, live, or `loadOlder`). */
  oldestSeq: number | undefined;
  /** Whether messages older than `oldestSeq` exist. */
  hasOlder = false;
  /** Messages that came before their turn, by `seq`. */
  private readonly early = new Map<number, Message>();

  constructor(readonly name: string) {}

  /** Whether messages are waiting on a missing `seq`. */
  get hasGap(): boolean {
    return this.early.size > 0;
  }

  /**
   * Takes one message; answers what may now be handed over, in order (none
   * if it is a repeat or came early).
   */
  offer(message: Message): Handover[] {
    if (this.lastSeq !== undefined && message.seq <= this.lastSeq) return [];
    if (this.early.size < MAX_PENDING) this.early.set(message.seq, message);
    return this.drain();
  }

  /**
   * Takes the answer of a join without `since`: the latest page starts the
   * sequence. Early messages that it covers are dropped as repeats.
   */
  begin(messages: Message[], hasOlder: boolean, roomSeq: number): Handover[] {
    if (messages.length > 0) {
      this.lastSeq = messages[0].seq - 1;
      this.oldestSeq = messages[0].seq;
      this.hasOlder = hasOlder;
    } else {
      // An empty room: its messages start after the room's current seq.
      this.lastSeq = roomSeq;
      this.hasOlder = false;
    }
    return this.offerPage(messages);
  }

  /**
   * Takes a page read from the store of what follows `lastSeq` (a join with
   * `since`, or `room:history` with `after`). The store's pages are
   * contiguous, so seqs missing before the page's first message no longer
   * exist (history trimmed): the sequence skips them instead of waiting,
   * each run of them told once as `skipped`. Early messages among them are
   * handed over in their place.
   */
  offerPage(messages: Message[]): Handover[] {
    const out: Handover[] = [];
    const first = messages[0];
    if (first && this.lastSeq !== undefined && first.seq > this.lastSeq + 1) {
      const held = [...this.early.keys()].filter((seq) => seq < first.seq).sort((a, b) => a - b);
      for (const next of [...held, first.seq]) {
        if (next > this.lastSeq + 1) {
          out.push({ kind: 'skipped', skipped: { room: this.name, from: this.lastSeq + 1, to: next - 1 } });
          this.lastSeq = next - 1;
        }
        out.push(...this.drain());
      }
    }
    for (const message of messages) out.push(...this.offer(message));
    return out;
  }

  /** Notes a page read with `before`, for the next `loadOlder`. */
  older(messages: Message[], hasMore: boolean): void {
    if (messages.length > 0) this.oldestSeq = Math.min(this.oldestSeq ?? Infinity, messages[0].seq);
    this.hasOlder = hasMore;
  }

  /** Hands over what continues the sequence; forgets early messages made repeats. */
  private drain(): Handover[] {
    if (this.lastSeq === undefined) return [];
    const from = this.lastSeq + 1;
    const out: Handover[] = [];
    for (let next = this.early.get(this.lastSeq + 1); next; next = this.early.get(this.lastSeq + 1)) {
      this.early.delete(next.seq);
      this.lastSeq = next.seq;
      out.push({ kind: 'message', message: next });
    }
    for (const seq of this.early.keys()) if (seq <= this.lastSeq) this.early.delete(seq);
    if (out.length > 0 && this.oldestSeq === undefined) this.oldestSeq = from;
    return out;
  }
}
