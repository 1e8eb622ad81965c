/**
 * Counting deliveries without trusting the server: every send carries its
 * phase, its sender and that sender's counter in its `clientId`
 * (`t<phase>-<sender>-<n>`), so each receiver can tell, per sender, what it
 * got, twice, or out of the order it was sent in, whatever the server adds
 * (the relay has no `seq`, no store). Expected deliveries are the acked sends
 * times the members of the room, the sender included (the contract sends a
 * message to every socket of the room, the sending one too).
 */
import { performance } from 'node:perf_hooks';
import { Samples } from './samples';

/** A growable bitmap of counters 1, 2, 3, ... */
class Bits {
  private bytes = new Uint8Array(16);

  has(n: number): boolean {
    const i = n >> 3;
    return i < this.bytes.length && (this.bytes[i] & (1 << (n & 7))) !== 0;
  }

  set(n: number): void {
    const i = n >> 3;
    if (i >= this.bytes.length) {
      const grown = new Uint8Array(Math.max(this.bytes.length * 2, i + 1));
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.bytes[i] |= 1 << (n & 7);
  }

  /** How many counters both bitmaps hold. */
  common(other: Bits): number {
    let count = 0;
    const n = Math.min(this.bytes.length, other.bytes.length);
    for (let i = 0; i < n; i++) {
      let b = this.bytes[i] & other.bytes[i];
      while (b) {
        b &= b - 1;
        count++;
      }
    }
    return count;
  }
}

/** One sender: its room and what it sent and had acknowledged in this phase. */
interface Sender {
  room: number;
  sent: number;
  /** performance.now() of each send, by counter. */
  sentAt: Float64Array;
  acked: Bits;
  ackedCount: number;
}

/** What one receiver got from one sender. */
interface Pair {
  seen: Bits;
  /** Highest counter received: a lower one arriving later is out of order. */
  highest: number;
}

/** The counts of one phase. */
export interface Counts {
  sent: number;
  acked: number;
  /** Refused sends, by error code. */
  refused: Record<string, number>;
  /** Sends with no answer within the ack timeout. */
  unanswered: number;
  expected: number;
  /** Deliveries of acked sends, each counted once. */
  received: number;
  lost: number;
  /** Deliveries of a message the receiver already had. */
  repeated: number;
  /** Deliveries of a message older than one already received from the same sender. */
  outOfOrder: number;
  /** Deliveries of sends that were refused or unanswered (the server delivered what it did not acknowledge). */
  unacked: number;
  /** Deliveries to a client that is not a member of the message's room. */
  misdelivered: number;
  /** `message` events that carried no tag of this phase (another phase's late deliveries, other traffic). */
  foreign: number;
  ackMs: Samples;
  deliveryMs: Samples;
  /** performance.now() of the last delivery counted. */
  lastDeliveryAt: number;
}

const CLIENT_ID_FIELD = '"clientId":"';

export class Tally {
  private phase = 0;
  private senders: Sender[] = [];
  /** Per receiver: sender index -> pair. */
  private receivers: Array<Map<number, Pair>> = [];
  private counts!: Counts;

  /**
   * @param roomOf the room index of every client
   * @param membersOf the number of clients joined to each room
   * @param senderRooms the room of every sender (its index is the sender's number)
   */
  constructor(
    private readonly roomOf: readonly number[],
    private readonly membersOf: readonly number[],
    private readonly senderRooms: readonly number[],
  ) {
    this.startPhase();
  }

  /** Starts counting afresh: what belongs to earlier phases is ignored from now on. */
  startPhase(): void {
    this.phase++;
    this.senders = this.senderRooms.map((room) => ({ room, sent: 0, sentAt: new Float64Array(64), acked: new Bits(), ackedCount: 0 }));
    this.receivers = this.roomOf.map(() => new Map());
    this.counts = {
      sent: 0,
      acked: 0,
      refused: {},
      unanswered: 0,
      expected: 0,
      received: 0,
      lost: 0,
      repeated: 0,
      outOfOrder: 0,
      unacked: 0,
      misdelivered: 0,
      foreign: 0,
      ackMs: new Samples(),
      deliveryMs: new Samples(),
      lastDeliveryAt: 0,
    };
  }

