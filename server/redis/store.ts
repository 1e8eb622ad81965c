/**
 * Message history in Redis: the atomic append that assigns `seq`, and the
 * reads by page.
 */
import type { Message } from '../../protocol';
import { IDEMPOTENCY_WINDOW_MS } from '../../protocol';
import { UnavailableError } from '../errors';
import type { AppendInput, AppendResult, ChangeInput, ChangeResult, ChangesPage, MessageStore, Page } from '../store/types';
import type { RedisLinks } from './connection';
import { keys } from './keys';
import { LUA_NOW, LuaScript } from './script';

/**
 * Stores a message, atomically, in one round trip:
 * - a repeated (user, room, clientId) answers the message first stored,
 *   even if it has left the history since;
 * - a call that reaches Redis after its deadline stores nothing (the caller
 *   has answered `unavailable` by then, and the client will retry);
 * - otherwise the room's next seq is taken, the message added to the log and
 *   remembered under its idempotency key, and the log trimmed to historyMax.
 *
 * KEYS: seq, log, idempotency, rev. ARGV: the message as JSON without `seq`
 * and `rev` (an object with at least one field), historyMax, idempotency TTL (ms),
 * deadline in Redis's clock (ms; 0 = none).
 * Returns {0, json} stored, {1, json} repeat, {-1, ''} too late.
 */
const APPEND = new LuaScript(`${LUA_NOW}
local original = redis.call('GET', KEYS[3])
if original then return {1, original} end
local deadline = tonumber(ARGV[4])
if deadline > 0 and now_ms() > deadline then return {-1, ''} end
local seq = redis.call('INCR', KEYS[1])
local rev = redis.call('INCR', KEYS[4])
local message = '{"seq":' .. seq .. ',"rev":' .. rev .. ',' .. string.sub(ARGV[1], 2)
redis.call('ZADD', KEYS[2], seq, message)
redis.call('SET', KEYS[3], message, 'PX', ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -tonumber(ARGV[2]) - 1)
return {0, message}
`);

/**
 * The history of every room in Redis, shared by every instance: one sorted
 * set per room scored by `seq`, one counter, and one idempotency key per send.
 */
export class RedisMessageStore implements MessageStore {
  constructor(
    private readonly links: RedisLinks,
    private readonly historyMax: number,
  ) {}

  async append(input: AppendInput): Promise<AppendResult> {
    const { id, room, clientId, user, text, ts } = input;
    // `seq` and `rev` go first, added by the script; the rest is fixed here.
    const json = JSON.stringify({ id, room, clientId, user: { id: user.id, name: user.name }, text, ts, reactions: {} });
    // Leave a margin for the answer to come back before our own timeout fires.
    const deadline = this.links.redisDeadline(Math.floor(this.links.commandTimeoutMs * 0.75));
    const reply = (await this.links.run('append', () =>
      APPEND.run(
        this.links.command,
        [keys.seq(room), keys.log(room), keys.idempotency(room, user.id, clientId), keys.rev(room)],
        [json, this.historyMax, IDEMPOTENCY_WINDOW_MS, deadline],
      ),
    )) as [number, string];
    const [status, stored] = reply;
    if (status === -1) throw new UnavailableError('the store answered too late; nothing was stored, retry with the same clientId');
    return { message: JSON.parse(stored) as Message, duplicate: status === 1 };
  }

  async change(_input: ChangeInput): Promise<ChangeResult> {
    throw new Error('changes to messages are not stored in Redis yet');
  }

  async changes(_room: string, _after: number, _limit: number): Promise<ChangesPage> {
    throw new Error('changes to messages are not stored in Redis yet');
  }

  async latest(room: string, limit: number): Promise<Page> {
    const members = await this.links.run('latest', () => this.links.command.zRange(keys.log(room), -(limit + 1), -1));
    const hasMore = members.length > limit;
    return { messages: parse(hasMore ? members.slice(1) : members), hasMore };
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
    return { messages: parse(members.slice(0, limit).reverse()), hasMore };
  }

  async after(room: string, after: number, limit: number): Promise<Page> {
    const members = await this.links.run('after', () =>
      this.links.command.zRange(keys.log(room), `(${after}`, '+inf', {
        BY: 'SCORE',
        LIMIT: { offset: 0, count: limit + 1 },
      }),
    );
    const hasMore = members.length > limit;
    return { messages: parse(members.slice(0, limit)), hasMore };
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
}

function parse(members: string[]): Message[] {
  return members.map((m) => JSON.parse(m) as Message);
}
