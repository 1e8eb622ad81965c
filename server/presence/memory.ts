/**
 * Presence in memory, for a single instance.
 */
import { EventEmitter } from 'node:events';
import type { User } from '../../protocol';
import type { JoinResult, LastChange, LeaveResult, Presence, PresenceEvents, PresenceSnapshot } from './types';

/**
 * Presence of a single instance, in memory. It never tells `reaped` or
 * `restored`: one instance has nobody else's members to reap and is never
 * taken for dead.
 */
export class MemoryPresence extends EventEmitter<PresenceEvents> implements Presence {
  /** room → user id → the user and its sockets in the room. */
  private readonly rooms_ = new Map<string, Map<string, { user: User; sockets: Set<string> }>>();
  /**
   * room → its last change, whose version is the room's presence version.
   * Dropped with the room when it empties, so that rooms joined and left
   * leave nothing behind.
   */
  private readonly last = new Map<string, LastChange>();
  /**
   * The highest version of any room dropped so far: a room (re)created
   * counts on from it. A version must never go back, or clients holding a
   * higher one would ignore the room's next changes; one number keeps that
   * for every room ever emptied.
   */
  private floor = 0;

  async join(room: string, user: User, socketId: string): Promise<JoinResult> {
    let users = this.rooms_.get(room);
    if (!users) this.rooms_.set(room, (users = new Map()));
    let entry = users.get(user.id);
    const first = !entry;
    if (!entry) users.set(user.id, (entry = { user: { ...user }, sockets: new Set() }));
    entry.sockets.add(socketId);
    const version = first ? this.change(room, 'join', entry.user, users.size) : this.version(room);
    return { first, members: [...users.values()].map((e) => e.user), version };
  }

  async leave(room: string, user: User, socketId: string): Promise<LeaveResult> {
    const users = this.rooms_.get(room);
    const entry = users?.get(user.id);
    if (!users || !entry || !entry.sockets.delete(socketId)) {
      return { last: false, members: users?.size ?? 0, version: this.version(room) };
    }
    const last = entry.sockets.size === 0;
    if (last) users.delete(user.id);
    const version = last ? this.change(room, 'leave', entry.user, users.size) : this.version(room);
    if (users.size === 0) {
      this.rooms_.delete(room);
      this.last.delete(room);
      this.floor = Math.max(this.floor, version);
    }
    return { last, members: users.size, version };
  }

  /** How many rooms presence keeps anything for (for tests: none once every room emptied). */
  roomsKept(): number {
    return new Set([...this.rooms_.keys(), ...this.last.keys()]).size;
  }

  /** The room's members (for tests: joins answer them). */
  async members(room: string): Promise<User[]> {
    return [...(this.rooms_.get(room)?.values() ?? [])].map((e) => e.user);
  }

  /** The room's members and the presence version they reflect (for tests). */
  async snapshot(room: string): Promise<PresenceSnapshot> {
    return { members: await this.members(room), version: this.version(room) };
  }

  async lastChange(room: string): Promise<LastChange | undefined> {
    const last = this.last.get(room);
    return last && { ...last, user: { ...last.user } };
  }

  async rooms(): Promise<Array<{ room: string; members: number }>> {
    return [...this.rooms_].map(([room, users]) => ({ room, members: users.size }));
  }

  private version(room: string): number {
    return this.last.get(room)?.version ?? this.floor;
  }

  private change(room: string, event: LastChange['event'], user: User, members: number): number {
    const version = this.version(room) + 1;
    this.last.set(room, { room, event, user: { ...user }, members, version });
    return version;
  }
}
