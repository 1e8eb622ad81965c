import type { User } from '../../protocol';
import type { Logger } from '../logger';
import type {
  JoinResult,
  LastChange,
  LeaveResult,
  Presence,
  PresenceChange,
  PresenceSnapshot,
  ReapedLeave,
  RestoredJoin,
} from '../presence/types';
import type { RedisLinks } from './connection';
import { keys, socketField } from './keys';
import { LUA_NOW, LuaScript } from './script';

/**
 * The room's presence version, for the scripts below. `bump` is called in the
 * script that changes the room's members, so the version and the change are
 * one atomic step; it also records the change for catch-up. A counter that
 * does not exist (expired a day after the room emptied, or lost with Redis's
 * data) starts from Redis's clock in ms, not from 0: versions keep growing
 * for clients that still hold an older one.
 */
const LUA_VERSION = `${LUA_NOW}
local IDLE_MS = ${24 * 60 * 60 * 1000}
local function current_version(pver)
  return tonumber(redis.call('GET', pver) or '0')
end
local function bump(pver, plast, event, user, members)
  if redis.call('EXISTS', pver) == 0 then redis.call('SET', pver, now_ms()) end
  local v = redis.call('INCR', pver)
  redis.call('HSET', plast, 'event', event, 'user', user, 'members', members, 'version', v)
  if members == 0 then
    redis.call('PEXPIRE', pver, IDLE_MS)
    redis.call('PEXPIRE', plast, IDLE_MS)
  elseif event == 'join' then
    redis.call('PERSIST', pver)
    redis.call('PERSIST', plast)
  end
  return v
end
`;

/**
 * Adds a socket to a room. KEYS: sockets, counts, members, version, last
 * change. ARGV: socket field, user id, user JSON. Returns {first (1|0),
 * member JSONs, version}; a socket already in the room changes nothing, and
 * only a user's first socket changes the version.
 */
const JOIN = new LuaScript(`${LUA_VERSION}
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return {0, redis.call('HVALS', KEYS[3]), current_version(KEYS[4])}
end
local n = redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
if n ~= 1 then return {0, redis.call('HVALS', KEYS[3]), current_version(KEYS[4])} end
local v = bump(KEYS[4], KEYS[5], 'join', ARGV[3], redis.call('HLEN', KEYS[3]))
return {1, redis.call('HVALS', KEYS[3]), v}
`);

/**
 * Takes a socket out of a room. KEYS: sockets, counts, members, version, last
 * change. ARGV: socket field. Returns {last (1|0), members left, version, the
 * user's JSON if last}; an unknown socket changes nothing.
 */
const LEAVE = new LuaScript(`${LUA_VERSION}
local uid = redis.call('HGET', KEYS[1], ARGV[1])
if not uid then return {0, redis.call('HLEN', KEYS[3]), current_version(KEYS[4])} end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HINCRBY', KEYS[2], uid, -1) > 0 then
  return {0, redis.call('HLEN', KEYS[3]), current_version(KEYS[4])}
end
local user = redis.call('HGET', KEYS[3], uid)
redis.call('HDEL', KEYS[2], uid)
redis.call('HDEL', KEYS[3], uid)
local left = redis.call('HLEN', KEYS[3])
if not user then return {1, left, current_version(KEYS[4])} end
return {1, left, bump(KEYS[4], KEYS[5], 'leave', user, left), user}
`);

/**
 * Takes every socket of one instance out of a room. KEYS: sockets, counts,
 * members, version, last change. ARGV: the instance's field prefix. Returns
 * {members left, then for each user who left: user JSON, members left after
 * them, version after them}.
 */
const REAP = new LuaScript(`${LUA_VERSION}
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
        local left = redis.call('HLEN', KEYS[3])
        table.insert(gone, user)
        table.insert(gone, left)
        table.insert(gone, bump(KEYS[4], KEYS[5], 'leave', user, left))
      end
    end
  end
end
local result = {redis.call('HLEN', KEYS[3])}
for _, v in ipairs(gone) do table.insert(result, v) end
return result
`);

