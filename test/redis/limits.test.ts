import calculateSlot from 'cluster-key-slot';
import type { RedisServer } from '../../scripts/topology/redis';
import { DEFAULTS } from '../../server/config';
import { keys } from '../../server/redis/keys';
import { call, ok } from '../helpers/events';
import { redisBackend, startRedis, useRedisCluster, type RedisAt } from '../helpers/redis';
import { connect, startServer } from '../helpers/server';

/** Three shards for the file; a test that stops a node starts it again and waits for the cluster. */
const cluster = useRedisCluster();

/**
 * A Redis for one test, and the server that holds a limit key: the one
 * Redis, or the cluster's master of that key's slot. `back()` undoes a stop.
 */
type Fresh = () => Promise<{ at: RedisAt; holder: (key: string) => Promise<RedisServer>; back: () => Promise<void> }>;

const targets: Array<[string, Fresh]> = [
  [
    'redis',
    async () => {
      const redis = await startRedis();
      return { at: redis.url, holder: async () => redis, back: async () => {} };
    },
  ],
  [
    'redis cluster',
    async () => {
      const nodes = await cluster.fresh();
      let stopped: RedisServer | undefined;
      return {
        at: nodes,
        holder: async (key) => (stopped = await cluster.cluster().masterOf(calculateSlot(key))),
        back: async () => {
          if (stopped && !stopped.running) await stopped.restart();
          await cluster.cluster().waitHealthy();
        },
      };
    },
  ],
];

const sendKey = (user: string) => `${keys.limitPrefix('send')}:${user}`;

describe.each(targets)('rate limits over %s', (_name, fresh) => {
  it('counts a user’s sends on every instance against one budget', async () => {
    const { at } = await fresh();
    const a = await startServer({ limits: true, backend: await redisBackend(at, { limits: true }) });
    const b = await startServer({ limits: true, backend: await redisBackend(at, { limits: true }) });
    const onA = await connect(a.url, 'alice');
    const onB = await connect(b.url, 'alice');
    await ok(onA, 'room:join', { room: 'lobby' });
    await ok(onB, 'room:join', { room: 'lobby' });
    const { points } = DEFAULTS.rateLimits.send;
    for (let i = 0; i < points; i++) await ok(i % 2 ? onA : onB, 'message:send', { room: 'lobby', text: `m${i}`, clientId: `c${i}` });
    const over = await call(onA, 'message:send', { room: 'lobby', text: 'one too many', clientId: 'over' });
    expect(over).toMatchObject({ ok: false, error: { code: 'rate_limited', retryAfterMs: expect.any(Number) } });
    // Another user still has a budget of their own.
    const bob = await connect(b.url, 'bob');
    await ok(bob, 'room:join', { room: 'lobby' });
    await ok(bob, 'message:send', { room: 'lobby', text: 'fine', clientId: 'b1' });
  });

  it('falls back to a limit per instance while the Redis holding the count is away: never an error, never unlimited', async () => {
    const { at, holder, back } = await fresh();
    const backend = await redisBackend(at, { limits: true });
    await (await holder(sendKey('alice'))).stop();
    try {
      const { points } = DEFAULTS.rateLimits.send;
      for (let i = 0; i < points; i++) await backend.limits.consume('send', 'alice');
      await expect(backend.limits.consume('send', 'alice')).rejects.toMatchObject({ code: 'rate_limited' });
      await backend.limits.consume('send', 'bob');
    } finally {
      await back();
    }
  });

  // Without the command timeout this would hang for as long as Redis stays frozen.
  it('falls back while the Redis holding the count is frozen instead of waiting for it', async () => {
    const { at, holder } = await fresh();
    const backend = await redisBackend(at, { limits: true });
    const frozen = await holder(`${keys.limitPrefix('join')}:alice`);
    frozen.pause();
    try {
      await backend.limits.consume('join', 'alice');
    } finally {
      frozen.resume();
    }
  }, 10_000);
});
