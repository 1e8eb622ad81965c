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

describe('rooms:list and GET /api/rooms, paged', () => {
  const names = (rooms: Array<{ room: string }>) => rooms.map((r) => r.room);

  it('answers the first 100 rooms by name without paging arguments, with next to ask for the rest', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    const all = Array.from({ length: 130 }, (_, i) => `r${String(i).padStart(3, '0')}`);
    // A connection is in 100 rooms at the most: two of them.
    for (const [i, room] of all.entries()) await ok(i < 100 ? alice : bob, 'room:join', { room });
    const first = await ok(alice, 'rooms:list', {});
    expect(names(first.rooms)).toEqual(all.slice(0, 100));
    expect(first.next).toBe('r099');
    const rest = await ok(alice, 'rooms:list', { after: first.next });
    expect(names(rest.rooms)).toEqual(all.slice(100));
    expect(rest.next).toBeUndefined();

    const http = (query: string) => fetch(`${url}/api/rooms${query}`).then((r) => r.json() as Promise<any>);
    const page = await http('?limit=50&after=r010');
    expect(names(page.rooms)).toEqual(all.slice(11, 61));
    expect(page.next).toBe('r060');
    expect(names((await http('')).rooms)).toEqual(all.slice(0, 100));
  });

  it('pages with a limit, each room once across the pages', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    for (const room of ['delta', 'alpha', 'echo', 'charlie', 'bravo']) await ok(alice, 'room:join', { room });
    const seen: string[] = [];
    let after: string | undefined;
    do {
      const page = await ok(alice, 'rooms:list', after === undefined ? { limit: 2 } : { limit: 2, after });
      expect(page.rooms.length).toBeLessThanOrEqual(2);
      seen.push(...names(page.rooms));
      after = page.next;
    } while (after !== undefined);
    expect(seen).toEqual(['alpha', 'bravo', 'charlie', 'delta', 'echo']);
  });

  it.each([{ limit: 0 }, { limit: 501 }, { limit: 1.5 }, { limit: '10' }, { after: 42 }, { after: 'Not A Room' }])('refuses %j', async (payload) => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    const answer = await call(alice, 'rooms:list', payload);
    expect(answer).toMatchObject({ ok: false, error: { code: expect.stringMatching(/^invalid_(payload|room)$/) } });
  });

  it.each(['?limit=0', '?limit=x', '?limit=1&limit=2', '?after=Bad%20Room'])('GET /api/rooms%s answers 400', async (query) => {
    const { url } = await startServer();
    expect((await fetch(`${url}/api/rooms${query}`)).status).toBe(400);
  });
});
