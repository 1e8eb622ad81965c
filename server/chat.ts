import { randomUUID } from 'node:crypto';
import type { Server } from 'socket.io';
import {
  HISTORY_DEFAULT_LIMIT,
  JOIN_HISTORY_LIMIT,
  JOIN_SINCE_LIMIT,
  type ClientToServerEvents,
  type HistoryPayload,
  type Message,
  type RoomSummary,
  type SendPayload,
  type ServerToClientEvents,
} from '../protocol';
import { assertMayUse, mayUse, type Identity } from './auth';
import type { Backend } from './backend';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import type { Page } from './store/types';

export type ParleyServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

/** What each socket carries. */
export interface SocketData {
  identity: Identity;
  /** Rooms this socket joined, kept for the presence leave on disconnect. */
  rooms: Set<string>;
}

/**
 * The operations of the contract that both the Socket.IO handlers and the
 * HTTP routes perform: sending, reading history, listing rooms. Callers have
 * validated the payload already.
 */
export class Chat {
  /**
   * The highest `seq` this instance knows to have been delivered to its
   * sockets, per room: where catch-up starts after the bus link comes back.
   */
  private readonly delivered = new Map<string, number>();

  constructor(
    private readonly io: ParleyServer,
    private readonly backend: Backend,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    backend.onRemoteMessage((m) => this.noteDelivered(m.room, m.seq));
    backend.onLinkRestored(() => {
      this.catchUp().catch((err) => this.logger.error({ err }, 'catch-up after the bus came back failed'));
    });
  }

  /** Stores a message and broadcasts it to the room on every instance; a repeat answers the original. */
  async send(identity: Identity, payload: SendPayload): Promise<Message> {
    assertMayUse(identity, payload.room);
    await this.backend.limits.consume('send', identity.user.id);
    const { message, duplicate } = await this.backend.store.append({
      id: randomUUID(),
      room: payload.room,
      clientId: payload.clientId,
      user: identity.user,
      text: payload.text,
      ts: this.now(),
    });
    if (!duplicate) {
      this.metrics.messagesStored.inc();
      this.noteDelivered(message.room, message.seq);
      this.io.to(message.room).emit('message', message);
    }
    return message;
  }

  /** History for `room:join`: the latest page, or what follows `since`. */
  async joinHistory(room: string, since: number | undefined): Promise<Page & { seq: number }> {
    const [page, [seq]] = await Promise.all([
      since === undefined
        ? this.backend.store.latest(room, JOIN_HISTORY_LIMIT)
        : this.backend.store.after(room, since, JOIN_SINCE_LIMIT),
      this.backend.store.lastSeqs([room]),
    ]);
    // The store may have taken a message between the two reads.
    const latest = Math.max(seq, page.messages.at(-1)?.seq ?? 0);
    this.noteDelivered(room, latest);
    return { ...page, seq: latest };
  }

  /** `room:history`; `identity` is undefined for an anonymous HTTP read in open mode. */
  async history(identity: Identity | undefined, payload: HistoryPayload): Promise<Page> {
    if (identity) assertMayUse(identity, payload.room);
    const limit = payload.limit ?? HISTORY_DEFAULT_LIMIT;
    const { store } = this.backend;
    if (payload.before !== undefined) return store.before(payload.room, payload.before, limit);
    if (payload.after !== undefined) return store.after(payload.room, payload.after, limit);
    return store.latest(payload.room, limit);
  }

  /** Rooms with members now, on every instance, that the identity may see. */
  async roomsList(identity: Identity | undefined): Promise<RoomSummary[]> {
    const present = (await this.backend.presence.rooms()).filter((r) => !identity || mayUse(identity, r.room));
    const seqs = await this.backend.store.lastSeqs(present.map((r) => r.room));
    return present
      .map((r, i) => ({ room: r.room, members: r.members, seq: seqs[i] }))
      .sort((a, b) => (a.room < b.room ? -1 : a.room > b.room ? 1 : 0));
  }

  /** Forgets a room this instance no longer serves. */
  forgetRoom(room: string): void {
    this.delivered.delete(room);
  }

  private noteDelivered(room: string, seq: number): void {
    // A room joined while still empty (seq 0) must be known too, or catch-up would skip it.
    const known = this.delivered.get(room);
    if (known === undefined || seq > known) this.delivered.set(room, seq);
  }

  /**
   * After the bus link was down, broadcasts from other instances may have been
   * lost: hand every room this instance serves what was stored since the last
   * message it knows of, to its own sockets only (clients drop repeats by seq).
   */
  async catchUp(): Promise<void> {
    const rooms = [...this.delivered.keys()].filter((room) => this.io.of('/').adapter.rooms.has(room));
    let sent = 0;
    for (const room of rooms) {
      let after = this.delivered.get(room) ?? 0;
      for (;;) {
        const page = await this.backend.store.after(room, after, JOIN_SINCE_LIMIT);
        for (const message of page.messages) this.io.local.to(room).emit('message', message);
        sent += page.messages.length;
        if (page.messages.length > 0) {
          after = page.messages[page.messages.length - 1].seq;
          this.noteDelivered(room, after);
        }
        if (!page.hasMore) break;
      }
    }
    this.logger.info({ rooms: rooms.length, messages: sent }, 'caught up after the bus link came back');
  }
}
