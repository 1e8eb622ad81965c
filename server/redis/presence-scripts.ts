/**
 * The Lua scripts of Redis presence, each one atomic step: a room's members
 * and its presence version change together (JOIN, LEAVE, REAP), and the
 * instances' heartbeats and the reaper lock (HEARTBEAT, CLAIM_STALE, RELEASE).
 * Their KEYS and ARGV are documented above each; keys.ts names the keys.
 */
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
export const JOIN = new LuaScript(`${LUA_VERSION}
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
export const LEAVE = new LuaScript(`${LUA_VERSION}
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
export const REAP = new LuaScript(`${LUA_VERSION}
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
export const SNAPSHOT = new LuaScript(`${LUA_VERSION}
return {redis.call('HVALS', KEYS[1]), current_version(KEYS[2])}
`);

/** KEYS: instances. ARGV: presence id. Returns 1 if the instance was not registered (new, or reaped as dead). */
export const HEARTBEAT = new LuaScript(`${LUA_NOW}
return redis.call('ZADD', KEYS[1], now_ms(), ARGV[1])
`);

/**
 * Takes the reaper lock if nobody holds it and answers the instances to
 * reap. KEYS: instances, lock (one slot). ARGV: owner, lock time (ms), stale
 * after (ms). Returns false if the lock is someone else's, else the ids
 * whose last heartbeat is older.
 */
export const CLAIM_STALE = new LuaScript(`${LUA_NOW}
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now_ms() - tonumber(ARGV[3])))
`);

/** KEYS: lock. ARGV: owner. Deletes the lock only if it is still ours. */
export const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);
