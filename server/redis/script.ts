/**
 * Running Lua scripts by their SHA (reloaded after a Redis restart), and the
 * Lua that reads Redis's clock.
 */
import { createHash } from 'node:crypto';
import { replyKind, type RedisClient } from './connection';

/**
 * A Lua script run with EVALSHA, falling back to EVAL when Redis answers
 * NOSCRIPT (its script cache is empty after a restart): the same thing
 * node-redis's `defineScript` does, without threading script types through
 * the client's generics.
 */
export class LuaScript {
  readonly sha1: string;

  constructor(readonly source: string) {
    this.sha1 = createHash('sha1').update(source).digest('hex');
  }

  async run(client: RedisClient, keys: string[], args: Array<string | number>): Promise<unknown> {
    const options = { keys, arguments: args.map(String) };
    try {
      return await client.evalSha(this.sha1, options);
    } catch (err) {
      if (replyKind(err) !== 'NOSCRIPT') throw err;
      return client.eval(this.source, options);
    }
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