/** KEYS: members, version. Returns {member JSONs, version}, read together. */
const SNAPSHOT = new LuaScript(`${LUA_VERSION}
return {redis.call('HVALS', KEYS[1]), current_version(KEYS[2])}
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
  private readonly restoredListeners: Array<(join: RestoredJoin) => void> = [];
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private registered = false;
  /** Redis forgot this instance's sockets and they are not all back yet. */
  private lost = false;
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
      })) as [number, string[], number];
      const [first, members, version] = reply;
      return { first: first === 1, members: members.map((m) => JSON.parse(m) as User), version: Number(version) };
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
      // Redis is away: take the socket out when it is back (the leave is then told through onReaped).
      this.pendingLeaves.set(`${room}\n${socketId}`, { room, socketId });
      throw err;
    }
  }

  async members(room: string): Promise<User[]> {
    const values = await this.links.run('presence members', () => this.links.command.hVals(keys.members(room)));
    return values.map((v) => JSON.parse(v) as User);
  }

  async snapshot(room: string): Promise<PresenceSnapshot> {
    const [members, version] = (await this.links.run('presence snapshot', () =>
      SNAPSHOT.run(this.links.command, [keys.members(room), keys.presenceVersion(room)], []),
    )) as [string[], number];
    return { members: members.map((m) => JSON.parse(m) as User), version: Number(version) };
  }

  async lastChange(room: string): Promise<LastChange | undefined> {
    const last = await this.links.run('presence last change', () => this.links.command.hGetAll(keys.presenceLast(room)));
    const version = Number(last.version);
    if ((last.event !== 'join' && last.event !== 'leave') || !last.user || !Number.isSafeInteger(version)) return undefined;
    return { room, event: last.event, user: JSON.parse(last.user) as User, members: Number(last.members), version };
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

  onRestored(listener: (join: RestoredJoin) => void): void {
    this.restoredListeners.push(listener);
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
    return { last: last === 1, members, version: Number(version), user: user ? (JSON.parse(user) as User) : undefined };
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
      this.lost = true;
    }
    this.registered = true;
    // Until it succeeds: the next heartbeat finds the instance registered and would not say so again.
    if (this.lost) {
      await this.registerAgain();
      this.lost = false;
    }
  }

  /** Puts this instance's sockets back; users present again thereby are told to their rooms (onRestored). */
  private async registerAgain(): Promise<void> {
    const { command } = this.links;
    for (const [room, sockets] of this.local) {
      const entries = [...sockets];
      const replies = await this.links.run('presence re-register', async () => {
        await command.sAdd(keys.instanceRooms(this.presenceId), room);
        const joined = await Promise.all(
          entries.map(([socketId, user]) =>
            JOIN.run(command, this.roomKeys(room), [socketField(this.presenceId, socketId), user.id, JSON.stringify(user)]),
          ),
        );
        await command.sAdd(keys.rooms, room);
        return joined as Array<[number, string[], number]>;
      });
      for (const [i, [first, members, version]] of replies.entries()) {
        const [socketId, user] = entries[i];
        if (first === 1) this.tell(this.restoredListeners, { room, user, members: members.length, version: Number(version) });
        // Left while being put back: its leave may have run before this join
        // and found nothing to take out. Take it out now, or the user would
        // stay present with no socket until this instance dies.
        if (!this.local.get(room)?.has(socketId)) {
          const left = await this.leaveInRedis(room, socketId);
          if (left.user) this.tell(this.reapedListeners, { room, user: left.user, members: left.members, version: left.version });
        }
      }
    }
  }

  private async retryLeaves(): Promise<void> {
    for (const [key, { room, socketId }] of this.pendingLeaves) {
      // Joined again since: nothing to undo.
      if (!this.local.get(room)?.has(socketId)) {
        const { user, members, version } = await this.leaveInRedis(room, socketId);
        if (user) this.tell(this.reapedListeners, { room, user, members, version });
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
        for (let k = 1; k + 2 < reply.length; k += 3) {
          this.tell(this.reapedListeners, {
            room,
            user: JSON.parse(String(reply[k])) as User,
            members: Number(reply[k + 1]),
            version: Number(reply[k + 2]),
          });
        }
        if (Number(reply[0]) === 0) await this.dropRoomIfEmpty(room);
      }
    }
    await this.links.run('reap instance', () => Promise.all([command.del(keys.instanceRooms(id)), command.zRem(keys.instances, id)]));
  }

  private tell(listeners: Array<(change: PresenceChange) => void>, change: PresenceChange): void {
    for (const listener of listeners) {
      try {
        listener(change);
      } catch (err) {
        this.logger.error({ err }, 'presence listener failed');
      }
    }
  }
}
