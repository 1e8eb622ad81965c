import type { User } from '../../protocol';
import type { JoinResult, LeaveResult, Presence } from './types';

/** Presence of a single instance, in memory. */
export class MemoryPresence implements Presence {
  /** room → user id → the user and its sockets in the room. */
  private readonly rooms_ = new Map<string, Map<string, { user: User; sockets: Set<string> }>>();

  async join(room: string, user: User, socketId: string): Promise<JoinResult> {
    let users = this.rooms_.get(room);
    if (!users) this.rooms_.set(room, (users = new Map()));
    let entry = users.get(user.id);
    const first = !entry;
    if (!entry) users.set(user.id, (entry = { user: { ...user }, sockets: new Set() }));
    entry.sockets.add(socketId);
    return { first, members: [...users.values()].map((e) => e.user) };
  }

  async leave(room: string, user: User, socketId: string): Promise<LeaveResult> {
    const users = this.rooms_.get(room);
    const entry = users?.get(user.id);
    if (!users || !entry || !entry.sockets.delete(socketId)) {
      return { last: false, members: users?.size ?? 0 };
    }
    const last = entry.sockets.size === 0;
    if (last) users.delete(user.id);
    if (users.size === 0) this.rooms_.delete(room);
    return { last, members: users.size };
  }

  async members(room: string): Promise<User[]> {
    return [...(this.rooms_.get(room)?.values() ?? [])].map((e) => e.user);
  }

  async rooms(): Promise<Array<{ room: string; members: number }>> {
    return [...this.rooms_].map(([room, users]) => ({ room, members: users.size }));
  }

  onReaped(): void {
    // One instance: nobody else's members to reap.
  }

  async close(): Promise<void> {}
}
