/**
 * Recovery: what an instance does so that the rooms it serves stay whole
 * after a fault. When its bus link comes back after an outage, broadcasts
 * from the other instances may have been lost meanwhile: it hands its own
 * sockets what changed in each room since what they last had (new messages
 * and changes to older ones, from the store), and tells each room its last
 * presence change again. And
 * it tells the rooms of the presence changes that no socket of this instance
 * asked for (another instance died, or this one came back after being taken
 * for dead).
 */
import { CHANGES_MAX_LIMIT, type Message, type MessageUpdateEvent, type PresenceEvent } from '../protocol';
import type { Backend } from './backend';
import type { Logger } from './logger';
import type { LastChange, PresenceChange } from './presence/types';
import type { ParleyServer } from './sockets';

/** How far this instance's sockets in a room are: where a catch-up starts. */
interface RoomMark {
  /** The highest `seq` handed to them: a message above it is new to them. */
  seq: number;
  /** The highest `rev` handed to them: the catch-up reads the changes after it. */
  rev: number;
}

export class Recovery {
  /** Per room this instance serves (joined, and not emptied since): how far its sockets are. */
  private readonly marks = new Map<string, RoomMark>();
  /** The Socket.IO rooms of this instance: room → its sockets here. */
  private readonly local: Map<string, Set<string>>;

  constructor(
    private readonly io: ParleyServer,
    private readonly backend: Backend,
    private readonly logger: Logger,
  ) {
    const { adapter } = io.of('/');
    this.local = adapter.rooms;
    const { presence, bus } = backend;
    presence.on('reaped', (leave) => io.to(leave.room).emit('presence', presenceEvent('leave', leave)));
    presence.on('restored', (join) => io.to(join.room).emit('presence', presenceEvent('join', join)));
    // One instance in memory has no bus to lose: nothing to catch up on.
    if (!bus) return;
    bus.on('delivered', (room, event, payload) => {
      // While the bus is down, what this instance sends still reaches its own
      // sockets, but what others send does not: a mark moved on by the former
      // would skip the latter. It stays where the outage found it.
      if (!backend.ready()) return;
      if (event === 'message') this.handed(room, payload as Message);
      else if (event === 'message:update') this.handed(room, (payload as MessageUpdateEvent).message);
    });
    bus.on('restored', () => {
      this.catchUp().catch((err) => logger.error({ err }, 'catch-up after the bus came back failed'));
      this.replayLastChanges().catch((err) => logger.warn({ err }, 'could not tell rooms their last presence change after the bus came back'));
    });
    adapter.on('delete-room', (room: string) => this.marks.delete(room));
  }

  /** A join handed the room's history up to `seq` and its changes up to `rev` to a socket here. */
  joined(room: string, seq: number, rev: number): void {
    if (this.backend.bus) this.handed(room, { seq, rev });
  }

  private handed(room: string, { seq, rev }: Pick<Message, 'seq' | 'rev'>): void {
    // Only rooms with sockets here: a send over HTTP to any room must not grow this map.
    if (!this.local.has(room)) return;
    const mark = this.marks.get(room);
    if (!mark) this.marks.set(room, { seq, rev });
    else {
      mark.seq = Math.max(mark.seq, seq);
      mark.rev = Math.max(mark.rev, rev);
    }
  }

  /**
   * Hands the sockets of every room this instance serves what changed since
   * their mark, to its own sockets only (clients drop repeats by rev): the
   * room's changes after the mark's rev, read to the end; new messages as
   * `message`, in seq order, then the changed older ones as
   * `message:update`, in rev order, as the SDK hands a catch-up over. Each
   * delivery moves the mark on (`delivered`).
   */
  private async catchUp(): Promise<void> {
    // The marks as the outage left them, taken before anything awaits: live
    // deliveries move them on from here, past what the outage lost.
    const from = [...this.marks].map(([room, { seq, rev }]) => ({ room, seq, rev }));
    let messages = 0;
    let updates = 0;
    for (const { room, seq, rev } of from) {
      const changed: Message[] = [];
      for (let after: number | undefined = rev; after !== undefined; ) {
        const page = await this.backend.store.changes(room, after, CHANGES_MAX_LIMIT);
        changed.push(...page.messages);
        after = page.hasMore ? page.messages.at(-1)?.rev : undefined;
      }
      const fresh = changed.filter((m) => m.seq > seq).sort((a, b) => a.seq - b.seq);
      for (const message of fresh) this.io.local.to(room).emit('message', message);
      for (const message of changed) if (message.seq <= seq) this.io.local.to(room).emit('message:update', { message });
      messages += fresh.length;
      updates += changed.length - fresh.length;
    }
    this.logger.info({ rooms: from.length, messages, updates }, 'caught up after the bus link came back');
  }

  /**
   * Tells each room this instance serves its last presence change again,
   * from this instance only: a client that missed something sees a version
   * it did not have, and catches up from there; the others already hold that
   * version and ignore it.
   */
  private async replayLastChanges(): Promise<void> {
    const rooms = [...this.marks.keys()];
    for (let i = 0; i < rooms.length; i += 100) {
      const changes = await Promise.all(rooms.slice(i, i + 100).map((room) => this.backend.presence.lastChange(room)));
      for (const change of changes) {
        if (change) this.io.local.to(change.room).emit('presence', presenceEvent(change.event, change));
      }
    }
  }
}

function presenceEvent(event: LastChange['event'], change: PresenceChange): PresenceEvent {
  return { room: change.room, event, user: change.user, members: change.members, version: change.version };
}
