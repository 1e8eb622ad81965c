import { call, ok } from '../helpers/events';
import { range, seed, seqs } from '../helpers/seed';
import { connect, startServer } from '../helpers/server';

/** A server whose room `lobby` holds `count` messages, and a reader that never joined it. */
async function roomWith(count: number, options: { historyMax?: number } = {}) {
  const server = await startServer(options);
  const writer = await connect(server.url, 'writer');
  await ok(writer, 'room:join', { room: 'lobby' });
  if (count > 0) await seed(writer, 'lobby', count);
  const reader = await connect(server.url, 'reader');
  return { ...server, writer, reader };
}

describe('room:history', () => {
  it('needs no join', async () => {
    const { reader } = await roomWith(3);
    const answer = await call(reader, 'room:history', { room: 'lobby' });
    expect(answer).toMatchObject({ ok: true, hasMore: false });
    expect(answer.ok && seqs(answer.messages)).toEqual([1, 2, 3]);
  });

  it('answers an empty page for a room with no messages', async () => {
    const { reader } = await roomWith(0);
    expect(await call(reader, 'room:history', { room: 'never-used' })).toEqual({ ok: true, messages: [], hasMore: false });
  });

  it('with neither before nor after, answers the latest 50 by default, ascending, hasMore when older exist', async () => {
    const { reader } = await roomWith(120);
    const answer = await ok(reader, 'room:history', { room: 'lobby' });
    expect(seqs(answer.messages)).toEqual(range(71, 120));
    expect(answer.hasMore).toBe(true);
  });

  it('with neither and a limit, answers the latest `limit`', async () => {
    const { reader } = await roomWith(120);
    const answer = await ok(reader, 'room:history', { room: 'lobby', limit: 100 });
    expect(seqs(answer.messages)).toEqual(range(21, 120));
    expect(answer.hasMore).toBe(true);
  });

  it('with before, answers the ones just before it in ascending order, hasMore when older exist', async () => {
    const { reader } = await roomWith(120);
    const answer = await ok(reader, 'room:history', { room: 'lobby', before: 71, limit: 20 });
    expect(seqs(answer.messages)).toEqual(range(51, 70));
    expect(answer.hasMore).toBe(true);
  });

  it('with before, answers hasMore false on reaching the first message', async () => {
    const { reader } = await roomWith(120);
    const answer = await ok(reader, 'room:history', { room: 'lobby', before: 11, limit: 20 });
    expect(seqs(answer.messages)).toEqual(range(1, 10));
    expect(answer.hasMore).toBe(false);
    expect(await ok(reader, 'room:history', { room: 'lobby', before: 1 })).toMatchObject({ messages: [], hasMore: false });
    expect(await ok(reader, 'room:history', { room: 'lobby', before: 0 })).toMatchObject({ messages: [], hasMore: false });
  });

  it('with before past the latest, answers the latest', async () => {
    const { reader } = await roomWith(30);
    const answer = await ok(reader, 'room:history', { room: 'lobby', before: 1000, limit: 10 });
    expect(seqs(answer.messages)).toEqual(range(21, 30));
    expect(answer.hasMore).toBe(true);
  });

  it('with after, answers the ones just after it in ascending order, hasMore when newer exist', async () => {
    const { reader } = await roomWith(120);
    const answer = await ok(reader, 'room:history', { room: 'lobby', after: 10, limit: 20 });
    expect(seqs(answer.messages)).toEqual(range(11, 30));
    expect(answer.hasMore).toBe(true);
  });

  it('with after, answers hasMore false on reaching the latest, and nothing past it', async () => {
    const { reader } = await roomWith(120);
    const answer = await ok(reader, 'room:history', { room: 'lobby', after: 100, limit: 20 });
    expect(seqs(answer.messages)).toEqual(range(101, 120));
    expect(answer.hasMore).toBe(false);
    expect(await ok(reader, 'room:history', { room: 'lobby', after: 120 })).toMatchObject({ messages: [], hasMore: false });
    expect(await ok(reader, 'room:history', { room: 'lobby', after: 5000 })).toMatchObject({ messages: [], hasMore: false });
  });

  it('with after 0, answers from the first message with the default limit of 50', async () => {
    const { reader } = await roomWith(120);
    const answer = await ok(reader, 'room:history', { room: 'lobby', after: 0 });
    expect(seqs(answer.messages)).toEqual(range(1, 50));
    expect(answer.hasMore).toBe(true);
  });

  it('answers invalid_payload to before and after together', async () => {
    const { reader } = await roomWith(10);
    const answer = await call(reader, 'room:history', { room: 'lobby', before: 8, after: 2 });
    expect(answer).toMatchObject({ ok: false, error: { code: 'invalid_payload' } });
  });

  it.each([1, 100])('accepts limit %d', async (limit) => {
    const { reader } = await roomWith(120);
    const answer = await ok(reader, 'room:history', { room: 'lobby', limit });
    expect(answer.messages).toHaveLength(limit);
    expect(answer.messages.at(-1).seq).toBe(120);
  });

  it.each([0, 101, -1, 1.5, 1e9])('answers invalid_payload naming limit for limit %p (no clamping)', async (limit) => {
    const { reader } = await roomWith(3);
    const answer = await call(reader, 'room:history', { room: 'lobby', limit });
    expect(answer).toMatchObject({ ok: false, error: { code: 'invalid_payload', message: expect.stringContaining('limit') } });
  });

  it('answers invalid_room for a bad room name', async () => {
    const { reader } = await roomWith(0);
    expect(await call(reader, 'room:history', { room: 'BAD' })).toMatchObject({ ok: false, error: { code: 'invalid_room' } });
  });
});

describe('bounded history (HISTORY_MAX)', () => {
  it('keeps only the last historyMax messages while seq keeps counting', async () => {
    const { writer, reader } = await roomWith(150, { historyMax: 100 });
    const latest = await ok(reader, 'room:history', { room: 'lobby', limit: 100 });
    expect(seqs(latest.messages)).toEqual(range(51, 150));
    expect(latest.hasMore).toBe(false);

    const older = await ok(reader, 'room:history', { room: 'lobby', before: 60 });
    expect(seqs(older.messages)).toEqual(range(51, 59));
    expect(older.hasMore).toBe(false);
    expect(await ok(reader, 'room:history', { room: 'lobby', before: 51 })).toMatchObject({ messages: [], hasMore: false });

    const fromStart = await ok(reader, 'room:history', { room: 'lobby', after: 0, limit: 10 });
    expect(seqs(fromStart.messages)).toEqual(range(51, 60));

    const joined = await ok(reader, 'room:join', { room: 'lobby', since: 0 });
    expect(seqs(joined.messages)).toEqual(range(51, 150));
    expect(joined.seq).toBe(150);

    const next = await ok(writer, 'message:send', { room: 'lobby', text: 'one more', clientId: 'more' });
    expect(next.message.seq).toBe(151);
  });
});
