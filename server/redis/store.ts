/**
 * Message history in Redis: the atomic scripts that assign `seq` and `rev`
 * (a send, a change to a message: durable writes, acknowledged once the
 * replicas the links wait for have them), the read of what changed after a
 * rev, and the reads by page.
 *
 * A room's messages are JSON members of one sorted set scored by `seq`,
 * written in one field order: `seq, rev, id, room, clientId, user, text, ts,
 * reactions[, editedTs][, deleted]`. A send's JSON is made here; a change's
 * is made by its script, with an encoder of its own (below) rather than
 * cjson's: cjson writes numbers with 14 significant digits and an object's
 * keys in no set order, where timestamps must come back exact and reactions
 * in the order they were first given.
 */
import type { Message } from '../../protocol';
import { IDEMPOTENCY_WINDOW_MS, MAX_REACTIONS_GIVEN_PER_MESSAGE, MAX_REACTIONS_PER_MESSAGE } from '../../protocol';
import { UnavailableError } from '../errors';
import { refused, type Refusal } from '../store/change';
import { decodeSendRef, encodeSendRef, storedMessage } from '../store/send-ref';
import type { AppendInput, AppendResult, ChangeInput, ChangeResult, ChangesPage, MessageStore, Page } from '../store/types';
import type { RedisLinks } from './connection';
import { keys } from './keys';
import { LUA_NOW, LuaScript } from './script';

/**
 * Lua shared by the scripts of a room's messages, whose KEYS[1..4] are
 * always log, ids, changes, rev: the member (message JSON) at a seq.
 */
const LUA_LOG = String.raw`
local function member_at(seq)
  return redis.call('ZRANGE', KEYS[1], seq, seq, 'BYSCORE')[1]
end
`;

/**
 * Stores a message, atomically, in one round trip:
 * - a repeated (user, room, clientId) answers the message first stored, in
 *   its current state; once it has left the history, its reference (the
 *   caller rebuilds it). It writes the idempotency key again as it was:
 *   WAIT after a repeat then also waits for the first write, which another
 *   connection may have made and the replicas may not have yet;
 * - a call that reaches Redis after its deadline stores nothing (the caller
 *   has answered `unavailable` by then, and the client will retry);
 * - otherwise the room's next seq and rev are taken, the message added to
 *   the log, to the id index and to the changes at its rev, its reference
 *   kept under the idempotency key, and the log trimmed to historyMax, with
 *   the index entries of what was trimmed.
 *
 * - and, when asked, the new message is published on the room's bus channel
 *   in the same step (SPUBLISH or PUBLISH: the channel is in the room's
 *   slot), wrapped in the bus's broadcast: one round trip for the store and
 *   the broadcast to the other instances, which then hear the room's
 *   messages in seq order. Not with WAIT (see `RedisMessageStore`): a
 *   message must not reach anyone before the replicas have it.
 *
 * KEYS: log, ids, changes, rev, seq, idempotency[, bus channel]. ARGV: the
 * message as JSON without `seq` and `rev` (an object with at least one
 * field), its id, its ts, historyMax, idempotency TTL (ms), deadline in
 * Redis's clock (ms; 0 = none), then to publish: 'S' (sharded), 'C'
 * (classic) or '' (nothing), what goes before the message, what goes after.
 * Returns {0, json} stored, {1, json} repeat, {2, reference} repeat of a
 * message no longer kept, {-1, ''} too late.
 */
