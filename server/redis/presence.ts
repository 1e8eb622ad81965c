import type { User } from '../../protocol';
import type { Logger } from '../logger';
import type { JoinResult, LeaveResult, Presence, ReapedLeave } from '../presence/types';
import type { RedisLinks } from './connection';
import { keys, socketField } from './keys';
import { LUA_NOW, LuaScript } from './script';

/**
 * Adds a socket to a room. KEYS: sockets, counts, members. ARGV: socket
 * field, user id, user JSON. Returns {first (1|0), member JSONs}; a socket
 * already in the room changes nothing.
 */
const JOIN = new LuaScript(`
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return {0, redis.call('HVALS', KEYS[3])}
end
local n = redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
return {n == 1 and 1 or 0, redis.call('HVALS', KEYS[3])}
`);

/**
 * Takes a socket out of a room. KEYS: sockets, counts, members. ARGV: socket
 * field. Returns {last (1|0), members left, the user's JSON if last}; an
 * unknown socket changes nothing.
 */
const LEAVE = new LuaScript(`
local uid = redis.call('HGET', KEYS[1], ARGV[1])
if not uid then return {0, redis.call('HLEN', KEYS[3])} end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HINCRBY', KEYS[2], uid, -1) > 0 then
  return {0, redis.call('HLEN', KEYS[3])}
end
local user = redis.call('HGET', KEYS[3], uid) or ''
redis.call('HDEL', KEYS[2], uid)
redis.call('HDEL', KEYS[3], uid)
return {1, redis.call('HLEN', KEYS[3]), user}
`);

/**
 * Takes every socket of one instance out of a room. KEYS: sockets, counts,
 * members. ARGV: the instance's field prefix. Returns {members left, then for
 * each user who left: user JSON, members left after them}.
 */
const REAP = new LuaScript(`
local fields = redis.call('HGETALL', KEYS[1])
local prefix = ARGV[1]
local gone = {}
for i = 1, #fields, 2 do
  local field, uid = fields[i], fields[i + 1]
  if string.sub(field, 1, #prefix) == prefix then
    redis.call('HDEL', KEYS[1], field)
    if redis.call('HINCRBY', KEYS[2], uid, -1) <= 0 then
      redis.call('HDEL', KEYS[2], uid)
      local user = redis.call('HGET', KEYS[3], uid)
      redis.call('HDEL', KEYS[3], uid)
      if user then
        table.insert(gone, user)
        table.insert(gone, redis.call('HLEN', KEYS[3]))
      end
    end
  end
end
local result = {redis.call('HLEN', KEYS[3])}
for _, v in ipairs(gone) do table.insert(result, v) end
return result
`);

/** KEYS: instances. ARGV: presence id. Returns 1 if the instance was not registered (new, or reaped as dead). */
const HEARTBEAT = new LuaScript(`${LUA_NOW}
return redis.call('ZADD', KEYS[1], now_ms(), ARGV[1])
`);

/** KEYS: instances. ARGV: stale after (ms). Returns the ids whose last heartbeat is older. */
const STALE = new LuaScript(`${LUA_NOW}
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now_ms() - tonumber(ARGV[1])))
`);

/** KEYS: lock. ARGV: owner. Deletes the lock only if it is still ours. */
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

export interface PresenceTimings {
  /** How often this instance says it is alive (and looks for dead ones). @default 5000 */
  heartbeatMs?: number;
  /** An instance silent for this long is dead and its users are taken out. @default 15000 */
  staleMs?: number;
}

/**
 * Presence shared by every instance. Each socket in a room is one field of
 * the room's `sockets` hash, named after its instance; users are counted once
 * however many sockets they have. Every instance heartbeats; any instance
 * (one at a time, under a short lock) takes a silent instance's sockets out
 * and tells its `onReaped` listeners, so the rooms hear the leaves.
 */
export class RedisPresence implements Presence {
  private readonly heartbeatMs: number;
  private readonly staleMs: number;
  /** This instance's sockets: room → socket id → user. Re-registered if Redis forgot them. */
  private readonly local = new Map<string, Map<string, User>>();
  /** Leaves that failed while Redis was away, retried on each heartbeat: `room\nsocketId` → both. */
  private readonly pendingLeaves = new Map<string, { room: string; socketId: string }>();
  private readonly reapedListeners: Array<(leave: ReapedLeave) => void> = [];
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private registered = false;
  /** Since when the link has been up without a break: reaping waits a full stale period after an outage. */
  private upSince = Date.now();
  private closed = false;

