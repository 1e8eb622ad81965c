/**
 * Every Redis key and pub/sub channel Parley uses, in one place.
 *
 * The keys of one room share the hash tag `{<room>}` so that a Redis Cluster
 * keeps them in one slot and a script can touch them together. Room names
 * (`^[a-z0-9][a-z0-9_-]{0,63}$`) contain no braces, so the tag is always the
 * room. Keys that are not about one room live in slots of their own and are
 * never touched in the same script or multi-key command as a room's keys;
 * those a script touches together share a tag of their own (`{instances}`).
 * What every room's joins and leaves update is split into buckets, so that
 * on a cluster it spreads over the shards instead of making one key hot.
 */
import calculateSlot from 'cluster-key-slot';

/** Buckets of the index of rooms with members (`keys.roomIndex`). */
export const ROOM_INDEX_BUCKETS = 16;

/** The bucket of the rooms index that holds `room`. */
export function roomBucket(room: string): number {
  return calculateSlot(room) % ROOM_INDEX_BUCKETS;
}

export const keys = {
  /** String: the room's latest `seq` (INCR). */
  seq: (room: string) => `parley:{${room}}:seq`,
  /** String: the room's latest `rev` (INCR): every change of the room (a new message too) takes the next one. */
  rev: (room: string) => `parley:{${room}}:rev`,
  /** Sorted set: the room's last `historyMax` messages as JSON, in their current state, scored by `seq`. */
  log: (room: string) => `parley:{${room}}:log`,
  /** Hash: message id → seq, for the messages in the log (trimmed with it). */
  messageIds: (room: string) => `parley:{${room}}:ids`,
  /**
   * Sorted set: seq → the rev of that message's latest change, for the
   * messages in the log (trimmed with it): what `room:changes` reads.
   */
  changes: (room: string) => `parley:{${room}}:changes`,
  /**
   * String with a 24 h TTL: a reference to the message first stored for this
   * send (`seq:rev:ts:id`), not a copy. A clientId has no colon, so
   * `<userId>:<clientId>` cannot be read two ways.
   */
  idempotency: (room: string, userId: string, clientId: string) => `parley:{${room}}:idem:${userId}:${clientId}`,
  /** Hash: `<presenceId>|<socketId>` → user id, for every socket in the room on every instance. */
  sockets: (room: string) => `parley:{${room}}:sockets`,
  /** Hash: user id → how many of the user's sockets are in the room. */
  counts: (room: string) => `parley:{${room}}:counts`,
  /** Hash: user id → the user as JSON, for the users present in the room. */
  members: (room: string) => `parley:{${room}}:members`,
  /**
   * String: the room's presence version, incremented with every change of its
   * members in the script that makes the change. Expires a day after the room
   * emptied; it starts again from Redis's clock, so it never goes back.
   */
  presenceVersion: (room: string) => `parley:{${room}}:pver`,
  /** Hash: the room's last change of members (`event`, `user` JSON, `members`, `version`), for catch-up; expires with the version. */
  presenceLast: (room: string) => `parley:{${room}}:plast`,
  /**
   * Set: the rooms of one bucket (`roomBucket`) that have members now
   * (cleaned lazily: readers check the members hash). Written when a room's
   * members change, read (all buckets) by the rooms list.
   */
  roomIndex: (bucket: number) => `parley:rooms:{${bucket}}`,
  /**
   * Sorted set: presence id → its last heartbeat, in Redis's clock (ms).
   * In one slot with the reaper lock: claiming the reaping reads both.
   */
  instances: 'parley:{instances}',
  /** String with a short TTL: who is reaping dead instances now. */
  reaperLock: 'parley:{instances}:reaper',
  /** Set: the rooms where this instance has (or had) sockets: what to reap if it dies. */
  instanceRooms: (presenceId: string) => `parley:instance:{${presenceId}}:rooms`,
  /**
   * Prefix of the rate limiters' keys (`parley:limit:<kind>:<key>`): one key
   * per user or address and kind, counted by a one-key script, so they
   * spread over a cluster's slots by their whole name.
   */
  limitPrefix: (kind: string) => `parley:limit:${kind}`,
} as const;

/**
 * The channels of the broadcast bus (bus.ts). A room's channel carries the
 * room's hash tag: sharded pub/sub assigns a channel to a slot as it does a
 * key, so a Redis Cluster serves a room's broadcasts from the node that holds
 * its keys.
 */
export const channels = {
  /** A chat room's broadcasts, heard by the instances with sockets in the room. */
  room: (room: string) => `parley:{${room}}:bus`,
  /**
   * Everything else the instances tell each other (broadcasts to several
   * rooms or with acks, socketsJoin, fetchSockets...), heard by all: one
   * channel, so on one shard of a cluster. Parley itself broadcasts only to
   * single rooms; nothing of the chat's traffic goes here.
   */
  all: 'parley:bus',
  /** Answers to one instance's requests (fetchSockets, acks), by its bus id. */
  replies: (uid: string) => `parley:bus:${uid}`,
} as const;

/** The field of a socket in a room's `sockets` hash; its prefix `<presenceId>|` finds an instance's sockets. */
export function socketField(presenceId: string, socketId: string): string {
  return `${presenceId}|${socketId}`;
}