const APPEND = new LuaScript(String.raw`${LUA_NOW}${LUA_LOG}
local ref = redis.call('GET', KEYS[6])
if ref then
  redis.call('SET', KEYS[6], ref, 'KEEPTTL')
  -- Keys written before references were: the message itself, as JSON.
  if string.sub(ref, 1, 1) == '{' then return {1, ref} end
  local current = member_at(string.match(ref, '^%d+'))
  if current then return {1, current} end
  return {2, ref}
end
local deadline = tonumber(ARGV[6])
if deadline > 0 and now_ms() > deadline then return {-1, ''} end
local seq = redis.call('INCR', KEYS[5])
local rev = redis.call('INCR', KEYS[4])
local message = '{"seq":' .. seq .. ',"rev":' .. rev .. ',' .. string.sub(ARGV[1], 2)
redis.call('ZADD', KEYS[1], seq, message)
redis.call('HSET', KEYS[2], ARGV[2], seq)
redis.call('ZADD', KEYS[3], rev, seq)
redis.call('SET', KEYS[6], seq .. ':' .. rev .. ':' .. ARGV[3] .. ':' .. ARGV[2], 'PX', ARGV[5])
local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if excess > 0 then
  for _, old in ipairs(redis.call('ZRANGE', KEYS[1], 0, excess - 1)) do
    -- The first "id" of a member is the message's: only numbers come before it.
    local id = string.match(old, '"id":"([^"]*)"')
    if id then redis.call('HDEL', KEYS[2], id) end
    redis.call('ZREM', KEYS[3], string.match(old, '^{"seq":(%d+)'))
  end
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, excess - 1)
end
if ARGV[7] == 'S' then redis.call('SPUBLISH', KEYS[7], ARGV[8] .. message .. ARGV[9])
elseif ARGV[7] == 'C' then redis.call('PUBLISH', KEYS[7], ARGV[8] .. message .. ARGV[9]) end
return {0, message}
`);

/**
 * Changes a message, atomically, in one round trip: finds it by id, checks
 * the rules (as store/change.ts states them), and when something changes,
 * takes the room's next rev, replaces the message in the log at its seq and
 * moves it to that rev in the changes. When nothing changes it writes the
 * room's rev again as it is, so that WAIT after it waits for the state it
 * answers (made perhaps by another connection, not on the replicas yet).
 *
 * KEYS: log, ids, changes, rev. ARGV: op (edit, delete, react, unreact),
 * message id, user id, text (edit) or reaction (react, unreact), ts (an
 * edit's editedTs), the most distinct reactions, deadline in Redis's clock
 * (ms; 0 = none).
 * Returns {0, json} changed, {1, json} nothing to change (the current
 * state), or a refusal: {-1} too late, {-2} not found, {-3} deleted,
 * {-4} not the author, {-5} too many reactions.
 */