  constructor(
    private readonly links: RedisLinks,
    private readonly logger: Logger,
    /** Unique per process (a restarted instance must not pass for its former self). */
    private readonly presenceId: string,
    timings: PresenceTimings = {},
  ) {
    this.heartbeatMs = timings.heartbeatMs ?? 5000;
    this.staleMs = timings.staleMs ?? 15_000;
    links.onReadiness((ready) => {
      if (ready) {
        this.upSince = Date.now();
        // Say we are alive at once: others may be about to reap after the same outage.
        this.tick();
      }
    });
  }

  /** Registers this instance and starts its heartbeat. */
  async start(): Promise<void> {
    await this.heartbeat();
    this.timer = setInterval(() => this.tick(), this.heartbeatMs);
    this.timer.unref();
  }

  async join(room: string, user: User, socketId: string): Promise<JoinResult> {
    const rejoin = this.local.get(room)?.has(socketId) ?? false;
    this.addLocal(room, user, socketId);
    this.pendingLeaves.delete(`${room}\n${socketId}`);
    const { command } = this.links;
    try {
      const reply = (await this.links.run('presence join', async () => {
        // The instance's room index is written before the socket, so that
        // whatever the join leaves behind can be reaped if this instance dies.
        const [, joined] = await Promise.all([
          command.sAdd(keys.instanceRooms(this.presenceId), room),
          JOIN.run(command, this.roomKeys(room), [socketField(this.presenceId, socketId), user.id, JSON.stringify(user)]),
        ]);
        // After the join, never before: see dropRoomIfEmpty.
        await command.sAdd(keys.rooms, room);
        return joined;
      })) as [number, string[]];
      const [first, members] = reply;
      return { first: first === 1, members: members.map((m) => JSON.parse(m) as User) };
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
      const { last, members } = await this.leaveInRedis(room, socketId);
      return { last, members };
    } catch (err) {
      // Redis is away: take the socket out when it is back (the leave is then told through onReaped).
      this.pendingLeaves.set(`${room}\n${socketId}`, { room, socketId });
      throw err;
    }
  }

  async members(room: string): Promise<User[]> {
    const values = await this.links.run('presence members', () => this.links.command.hVals(keys.members(room)));
    return values.map((v) => JSON.parse(v) as User);
  }

  async rooms(): Promise<Array<{ room: string; members: number }>> {
    const { command } = this.links;
    const rooms = await this.links.run('presence rooms', () => command.sMembers(keys.rooms));
    if (rooms.length === 0) return [];
    // The set may name a room that just emptied: its members hash decides.
    const counts = await this.links.run('presence room sizes', () => Promise.all(rooms.map((room) => command.hLen(keys.members(room)))));
    return rooms.map((room, i) => ({ room, members: counts[i] })).filter((r) => r.members > 0);
  }

  onReaped(listener: (leave: ReapedLeave) => void): void {
    this.reapedListeners.push(listener);
  }

