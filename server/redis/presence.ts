/**
 * Room membership over Redis, shared by every instance, with this instance's
 * own copy of its sockets (to put them back if Redis forgets them, and to
 * undo leaves that failed while Redis was away). When instances are alive or
 * dead is liveness.ts's; the scripts are presence-scripts.ts's.
 */
import { EventEmitter } from 'node:events';
import type { User } from '../../protocol';
import type { JoinResult, LastChange, LeaveResult, Presence, PresenceEvents, PresenceSnapshot } from '../presence/types';
import type { RedisLinks } from './connection';
import { keys, ROOM_INDEX_BUCKETS, roomBucket, socketField } from './keys';
import type { LivenessDuties } from './liveness';
import { JOIN, LEAVE, REAP, SNAPSHOT } from './presence-scripts';

/** JOIN's reply: first (1|0), member JSONs, version. */
type JoinReply = [number, string[], number];

/**
 * Presence shared by every instance. Each socket in a room is one field of
 * the room's `sockets` hash, named after its instance; users are counted once
 * however many sockets they have. Changes that no socket of this instance
 * asked for are told as `reaped` (a dead instance's users taken out, a leave
 * that failed while Redis was away done at last) and `restored` (this
 * instance's users put back after it was taken for dead).
 */
export class RedisPresence extends EventEmitter<PresenceEvents> implements Presence, LivenessDuties {
  /** This instance's sockets: room → socket id → user. Re-registered if Redis forgot them. */
  private readonly local = new Map<string, Map<string, User>>();
  /** Leaves that failed while Redis was away, retried on each heartbeat: `room\nsocketId` → both. */
  private readonly pendingLeaves = new Map<string, { room: string; socketId: string }>();

  constructor(
    private readonly links: RedisLinks,
    /** This process's name in presence (see liveness.ts). */
    private readonly presenceId: string,
  ) {
    super();
  }

  async join(room: string, user: User, socketId: string): Promise<JoinResult> {
    const rejoin = this.local.get(room)?.has(socketId) ?? false;
    this.addLocal(room, user, socketId);
    this.pendingLeaves.delete(`${room}\n${socketId}`);
    const { command } = this.links;
    try {
      const [first, members, version] = await this.links.run('presence join', async () => {
        // The instance's room index is sent with the socket (on one Redis,
        // ahead of it on the same connection; on a cluster, at the same
        // moment to another node), so that whatever the join leaves behind
        // can be reaped if this instance dies.
        const [, joined] = await Promise.all([command.sAdd(keys.instanceRooms(this.presenceId), room), this.joinScript(room, socketId, user)]);
        // After the join, never before: see dropRoomIfEmpty. Only a change
        // of the room's members can have made it non-empty.
        if (joined[0] === 1) await command.sAdd(keys.roomIndex(roomBucket(room)), room);
        return joined;
      });
      return { first: first === 1, members: members.map(parseUser), version: Number(version) };
    } catch (err) {
      if (!rejoin) {
        this.removeLocal(room, socketId);
        // The join may have reached Redis before the failure: make sure it is undone.
        this.pendingLeaves.set(`${room}\n${socketId}`, { room, socketId });
      }
      throw err;
    }
  }

  async leave(room: string, _user: User, socketId: string): Promise<LeaveResult> {
    this.removeLocal(room, socketId);
    try {
      const { last, members, version } = await this.leaveInRedis(room, socketId);
      return { last, members, version };
    } catch (err) {
      // Redis is away: take the socket out when it is back (the leave is then told as `reaped`).
      this.pendingLeaves.set(`${room}\n${socketId}`, { room, socketId });
      throw err;
    }
  }

  async lastChange(room: string): Promise<LastChange | undefined> {
    const last = await this.links.run('presence last change', () => this.links.command.hGetAll(keys.presenceLast(room)));
    const version = Number(last.version);
    if ((last.event !== 'join' && last.event !== 'leave') || !last.user || !Number.isSafeInteger(version)) return undefined;
    return { room, event: last.event, user: parseUser(last.user), members: Number(last.members), version };
  }

  async rooms(): Promise<Array<{ room: string; members: number }>> {
    const { command } = this.links;
    const buckets = Array.from({ length: ROOM_INDEX_BUCKETS }, (_, b) => keys.roomIndex(b));
    const rooms = (await this.links.run('presence rooms', () => Promise.all(buckets.map((key) => command.sMembers(key))))).flat();
    if (rooms.length === 0) return [];
    // The set may name a room that just emptied: its members hash decides.
    const counts = await this.links.run('presence room sizes', () => Promise.all(rooms.map((room) => command.hLen(keys.members(room)))));
    return rooms.map((room, i) => ({ room, members: counts[i] })).filter((r) => r.members > 0);
  }

  /** The room's members (for tests: joins answer them). */
  async members(room: string): Promise<User[]> {
    return (await this.snapshot(room)).members;
  }

  /** The room's members and the presence version they reflect, read together (for tests). */
  async snapshot(room: string): Promise<PresenceSnapshot> {
    const [members, version] = (await this.links.run('presence snapshot', () =>
      SNAPSHOT.run(this.links.command, [keys.members(room), keys.presenceVersion(room)], []),
    )) as [string[], number];
    return { members: members.map(parseUser), version: Number(version) };
  }