const CHANGE = new LuaScript(String.raw`${LUA_NOW}${LUA_LOG}
local seq = redis.call('HGET', KEYS[2], ARGV[2])
local stored = seq and member_at(seq)
if not stored then return {-2} end
local m = cjson.decode(stored)
local op, user, arg = ARGV[1], ARGV[3], ARGV[4]
if m.deleted and (op == 'edit' or op == 'react') then return {-3} end
if (op == 'edit' or op == 'delete') and m.user.id ~= user then return {-4} end

-- The reactions in the order they are written (first given first): cjson's
-- tables keep no order, so the keys are read from the JSON text, skipping
-- over strings and their escapes.
local order = {}
do
  local _, i = string.find(stored, '"reactions":{', 1, true)
  local depth = 0
  while i do
    local at, _, c = string.find(stored, '([%[%]"}])', i + 1)
    if c == '"' then
      local j = at
      repeat
        local k, _, d = string.find(stored, '([\\"])', j + 1)
        j = (d == '\\') and (k + 1) or k
      until d == '"'
      if depth == 0 then order[#order + 1] = cjson.decode(string.sub(stored, at, j)) end
      i = j
    elseif c == '[' then depth = depth + 1; i = at
    elseif c == ']' then depth = depth - 1; i = at
    else i = nil end
  end
end
local function index_of(list, value)
  for n, v in ipairs(list) do if v == value then return n end end
end

-- Nothing to change: the current state, written again (see above).
local function unchanged()
  redis.call('SET', KEYS[4], redis.call('GET', KEYS[4]) or '0', 'KEEPTTL')
  return {1, stored}
end

local givers = m.reactions[arg]
if op == 'edit' then
  if m.text == arg then return unchanged() end
  m.text = arg
  m.editedTs = tonumber(ARGV[5])
elseif op == 'delete' then
  if m.deleted then return unchanged() end
  m.deleted = true
  m.text = ''
  m.reactions = {}
  order = {}
elseif op == 'react' then
  if givers and index_of(givers, user) then return unchanged() end
  local given = 0
  for _, r in ipairs(order) do given = given + #m.reactions[r] end
  if given >= tonumber(ARGV[8]) then return {-6} end
  if not givers then
    if #order >= tonumber(ARGV[6]) then return {-5} end
    givers = {}
    m.reactions[arg] = givers
    order[#order + 1] = arg
  end
  givers[#givers + 1] = user
else
  local at = givers and index_of(givers, user)
  if not at then return unchanged() end
  table.remove(givers, at)
  if #givers == 0 then
    m.reactions[arg] = nil
    table.remove(order, index_of(order, arg))
  end
end

local deadline = tonumber(ARGV[7])
if deadline > 0 and now_ms() > deadline then return {-1} end
m.rev = redis.call('INCR', KEYS[4])

-- Numbers as integers in full (%.0f: exact up to 2^53), strings by cjson.
local function num(n) return string.format('%.0f', n) end
local str = cjson.encode
local out = {'{"seq":', num(m.seq), ',"rev":', num(m.rev), ',"id":', str(m.id), ',"room":', str(m.room),
  ',"clientId":', str(m.clientId), ',"user":{"id":', str(m.user.id), ',"name":', str(m.user.name), '}',
  ',"text":', str(m.text), ',"ts":', num(m.ts), ',"reactions":{'}
for n, reaction in ipairs(order) do
  local ids = {}
  for k, id in ipairs(m.reactions[reaction]) do ids[k] = str(id) end
  out[#out + 1] = (n > 1 and ',' or '') .. str(reaction) .. ':[' .. table.concat(ids, ',') .. ']'
end
out[#out + 1] = '}'
if m.editedTs then out[#out + 1] = ',"editedTs":' .. num(m.editedTs) end
if m.deleted then out[#out + 1] = ',"deleted":true' end
out[#out + 1] = '}'
local message = table.concat(out)

redis.call('ZREMRANGEBYSCORE', KEYS[1], seq, seq)
redis.call('ZADD', KEYS[1], seq, message)
redis.call('ZADD', KEYS[3], m.rev, seq)
return {0, message}
`);

/**
 * What changed after a rev, in one round trip and one atomic read: the kept
 * messages whose latest change is above it, ascending by rev, with the
 * room's latest rev as it is at that moment.
 *
 * KEYS: log, ids, changes, rev. ARGV: after, limit.
 * Returns {rev, hasMore (0/1), json...}.
 */
const CHANGES = new LuaScript(String.raw`${LUA_LOG}
local limit = tonumber(ARGV[2])
local seqs = redis.call('ZRANGE', KEYS[3], '(' .. ARGV[1], '+inf', 'BYSCORE', 'LIMIT', 0, limit + 1)
local out = {tonumber(redis.call('GET', KEYS[4]) or '0'), #seqs > limit and 1 or 0}
for n = 1, math.min(#seqs, limit) do out[n + 2] = member_at(seqs[n]) or false end
return out
`);

/** The answer of CHANGE for each refusal. */
const REFUSALS: Record<number, Refusal> = { [-2]: 'not_found', [-3]: 'deleted', [-4]: 'not_author', [-5]: 'too_many_reactions', [-6]: 'too_many_givers' };

const TOO_LATE = 'the store answered too late; nothing was stored, retry';

/** How many writes stored but answered `unavailable` an instance remembers (see `Unanswered`). */
const UNANSWERED_MAX = 10_000;