  /** Stops the heartbeat and takes this instance's remaining sockets out of every room (telling onReaped). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.ticking;
    try {
      await this.reapInstance(this.presenceId);
    } catch (err) {
      this.logger.warn({ err }, 'could not remove this instance from presence; another instance will reap it');
    }
    this.local.clear();
  }

  /** Stops the heartbeat and leaves everything in Redis as it is, as a crashed process would. */
  abandon(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  private roomKeys(room: string): string[] {
    return [keys.sockets(room), keys.counts(room), keys.members(room)];
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

  private async leaveInRedis(room: string, socketId: string): Promise<LeaveResult & { user?: User }> {
    const { command } = this.links;
    const [last, members, user] = (await this.links.run('presence leave', () =>
      LEAVE.run(command, this.roomKeys(room), [socketField(this.presenceId, socketId)]),
    )) as [number, number, string?];
    // Checked now, not before the await: a join of the same room that began
    // meanwhile has written the index already, and must keep it.
    if (!this.local.has(room)) {
      this.links.run('presence index', () => command.sRem(keys.instanceRooms(this.presenceId), room)).catch(() => {});
    }
    if (members === 0) await this.dropRoomIfEmpty(room);
    return { last: last === 1, members, user: user ? (JSON.parse(user) as User) : undefined };
  }

  /**
   * Takes an emptied room off the list of rooms. A join elsewhere may race
   * with this: it adds the room to the list after its script, so removing
   * first and then looking again at the members is enough to never lose it.
   */
  private async dropRoomIfEmpty(room: string): Promise<void> {
    const { command } = this.links;
    const [, count] = await this.links.run('presence room list', () =>
      Promise.all([command.sRem(keys.rooms, room), command.hLen(keys.members(room))]),
    );
    if (count > 0) await this.links.run('presence room list', () => command.sAdd(keys.rooms, room));
  }

  /** One heartbeat round, never two at once, never throwing. */
  private tick(): void {
    if (this.closed || this.ticking) return;
    this.ticking = this.round()
      .catch((err) => this.logger.debug({ err: (err as Error).message }, 'presence heartbeat round failed'))
      .finally(() => {
        this.ticking = undefined;
      });
  }

  private async round(): Promise<void> {
    await this.heartbeat();
    // The leaves are told to the rooms over the bus: give the other
    // instances, which reconnect with backoff, time to be listening again.
    if (Date.now() - this.upSince >= this.links.reconnectMaxMs) await this.retryLeaves();
    if (Date.now() - this.upSince >= this.staleMs && this.links.ready()) await this.reap();
  }

  private async heartbeat(): Promise<void> {
    const added = await this.links.run('heartbeat', () => HEARTBEAT.run(this.links.command, [keys.instances], [this.presenceId]));
    if (added === 1 && this.registered) {
      // Redis forgot this instance (it was taken for dead, or lost its data): put its sockets back.
      this.logger.warn({ rooms: this.local.size }, 'presence of this instance was lost; registering its sockets again');
      await this.registerAgain();
    }
    this.registered = true;
  }

  private async registerAgain(): Promise<void> {
    const { command } = this.links;
    for (const [room, sockets] of this.local) {
      await this.links.run('presence re-register', async () => {
        await command.sAdd(keys.instanceRooms(this.presenceId), room);
        await Promise.all(
          [...sockets].map(([socketId, user]) =>
            JOIN.run(command, this.roomKeys(room), [socketField(this.presenceId, socketId), user.id, JSON.stringify(user)]),
          ),
        );
        await command.sAdd(keys.rooms, room);
      });
    }
  }

  private async retryLeaves(): Promise<void> {
    for (const [key, { room, socketId }] of this.pendingLeaves) {
      // Joined again since: nothing to undo.
      if (!this.local.get(room)?.has(socketId)) {
        const { user, members } = await this.leaveInRedis(room, socketId);
        if (user) this.notify({ room, user, members });
      }
      this.pendingLeaves.delete(key);
    }
  }

  /** Under the reaper lock, takes every stale instance's sockets out of presence. */
  private async reap(): Promise<void> {
    const { command } = this.links;
    const lockMs = Math.max(2 * this.heartbeatMs, 1000);
    const locked = await this.links.run('reaper lock', () => command.set(keys.reaperLock, this.presenceId, { NX: true, PX: lockMs }));
    if (locked !== 'OK') return;
    try {
      const stale = (await this.links.run('stale instances', () =>
        STALE.run(command, [keys.instances], [this.staleMs]),
      )) as string[];
      for (const id of stale) {
        if (id === this.presenceId) continue;
        this.logger.warn({ instance: id }, 'reaping the presence of a silent instance');
        await this.reapInstance(id);
      }
    } finally {
      await this.links.run('reaper unlock', () => RELEASE.run(command, [keys.reaperLock], [this.presenceId])).catch(() => {});
    }
  }

  /** Takes one instance's sockets out of every room it had sockets in, then forgets the instance. */
  private async reapInstance(id: string): Promise<void> {
    const { command } = this.links;
    const rooms = await this.links.run('reap rooms', () => command.sMembers(keys.instanceRooms(id)));
    const prefix = socketField(id, '');
    for (let i = 0; i < rooms.length; i += 100) {
      const batch = rooms.slice(i, i + 100);
      const replies = (await this.links.run('reap', () =>
        Promise.all(batch.map((room) => REAP.run(command, this.roomKeys(room), [prefix]))),
      )) as Array<Array<number | string>>;
      for (const [j, reply] of replies.entries()) {
        const room = batch[j];
        for (let k = 1; k < reply.length; k += 2) {
          this.notify({ room, user: JSON.parse(String(reply[k])) as User, members: Number(reply[k + 1]) });
        }
        if (Number(reply[0]) === 0) await this.dropRoomIfEmpty(room);
      }
    }
    await this.links.run('reap instance', () => Promise.all([command.del(keys.instanceRooms(id)), command.zRem(keys.instances, id)]));
  }

  private notify(leave: ReapedLeave): void {
    for (const listener of this.reapedListeners) {
      try {
        listener(leave);
      } catch (err) {
        this.logger.error({ err }, 'presence listener failed');
      }
    }
  }
}
