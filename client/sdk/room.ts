import type { Message } from '../../protocol';
import type { SkippedEvent } from './types';

/**
 * How many out-of-order changes a room holds while it waits for a gap to
 * fill. Past that, newer arrivals are dropped here: the `room:changes` read
 * that fills the gap pages on to the newest change, so they come back that way.
 */
const MAX_PENDING = 1000;

/** What a room hands the application, in order: each is one event of `ParleyClient`. */
export type Handover =
  | { kind: 'message'; message: Message }
  | { kind: 'update'; message: Message }
  | { kind: 'skipped'; skipped: SkippedEvent };

/**
 * One room's ordering state: the last `seq` and the last `rev` handed to the
 * application, and the changes that came early. Every change of the room (a
 * new message, an edit, a deletion, a reaction) takes the room's next `rev`,
 * and a new message's `rev` follows every older message's, so handing changes
 * over in `rev` order hands new messages over in `seq` order too.
 *
 * Three entry points, one per path:
 * - `offer`: one message's state, live (`message`, `message:update`) or from
 *   an answer (a send's, an edit's): held by `rev` and handed over once every
 *   rev before it was, as `message` if it is the next new message, else as
 *   `update`; a rev already handed over is a repeat and dropped;
 * - `begin`: the first join's page, which starts the sequence;
 * - `catchUp`: every change after `lastRev`, read with `room:changes` (after
 *   a re-join, or to fill a gap): new messages in `seq` order, then the
 *   changes of older ones in `rev` order.
 *
 * Pure bookkeeping: no timers, no socket. `RoomSync` decides when to read
 * and calls back in with what it got.
 */
export class RoomState {
  /** The last `seq` handed over as `message`; undefined until the first join answer. */
  lastSeq: number | undefined;
  /** Every change with a rev up to this one is in what was handed over; undefined until the first join answer. */
  lastRev: number | undefined;
  /** The lowest `seq` the application has (from the join page, live, or `loadOlder`). */
  oldestSeq: number | undefined;
  /** Whether messages older than `oldestSeq` exist. */
  hasOlder = false;
  /** Message states that came before their turn, by `rev`. */
  private readonly early = new Map<number, Message>();
  /**
   * Revs past `lastRev` whose state was handed over already: the first join's
   * page may show changes newer than the rev it was answered with (the
   * server reads the rev first, so that the page misses nothing up to it).
   */
  private readonly ahead = new Set<number>();

  constructor(readonly name: string) {}

  /** Whether changes are waiting on a missing `rev`. */
  get hasGap(): boolean {
    return this.early.size > 0;
  }

  /**
   * Takes one message's state; answers what may now be handed over, in
   * order (none if it is a repeat or came early).
   */
  offer(message: Message): Handover[] {
    const { rev } = message;
    if ((this.lastRev !== undefined && rev <= this.lastRev) || this.ahead.has(rev)) return [];
    if (this.early.size < MAX_PENDING) this.early.set(rev, message);
    return this.drain();
  }

  /**
   * Takes the answer of a join without `since`: the latest page starts the
   * sequence at `roomRev`, the room's rev when the page was read. States
   * that came early and that the page covers are dropped as repeats.
   */
  begin(messages: Message[], hasOlder: boolean, roomSeq: number, roomRev: number): Handover[] {
    const out: Handover[] = [];
    this.lastRev = roomRev;
    if (messages.length > 0) {
      this.lastSeq = messages[0].seq - 1;
      this.oldestSeq = messages[0].seq;
      this.hasOlder = hasOlder;
      for (const message of messages) {
        if (message.seq <= this.lastSeq) continue;
        this.lastSeq = message.seq;
        if (message.rev > roomRev) this.ahead.add(message.rev);
        out.push({ kind: 'message', message });
      }
    } else {
      // An empty room: its messages start after the room's current seq.
      this.lastSeq = roomSeq;
      this.hasOlder = false;
    }
    return out.concat(this.drain());
  }

  /**
   * Takes what `room:changes` answered after `lastRev`, every page of it
   * (until `hasMore` was false), and `rev`, the last answer's rev: every
   * change up to it is in `messages`, each message at most in its latest
   * state. New messages are handed over first, in `seq` order (a message
   * written before another but changed after it comes once, in its place),
   * seqs no longer kept (history trimmed) told once as `skipped`; then the
   * changes of older messages, in `rev` order. States held early are merged
   * in, so one that history no longer keeps is still handed over.
   */
  catchUp(messages: Message[], rev: number): Handover[] {
    const from = this.lastRev ?? 0;
    const latest = new Map<string, Message>();
    for (const message of [...messages, ...[...this.early.values()].filter((m) => m.rev <= rev)]) {
      if (message.rev <= from || this.ahead.has(message.rev)) continue;
      const known = latest.get(message.id);
      if (!known || known.rev < message.rev) latest.set(message.id, message);
    }
    this.lastRev = Math.max(from, rev);
    this.forgetUpTo(this.lastRev);

    const lastSeq = this.lastSeq ?? 0;
    const states = [...latest.values()];
    const fresh = states.filter((m) => m.seq > lastSeq).sort((a, b) => a.seq - b.seq);
    const changed = states.filter((m) => m.seq <= lastSeq).sort((a, b) => a.rev - b.rev);
    const out: Handover[] = [];
    for (const message of fresh) {
      const next = (this.lastSeq ?? 0) + 1;
      if (message.seq > next) out.push({ kind: 'skipped', skipped: { room: this.name, from: next, to: message.seq - 1 } });
      this.lastSeq = message.seq;
      this.oldestSeq ??= message.seq;
      out.push({ kind: 'message', message });
    }
    for (const message of changed) out.push({ kind: 'update', message });
    return out.concat(this.drain());
  }

  /** Notes a page read with `before`, for the next `loadOlder`. */
  older(messages: Message[], hasMore: boolean): void {
    if (messages.length > 0) this.oldestSeq = Math.min(this.oldestSeq ?? Infinity, messages[0].seq);
    this.hasOlder = hasMore;
  }

  /** Hands over what continues the rev sequence; forgets states made repeats. */
  private drain(): Handover[] {
    if (this.lastRev === undefined) return [];
    const out: Handover[] = [];
    for (let rev = this.lastRev + 1; ; rev++) {
      const next = this.early.get(rev);
      this.early.delete(rev);
      // Handed over with the join's page already.
      if (this.ahead.delete(rev)) {
        this.lastRev = rev;
        continue;
      }
      if (!next) break;
      this.lastRev = rev;
      // Every new message before it took an earlier rev, so this is lastSeq + 1.
      if (this.lastSeq === undefined || next.seq > this.lastSeq) {
        this.lastSeq = next.seq;
        this.oldestSeq ??= next.seq;
        out.push({ kind: 'message', message: next });
      } else {
        out.push({ kind: 'update', message: next });
      }
    }
    this.forgetUpTo(this.lastRev);
    return out;
  }

  /** Drops what is held at or below `rev`: it is in what was handed over. */
  private forgetUpTo(rev: number): void {
    for (const r of this.early.keys()) if (r <= rev) this.early.delete(r);
    for (const r of this.ahead) if (r <= rev) this.ahead.delete(r);
  }
}
