import { call, ok } from '../helpers/events';
import { seed } from '../helpers/seed';
import { connect, startServer } from '../helpers/server';

async function getRooms(url: string) {
  const res = await fetch(`${url}/api/rooms`);
  expect(res.status).toBe(200);
  return (await res.json()) as { rooms: Array<{ room: string; members: number; seq: number }> };
}

describe('rooms:list and GET /api/rooms', () => {
  it('answers no rooms when nobody is in any', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    expect(await call(alice, 'rooms:list', {})).toEqual({ ok: true, rooms: [] });
    expect(await getRooms(url)).toEqual({ rooms: [] });
  });

  it('lists the rooms with members now, with their member counts and latest seq', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'random' });
    await seed(alice, 'lobby', 3);
    const expected = [
      { room: 'lobby', members: 2, seq: 3 },
      { room: 'random', members: 1, seq: 0 },
    ];
    const answer = await ok(alice, 'rooms:list', {});
    expect(answer.rooms).toHaveLength(2);
    expect(answer.rooms).toEqual(expect.arrayContaining(expected));
    const http = await getRooms(url);
    expect(http.rooms).toHaveLength(2);
    expect(http.rooms).toEqual(expect.arrayContaining(expected));
  });

  it('drops a room once its last member left, though its history stays', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    await ok(alice, 'room:join', { room: 'lobby' });
    await seed(alice, 'lobby', 2);
    await ok(alice, 'room:leave', { room: 'lobby' });
    expect((await ok(bob, 'rooms:list', {})).rooms).toEqual([]);
    expect((await getRooms(url)).rooms).toEqual([]);
    expect((await ok(bob, 'room:history', { room: 'lobby' })).messages).toHaveLength(2);
  });

  it('counts a user with several sockets once', async () => {
    const { url } = await startServer();
    const a1 = await connect(url, 'alice');
    const a2 = await connect(url, 'alice');
    await ok(a1, 'room:join', { room: 'lobby' });
    await ok(a2, 'room:join', { room: 'lobby' });
    expect((await ok(a1, 'rooms:list', {})).rooms).toEqual([{ room: 'lobby', members: 1, seq: 0 }]);
    expect((await getRooms(url)).rooms).toEqual([{ room: 'lobby', members: 1, seq: 0 }]);
  });

  it('accepts a call with no payload, only the ack', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    await ok(alice, 'room:join', { room: 'lobby' });
    const answer = await new Promise((resolve) => alice.emit('rooms:list' as 'rooms:list', resolve as never));
    expect(answer).toEqual({ ok: true, rooms: [{ room: 'lobby', members: 1, seq: 0 }] });
  });
});
