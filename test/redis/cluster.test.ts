import { ok, waitFor } from '../helpers/events';
import { redisBackend, startRedis } from '../helpers/redis';
import { connect, startServer } from '../helpers/server';

describe('instances on one redis', () => {
  it('a message sent on A reaches a socket on B', async () => {
    const redis = await startRedis();
    const a = await startServer({ backend: await redisBackend(redis.url) });
    const b = await startServer({ backend: await redisBackend(redis.url) });
    const alice = await connect(a.url, 'alice');
    const bob = await connect(b.url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'lobby' });
    const toBob = waitFor(bob, 'message');
    const sent = await ok(alice, 'message:send', { room: 'lobby', text: 'hi', clientId: 'c1' });
    expect(await toBob).toEqual(sent.message);
  });
});