/**
 * Writes (sends, changes) that this instance made in Redis but answered
 * `unavailable` (too few replicas in time, or Redis answered after the
 * command timeout): nothing was broadcast for them, so the retry that finds
 * them done is answered as what it was (a new message, a change) and
 * broadcast, rather than as a repeat that changes nothing. Oldest first, at
 * most `UNANSWERED_MAX`; a retry that reaches another instance is a repeat
 * there, and the room's members fill the gap in `seq` or `rev` from history.
 */
class Unanswered {
  private readonly keys = new Set<string>();

  /**
   * Runs a durable write whose reply says whether it wrote (`wrote`), and
   * remembers `key` when it did but the caller gets an error (or got one:
   * the write settled after the command timeout).
   */
  async track<T>(key: string, wrote: (reply: T) => boolean, write: (done: (reply: T) => T) => Promise<T>): Promise<T> {
    let answered = true;
    let written = false;
    try {
      return await write((reply) => {
        written = wrote(reply);
        if (written && !answered) this.add(key);
        return reply;
      });
    } catch (err) {
      answered = false;
      if (written) this.add(key);
      throw err;
    }
  }

  /** Whether `key` was an unanswered write (forgotten now: it is answered). */
  take(key: string): boolean {
    return this.keys.delete(key);
  }

  private add(key: string): void {
    this.keys.delete(key);
    this.keys.add(key);
    if (this.keys.size > UNANSWERED_MAX) this.keys.delete(this.keys.values().next().value as string);
  }
}

/**
 * The history of every room in Redis, shared by every instance: per room, a
 * sorted set of messages by `seq`, counters of `seq` and `rev`, an index of
 * ids, the messages by their latest `rev`, and one idempotency key per send.
 */
export class RedisMessageStore implements MessageStore {
  private readonly unanswered = new Unanswered();

  constructor(
    private readonly links: RedisLinks,
    private readonly historyMax: number,
  ) {}

  async append(input: AppendInput): Promise<AppendResult> {
    const { id, room, clientId, user, text, ts } = input;
    // With WAIT, a new message is broadcast only once the replicas have it:
    // the store publishes nothing itself, the caller's adapter does after the answer.
    const publish = this.links.waitReplicas === 0 ? input.publish : undefined;
    // `seq` and `rev` go first, added by the script; the rest is fixed here.
    const json = JSON.stringify({ id, room, clientId, user: { id: user.id, name: user.name }, text, ts, reactions: {} });
    const idempotencyKey = keys.idempotency(room, user.id, clientId);
    const [status, stored] = await this.unanswered.track<[number, string]>(
      idempotencyKey,
      ([written]) => written === 0,
      (done) =>
        this.links.durable('append', idempotencyKey, async (client) =>
          done(
            (await APPEND.run(
              client,
              [...roomKeys(room), keys.seq(room), idempotencyKey, ...(publish ? [publish.channel] : [])],
              [
                json, id, ts, this.historyMax, IDEMPOTENCY_WINDOW_MS, this.deadline(),
                ...(publish ? [publish.sharded ? 'S' : 'C', publish.before, publish.after] : []),
              ],
            )) as [number, string],
          ),
        ),
    );
    if (status === -1) throw new UnavailableError(`${TOO_LATE} with the same clientId`);
    // A repeat of a send answered `unavailable` here: its first answer, at last.
    const firstAnswer = this.unanswered.take(idempotencyKey);
    const duplicate = status !== 0 && !firstAnswer;
    // The script published whenever it stored: also the first time of an
    // unanswered send, whose other instances have had it since.
    const message = status === 2 ? storedMessage(input, decodeSendRef(stored)) : parse(stored);
    return !duplicate && publish !== undefined ? { message, duplicate, published: true } : { message, duplicate };
  }

