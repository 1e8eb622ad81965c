/**
 * The operations of the contract that both the Socket.IO handlers and the
 * HTTP routes perform: sending a message and changing one (store, then
 * broadcast), reading history and changes, listing rooms.
 */
import { randomUUID } from 'node:crypto';
import {
  CHANGES_DEFAULT_LIMIT,
  HISTORY_DEFAULT_LIMIT,
  JOIN_HISTORY_LIMIT,
  JOIN_SINCE_LIMIT,
  ROOMS_LIST_DEFAULT_LIMIT,
  type ChangesAnswer,
  type ChangesPayload,
  type DeletePayload,
  type EditPayload,
  type HistoryPayload,
  type Message,
  type ReactionPayload,
  type RoomsListAnswer,
  type RoomsListPayload,
  type SendPayload,
} from '../protocol';
import { assertMayUse, mayUse, type Identity } from './auth';
import type { Backend } from './backend';
import type { Metrics } from './metrics';
import type { ParleyServer } from './sockets';
import type { ChangeOp, Page } from './store/types';

/** A change to one message of a room, as both surfaces ask for it. */
export interface ChangeRequest {
  room: string;
  id: string;
  op: ChangeOp;
}

/** The change a `message:edit` (or its HTTP route) asks for. */
export const editRequest = ({ room, id, text }: EditPayload): ChangeRequest => ({ room, id, op: { kind: 'edit', text } });
/** The change a `message:delete` (or its HTTP route) asks for. */
export const deleteRequest = ({ room, id }: DeletePayload): ChangeRequest => ({ room, id, op: { kind: 'delete' } });
/** The change a `reaction:add` (`add`) or `reaction:remove` (or their HTTP routes) asks for. */
export const reactionRequest = ({ room, id, reaction }: ReactionPayload, add: boolean): ChangeRequest => ({
  room,
  id,
  op: add ? { kind: 'react', reaction } : { kind: 'unreact', reaction },
});

/** Sends, history and the rooms list, for both surfaces. Callers have validated the payload already. */
export class Chat {
  constructor(
    private readonly io: ParleyServer,
    private readonly backend: Backend,
    private readonly metrics: Metrics,
    private readonly now: () => number = Date.now,
  ) {}

  /** Stores a message and broadcasts it to the room on every instance; a repeat answers the original. */
  async send(identity: Identity, payload: SendPayload): Promise<Message> {
    assertMayUse(identity, payload.room);
    await this.backend.limits.consume('send', identity.user.id);
    const { message, duplicate, published } = await this.backend.store.append({
      id: randomUUID(),
      room: payload.room,
      clientId: payload.clientId,
      user: identity.user,
      text: payload.text,
      ts: this.now(),
      publish: this.backend.bus?.publication(payload.room, 'message'),
    });
    if (!duplicate) {
      this.metrics.messagesStored.inc();
      if (!published) this.io.to(message.room).emit('message', message);
      // The other instances have it from the store: this one's sockets get
      // it after the send's answer, as they would after the adapter's own
      // publication.
      else setImmediate(() => this.io.to(message.room).local.emit('message', message));
    }
    return message;
  }

  /**
   * Changes a message (edit, deletion, reaction) and broadcasts its new state
   * as `message:update` to the room on every instance; a request that
   * changes nothing answers the current state and broadcasts nothing.
   * Counts against the send limit.
   */
  async change(identity: Identity, request: ChangeRequest): Promise<Message> {
    assertMayUse(identity, request.room);
    await this.backend.limits.consume('send', identity.user.id);
    const { message, changed } = await this.backend.store.change({ ...request, userId: identity.user.id, ts: this.now() });
    if (changed) {
      this.metrics.changesStored.inc({ kind: request.op.kind });
      this.io.to(message.room).emit('message:update', { message });
    }
    return message;
  }

  /**
   * Counts one read (history, changes, the rooms list) against the read
   * limit: per user, or per address for an anonymous HTTP read in open mode.
   */
  private async countRead(identity: Identity | undefined, address = 'unknown'): Promise<void> {
    await this.backend.limits.consume('read', identity ? `user:${identity.user.id}` : `address:${address}`);
  }

  /**
   * `room:changes`: what changed after a rev; `identity` is undefined for an
   * anonymous HTTP read in open mode, which is counted by its `address`.
   */
  async changes(identity: Identity | undefined, payload: ChangesPayload, address?: string): Promise<ChangesAnswer> {
    if (identity) assertMayUse(identity, payload.room);
    await this.countRead(identity, address);
    return this.backend.store.changes(payload.room, payload.after, payload.limit ?? CHANGES_DEFAULT_LIMIT);
  }

  /** History for `room:join`: the latest page, or what follows `since`, with the room's latest `seq` and `rev`. */
  async joinHistory(room: string, since: number | undefined): Promise<Page & { seq: number; rev: number }> {
    const { store } = this.backend;
    // The counters are read before the page, in the same round trip (one
    // connection answers in order): the page reflects every change up to
    // `rev`, and any later one reaches the joined socket live. Read after the
    // page, `rev` could count a change the page does not show, which a client
    // would then take for one it already has.
    const [[seq], [rev], page] = await Promise.all([
      store.lastSeqs([room]),
      store.lastRevs([room]),
      since === undefined ? store.latest(room, JOIN_HISTORY_LIMIT) : store.after(room, since, JOIN_SINCE_LIMIT),
    ]);
    // The store may have taken a message between the reads.
    const latest = Math.max(seq, page.messages.at(-1)?.seq ?? 0);
    return { ...page, seq: latest, rev };
  }

  /** `room:history`; `identity` is undefined for an anonymous HTTP read in open mode, counted by its `address`. */
  async history(identity: Identity | undefined, payload: HistoryPayload, address?: string): Promise<Page> {
    if (identity) assertMayUse(identity, payload.room);
    await this.countRead(identity, address);
    const limit = payload.limit ?? HISTORY_DEFAULT_LIMIT;
    const { store } = this.backend;
    if (payload.before !== undefined) return store.before(payload.room, payload.before, limit);
    if (payload.after !== undefined) return store.after(payload.room, payload.after, limit);
    return store.latest(payload.room, limit);
  }

  /**
   * One page of the rooms with members now, on every instance, that the
   * identity may see, in name order; `next` when more follow. An anonymous
   * HTTP read (no identity) is counted by its `address`.
   */
  async roomsList(identity: Identity | undefined, page: RoomsListPayload = {}, address?: string): Promise<RoomsListAnswer> {
    await this.countRead(identity, address);
    const limit = page.limit ?? ROOMS_LIST_DEFAULT_LIMIT;
    const after = page.after;
    const present = (await this.backend.presence.rooms())
      .filter((r) => (after === undefined || r.room > after) && (!identity || mayUse(identity, r.room)))
      .sort((a, b) => (a.room < b.room ? -1 : a.room > b.room ? 1 : 0));
    const shown = present.slice(0, limit);
    // Only the page's rooms are looked up in the store.
    const seqs = await this.backend.store.lastSeqs(shown.map((r) => r.room));
    const rooms = shown.map((r, i) => ({ room: r.room, members: r.members, seq: seqs[i] }));
    return present.length > limit ? { rooms, next: rooms[rooms.length - 1].room } : { rooms };
  }
}
