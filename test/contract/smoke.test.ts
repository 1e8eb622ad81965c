import { collect, ok, waitFor } from '../helpers/events';
import { connect, startServer } from '../helpers/server';

describe('one instance', () => {
  it('stores a message and broadcasts it to every joined socket, the sender included', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'lobby' });
    const toBob = waitFor(bob, 'message');
    const toAlice = waitFor(alice, 'message');
    const answer = await ok(alice, 'message:send', { room: 'lobby', text: 'hello', clientId: 'c1' });
    expect(answer.message).toMatchObject({ room: 'lobby', seq: 1, text: 'hello', user: { id: 'alice', name: 'alice' } });
    expect(await toBob).toEqual(answer.message);
    expect(await toAlice).toEqual(answer.message);
  });

  it('answers a repeated clientId with the original and broadcasts nothing new', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    await ok(alice, 'room:join', { room: 'lobby' });
    const seen = collect(alice, 'message');
    const first = await ok(alice, 'message:send', { room: 'lobby', text: 'once', clientId: 'k' });
    const again = await ok(alice, 'message:send', { room: 'lobby', text: 'once', clientId: 'k' });
    const next = await ok(alice, 'message:send', { room: 'lobby', text: 'two', clientId: 'k2' });
    await seen.until(2);
    expect(again.message).toEqual(first.message);
    expect(seen.items.map((m) => m.seq)).toEqual([1, 2]);
    expect(next.message.seq).toBe(2);
  });
});