  async change(input: ChangeInput): Promise<ChangeResult> {
    const { room, id, userId, op, ts } = input;
    const arg = op.kind === 'edit' ? op.text : op.kind === 'delete' ? '' : op.reaction;
    const key = JSON.stringify([room, id, userId, op.kind, arg]);
    const [status, stored] = await this.unanswered.track<[number, string?]>(
      key,
      ([changed]) => changed === 0,
      (done) =>
        this.links.durable('change', keys.log(room), async (client) =>
          done((await CHANGE.run(client, roomKeys(room), [op.kind, id, userId, arg, ts, MAX_REACTIONS_PER_MESSAGE, this.deadline(), MAX_REACTIONS_GIVEN_PER_MESSAGE])) as [number, string?]),
        ),
    );
    if (status === -1) throw new UnavailableError(TOO_LATE);
    if (status < 0) throw refused(REFUSALS[status], input);
    // A repeat of a change answered `unavailable` here: it changed the message then.
    const firstAnswer = this.unanswered.take(key);
    const changed = status === 0 || firstAnswer;
    return { message: parse(stored!), changed };
  }

  async changes(room: string, after: number, limit: number): Promise<ChangesPage> {
    const reply = (await this.links.run('changes', () => CHANGES.run(this.links.command, roomKeys(room), [after, limit]))) as [
      number,
      number,
      ...Array<string | null>,
    ];
    const [rev, hasMore, ...members] = reply;
    return { messages: members.flatMap((m) => (m === null ? [] : [parse(m)])), rev, hasMore: hasMore === 1 };
  }

  async latest(room: string, limit: number): Promise<Page> {
    const members = await this.links.run('latest', () => this.links.command.zRange(keys.log(room), -(limit + 1), -1));
    const hasMore = members.length > limit;
    return { messages: (hasMore ? members.slice(1) : members).map(parse), hasMore };
  }

  async before(room: string, before: number, limit: number): Promise<Page> {
    const members = await this.links.run('before', () =>
      this.links.command.zRange(keys.log(room), `(${before}`, '-inf', {
        BY: 'SCORE',
        REV: true,
        LIMIT: { offset: 0, count: limit + 1 },
      }),
    );
    const hasMore = members.length > limit;
    return { messages: members.slice(0, limit).reverse().map(parse), hasMore };
  }

  async after(room: string, after: number, limit: number): Promise<Page> {
    const members = await this.links.run('after', () =>
      this.links.command.zRange(keys.log(room), `(${after}`, '+inf', {
        BY: 'SCORE',
        LIMIT: { offset: 0, count: limit + 1 },
      }),
    );
    const hasMore = members.length > limit;
    return { messages: members.slice(0, limit).map(parse), hasMore };
  }

  lastSeqs(rooms: string[]): Promise<number[]> {
    return this.counters('lastSeqs', rooms.map(keys.seq));
  }

  lastRevs(rooms: string[]): Promise<number[]> {
    return this.counters('lastRevs', rooms.map(keys.rev));
  }

  /** The values of counter keys, 0 where unset. */
  private async counters(what: string, names: string[]): Promise<number[]> {
    if (names.length === 0) return [];
    // GETs issued in one tick go out as one pipeline (one round trip); MGET
    // would not work across the slots of a Redis Cluster.
    const values = await this.links.run(what, () => Promise.all(names.map((name) => this.links.command.get(name))));
    return values.map((v) => (v === null ? 0 : Number(v)));
  }

  /** A deadline for a script: leave a margin for the answer to come back before our own timeout fires. */
  private deadline(): number {
    return this.links.redisDeadline(Math.floor(this.links.commandTimeoutMs * 0.75));
  }
}

/** The keys every script of a room's messages takes first: log, ids, changes, rev. */
function roomKeys(room: string): string[] {
  return [keys.log(room), keys.messageIds(room), keys.changes(room), keys.rev(room)];
}

/** A stored message; one stored before messages had a rev and reactions gets rev 0 and none. */
function parse(member: string): Message {
  const message = JSON.parse(member) as Message;
  message.rev ??= 0;
  message.reactions ??= {};
  return message;
}
