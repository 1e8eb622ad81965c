import { DEFAULTS } from '../../server/config';
import { call, ok } from '../helpers/events';
import { redisBackend, startRedis } from '../helpers/redis';
import { connect, startServer } from '../helpers/server';

describe('rate limits over redis', () => {
  it('counts a user’s sends on every instance against one budget', async () => {
    const redis = await startRedis();
    const a = await startServer({ limits: true, backend: await redisBackend(redis.url, { limits: true }) });
    const b = await startServer({ limits: true, backend: await redisBackend(redis.url, { limits: true }) });
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

  it('falls back to a limit per instance while redis is away: never an error, never unlimited', async () => {
    const redis = await startRedis();
    const backend = await redisBackend(redis.url, { limits: true });
    await redis.stop();
    const { points } = DEFAULTS.rateLimits.send;
    for (let i = 0; i < points; i++) await backend.limits.consume('send', 'alice');
    await expect(backend.limits.consume('send', 'alice')).rejects.toMatchObject({ code: 'rate_limited' });
    await backend.limits.consume('send', 'bob');
  });

  // Without the command timeout this would hang for as long as Redis stays frozen.
  it('falls back while redis is frozen instead of waiting for it', async () => {
    const redis = await startRedis();
    const backend = await redisBackend(redis.url, { limits: true });
    redis.pause();
    await backend.limits.consume('join', 'alice');
    redis.resume();
  }, 10_000);
});
