/**
 * Running Lua scripts by their SHA (reloaded after a Redis restart), and the
 * Lua that reads Redis's clock.
 */
import { createHash } from 'node:crypto';
import { replyKind, type RedisCommands } from './connection';
import { sendByKey } from './topology';

/**
 * A Lua script run with EVALSHA, falling back to EVAL when Redis answers
 * NOSCRIPT (its script cache is empty after a restart, or on a cluster's
 * node that has not run it yet): the same thing node-redis's
 * `defineScript` does, without threading script types through the client's
 * generics. Sent by its first key (see `sendByKey`): every script's keys
 * are in one slot.
 */
export class LuaScript {
  readonly sha1: string;

  constructor(readonly source: string) {
    this.sha1 = createHash('sha1').update(source).digest('hex');
  }

  async run(client: RedisCommands, keys: string[], args: Array<string | number>): Promise<unknown> {
    return runLua(client, this.sha1, this.source, keys, args);
  }
}

/** EVALSHA `sha1`, or EVAL `source` when the node does not know it, routed by the first key. */
export async function runLua(client: RedisCommands, sha1: string, source: string, keys: string[], args: Array<string | number>): Promise<unknown> {
  if (keys.length === 0) throw new Error('a script needs a key, to run where its keys are');
  const rest = [String(keys.length), ...keys, ...args.map(String)];
  try {
    return await sendByKey(client, keys[0], ['EVALSHA', sha1, ...rest]);
  } catch (err) {
    if (replyKind(err) !== 'NOSCRIPT') throw err;
    return sendByKey(client, keys[0], ['EVAL', source, ...rest]);
  }
}

/**
 * Lua that reads Redis's clock as ms since the epoch. Scripts that call TIME
 * before writing need effects replication, which is the default from Redis 5
 * on; asking for it keeps older servers working.
 */
export const LUA_NOW = `
if redis.replicate_commands then redis.replicate_commands() end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;