  /** Puts this instance's sockets back; users present again thereby are told as `restored`. */
  async registerAgain(): Promise<void> {
    const { command } = this.links;
    for (const [room, sockets] of this.local) {
      const entries = [...sockets];
      const replies = await this.links.run('presence re-register', async () => {
        await command.sAdd(keys.instanceRooms(this.presenceId), room);
        const joined = await Promise.all(entries.map(([socketId, user]) => this.joinScript(room, socketId, user)));
        await command.sAdd(keys.roomIndex(roomBucket(room)), room);
        return joined;
      });
      for (const [i, [first, members, version]] of replies.entries()) {
        const [socketId, user] = entries[i];
        if (first === 1) this.emit('restored', { room, user, members: members.length, version: Number(version) });
        // Left while being put back: its leave may have run before this join
        // and found nothing to take out. Take it out now, or the user would
        // stay present with no socket until this instance dies.
        if (!this.local.get(room)?.has(socketId)) await this.leaveAndTell(room, socketId);
      }
    }
  }

  async retryLeaves(): Promise<void> {
    for (const [key, { room, socketId }] of this.pendingLeaves) {
      // Joined again since: nothing to undo.
      if (!this.local.get(room)?.has(socketId)) await this.leaveAndTell(room, socketId);
      this.pendingLeaves.delete(key);
    }
  }

  /** Takes one instance's sockets out of every room it had sockets in (telling `reaped`), then drops its room index. */
  async removeInstance(presenceId: string): Promise<void> {
    const { command } = this.links;
    const rooms = await this.links.run('reap rooms', () => command.sMembers(keys.instanceRooms(presenceId)));
    const prefix = socketField(presenceId, '');
    for (let i = 0; i < rooms.length; i += 100) {
      const batch = rooms.slice(i, i + 100);
      const replies = (await this.links.run('reap', () =>
        Promise.all(batch.map((room) => REAP.run(command, this.roomKeys(room), [prefix]))),
      )) as Array<Array<number | string>>;
      for (const [j, reply] of replies.entries()) {
        const room = batch[j];
        for (let k = 1; k + 2 < reply.length; k += 3) {
          this.emit('reaped', { room, user: parseUser(String(reply[k])), members: Number(reply[k + 1]), version: Number(reply[k + 2]) });
        }
        if (Number(reply[0]) === 0) await this.dropRoomIfEmpty(room);
      }
    }
    await this.links.run('reap index', () => command.del(keys.instanceRooms(presenceId)));
  }

  private joinScript(room: string, socketId: string, user: User): Promise<JoinReply> {
    const args = [socketField(this.presenceId, socketId), user.id, JSON.stringify(user)];
    return JOIN.run(this.links.command, this.roomKeys(room), args) as Promise<JoinReply>;
  }

  private roomKeys(room: string): string[] {
    return [keys.sockets(room), keys.counts(room), keys.members(room), keys.presenceVersion(room), keys.presenceLast(room)];
  }

  private addLocal(room: string, user: User, socketId: string): void {
    let sockets = this.local.get(room);
    if (!sockets) this.local.set(room, (sockets = new Map()));
    sockets.set(socketId, user);
  }

  private removeLocal(room: string, socketId: string): void {
    const sockets = this.local.get(room);
    if (sockets?.delete(socketId) && sockets.size === 0) this.local.delete(room);
  }

  /** A leave that no socket is waiting for: the room hears of it as `reaped` if it was the user's last socket. */
  private async leaveAndTell(room: string, socketId: string): Promise<void> {
    const { user, members, version } = await this.leaveInRedis(room, socketId);
    if (user) this.emit('reaped', { room, user, members, version });
  }

  private async leaveInRedis(room: string, socketId: string): Promise<LeaveResult & { user?: User }> {
    const { command } = this.links;
    const [last, members, version, user] = (await this.links.run('presence leave', () =>
      LEAVE.run(command, this.roomKeys(room), [socketField(this.presenceId, socketId)]),
    )) as [number, number, number, string?];
    // Checked now, not before the await: a join of the same room that began
    // meanwhile has written the index already, and must keep it.
    if (!this.local.has(room)) {
      this.links.run('presence index', () => command.sRem(keys.instanceRooms(this.presenceId), room)).catch(() => {});
    }
    if (members === 0) await this.dropRoomIfEmpty(room);
    return { last: last === 1, members, version: Number(version), user: user ? parseUser(user) : undefined };
  }

  /**
   * Takes an emptied room off the list of rooms. A join elsewhere may race
   * with this: one that changed the room's members adds the room to the
   * list after its script, so removing first and then looking again at the
   * members is enough to never lose it. (Two commands one after the other,
   * not one pipeline: on a cluster the index and the room are on different
   * nodes, with no order between them.)
   */
  private async dropRoomIfEmpty(room: string): Promise<void> {
    const { command } = this.links;
    const index = keys.roomIndex(roomBucket(room));
    await this.links.run('presence room list', () => command.sRem(index, room));
    const count = await this.links.run('presence room list', () => command.hLen(keys.members(room)));
    if (count > 0) await this.links.run('presence room list', () => command.sAdd(index, room));
  }
}

function parseUser(json: string): User {
  return JSON.parse(json) as User;
}