  /** Numbers the next send of `sender`; answers its `clientId`. */
  nextSend(sender: number, now: number): string {
    const s = this.senders[sender];
    const n = ++s.sent;
    if (n >= s.sentAt.length) {
      const grown = new Float64Array(s.sentAt.length * 2);
      grown.set(s.sentAt);
      s.sentAt = grown;
    }
    s.sentAt[n] = now;
    this.counts.sent++;
    return `t${this.phase}-${sender}-${n}`;
  }

  /** Records the answer to a send made in `phase`; a late answer to an earlier phase's send is ignored. */
  answered(phase: number, sender: number, clientId: string, answer: { ok: boolean; error?: { code?: string } } | 'timeout'): void {
    if (phase !== this.phase) return;
    const n = Number(clientId.slice(clientId.lastIndexOf('-') + 1));
    const s = this.senders[sender];
    if (answer === 'timeout') {
      this.counts.unanswered++;
    } else if (answer.ok) {
      s.acked.set(n);
      s.ackedCount++;
      this.counts.acked++;
      this.counts.ackMs.add(performance.now() - s.sentAt[n]);
    } else {
      const code = answer.error?.code ?? 'unknown';
      this.counts.refused[code] = (this.counts.refused[code] ?? 0) + 1;
    }
  }

  get currentPhase(): number {
    return this.phase;
  }

  /** Counts a `message` frame received by client `receiver`. */
  delivered(receiver: number, frame: string): void {
    const now = performance.now();
    const at = frame.indexOf(CLIENT_ID_FIELD);
    const start = at + CLIENT_ID_FIELD.length;
    const end = at < 0 ? -1 : frame.indexOf('"', start);
    // `t<phase>-<sender>-<n>`: the tester made every clientId, so no escape can occur in it.
    const first = end < 0 ? -1 : frame.indexOf('-', start);
    const second = first < 0 ? -1 : frame.indexOf('-', first + 1);
    if (second < 0 || second > end || frame[start] !== 't' || Number(frame.slice(start + 1, first)) !== this.phase) {
      this.counts.foreign++;
      return;
    }
    const sender = Number(frame.slice(first + 1, second));
    const n = Number(frame.slice(second + 1, end));
    const s = this.senders[sender];
    if (s === undefined || !(n >= 1 && n <= s.sent)) {
      this.counts.foreign++;
      return;
    }
    if (this.roomOf[receiver] !== s.room) {
      this.counts.misdelivered++;
      return;
    }
    const pairs = this.receivers[receiver];
    let pair = pairs.get(sender);
    if (!pair) {
      pair = { seen: new Bits(), highest: 0 };
      pairs.set(sender, pair);
    }
    if (pair.seen.has(n)) {
      this.counts.repeated++;
      return;
    }
    pair.seen.set(n);
    if (n < pair.highest) this.counts.outOfOrder++;
    else pair.highest = n;
    this.counts.deliveryMs.add(now - s.sentAt[n]);
    this.counts.lastDeliveryAt = now;
  }

  /** Deliveries expected so far: acked sends times the members of their room. */
  expected(): number {
    let total = 0;
    for (const s of this.senders) total += s.ackedCount * this.membersOf[s.room];
    return total;
  }

  /** Acked sends of each sender, by sender number. */
  ackedPerSender(): number[] {
    return this.senders.map((s) => s.ackedCount);
  }

  /** Acked sends per room, for `rooms` rooms. */
  ackedPerRoom(rooms: number): number[] {
    const counts = new Array<number>(rooms).fill(0);
    for (const s of this.senders) counts[s.room] += s.ackedCount;
    return counts;
  }

  /** Unique deliveries so far (acked or not): cheap enough to poll while waiting for the last ones. */
  uniqueDeliveries(): number {
    return this.counts.deliveryMs.count;
  }

  /** Sends still waiting for an answer. */
  pending(): number {
    const c = this.counts;
    let refused = 0;
    for (const n of Object.values(c.refused)) refused += n;
    return c.sent - c.acked - refused - c.unanswered;
  }

  /** The phase's counts, with loss worked out exactly per receiver and sender. */
  finish(): Counts {
    const c = this.counts;
    c.expected = this.expected();
    let receivedAcked = 0;
    let unique = 0;
    for (const pairs of this.receivers) {
      for (const [sender, pair] of pairs) {
        receivedAcked += pair.seen.common(this.senders[sender].acked);
      }
    }
    unique = c.deliveryMs.count;
    c.received = receivedAcked;
    c.unacked = unique - receivedAcked;
    c.lost = c.expected - receivedAcked;
    return c;
  }
}
