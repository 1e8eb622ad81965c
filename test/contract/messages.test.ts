import type { Message } from '../../protocol';
import { call, collect, ok, waitFor } from '../helpers/events';
import { seqs } from '../helpers/seed';
import { connect, startServer, type ClientSocket } from '../helpers/server';

/**
 * Resolves once every message broadcast to `socket` before now has arrived:
 * the server answers an ack after any event it emitted to the socket earlier.
 */
const barrier = (socket: ClientSocket) => ok(socket, 'rooms:list', {});

async function twoInLobby() {
  const server = await startServer();
  const alice = await connect(server.url, 'alice');
  const bob = await connect(server.url, 'bob');
  await ok(alice, 'room:join', { room: 'lobby' });
  await ok(bob, 'room:join', { room: 'lobby' });
  return { ...server, alice, bob };
}

describe('message:send', () => {
  it('answers the stored message: id, room, seq, clientId, user from the handshake, text, server ts', async () => {
    const { alice } = await twoInLobby();
    const before = Date.now();
    const { message } = await ok<{ message: Message }>(alice, 'message:send', { room: 'lobby', text: 'hello', clientId: 'c-1' });
    expect(message).toEqual({
      id: expect.any(String),
      room: 'lobby',
      seq: 1,
      rev: 1,
      clientId: 'c-1',
      user: { id: 'alice', name: 'alice' },
      text: 'hello',
      ts: expect.any(Number),
      reactions: {},
    });
    expect(message.id.length).toBeGreaterThan(0);
    expect(message.ts).toBeGreaterThanOrEqual(before - 1000);
    expect(message.ts).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('broadcasts `message` to every joined socket, the sender included, and not to others', async () => {
    const { url, alice, bob } = await twoInLobby();
    const carol = await connect(url, 'carol');
    const toCarol = collect(carol, 'message');
    const toAlice = waitFor(alice, 'message');
    const toBob = waitFor(bob, 'message');
    const { message } = await ok(alice, 'message:send', { room: 'lobby', text: 'hi all', clientId: 'c1' });
    expect(await toAlice).toEqual(message);
    expect(await toBob).toEqual(message);
    await barrier(carol);
    expect(toCarol.items).toEqual([]);
  });

  it('numbers messages 1, 2, 3, ... per room, each room on its own', async () => {
    const { alice } = await twoInLobby();
    await ok(alice, 'room:join', { room: 'other' });
    const sent: Message[] = [];
    for (const [room, i] of [['lobby', 1], ['other', 1], ['lobby', 2], ['lobby', 3], ['other', 2]] as const) {
      sent.push((await ok(alice, 'message:send', { room, text: `t${i}`, clientId: `${room}-${i}` })).message);
    }
    expect(sent.map((m) => `${m.room}:${m.seq}`)).toEqual(['lobby:1', 'other:1', 'lobby:2', 'lobby:3', 'other:2']);
    expect(new Set(sent.map((m) => m.id)).size).toBe(5);
  });

  it('delivers a burst of sends to the other sockets in seq order', async () => {
    const { alice, bob } = await twoInLobby();
    const seen = collect<Message>(bob, 'message');
    await Promise.all(Array.from({ length: 40 }, (_, i) => ok(alice, 'message:send', { room: 'lobby', text: `n${i}`, clientId: `n${i}` })));
    expect(seqs(await seen.until(40))).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });

  describe('idempotent resend', () => {
    it('answers the original message to a repeated (user, room, clientId) and broadcasts nothing', async () => {
      const { alice, bob } = await twoInLobby();
      const first = await ok(alice, 'message:send', { room: 'lobby', text: 'once', clientId: 'same' });
      await barrier(bob);
      const seen = collect(bob, 'message');
      const again = await ok(alice, 'message:send', { room: 'lobby', text: 'once', clientId: 'same' });
      expect(again.message).toEqual(first.message);
      await barrier(bob);
      expect(seen.items).toEqual([]);
      // The repeat took no seq.
      expect((await ok(alice, 'message:send', { room: 'lobby', text: 'next', clientId: 'other' })).message.seq).toBe(2);
    });

    it('answers the original even when the repeat carries another text', async () => {
      const { alice } = await twoInLobby();
      const first = await ok(alice, 'message:send', { room: 'lobby', text: 'original', clientId: 'same' });
      const again = await ok(alice, 'message:send', { room: 'lobby', text: 'changed', clientId: 'same' });
      expect(again.message).toEqual(first.message);
    });

    it('recognises the repeat from another socket of the same user', async () => {
      const { url, alice } = await twoInLobby();
      const alice2 = await connect(url, 'alice');
      await ok(alice2, 'room:join', { room: 'lobby' });
      const first = await ok(alice, 'message:send', { room: 'lobby', text: 'once', clientId: 'same' });
      const again = await ok(alice2, 'message:send', { room: 'lobby', text: 'once', clientId: 'same' });
      expect(again.message).toEqual(first.message);
    });

    it('stores a new message for another user with the same clientId', async () => {
      const { alice, bob } = await twoInLobby();
      const a = await ok(alice, 'message:send', { room: 'lobby', text: 'from alice', clientId: 'same' });
      const seen = waitFor<Message>(alice, 'message');
      const b = await ok(bob, 'message:send', { room: 'lobby', text: 'from bob', clientId: 'same' });
      expect(b.message.seq).toBe(2);
      expect(b.message.id).not.toBe(a.message.id);
      expect(b.message.user).toEqual({ id: 'bob', name: 'bob' });
      expect(await seen).toEqual(b.message);
    });

    it('stores a new message for the same clientId in another room', async () => {
      const { alice } = await twoInLobby();
      await ok(alice, 'room:join', { room: 'other' });
      const a = await ok(alice, 'message:send', { room: 'lobby', text: 'x', clientId: 'same' });
      const b = await ok(alice, 'message:send', { room: 'other', text: 'x', clientId: 'same' });
      expect(b.message.room).toBe('other');
      expect(b.message.id).not.toBe(a.message.id);
    });
  });

  it('answers not_joined to a send in a room the socket has not joined, and stores nothing', async () => {
    const { url, alice } = await twoInLobby();
    const carol = await connect(url, 'carol');
    const answer = await call(carol, 'message:send', { room: 'lobby', text: 'sneaky', clientId: 'c1' });
    expect(answer).toMatchObject({ ok: false, error: { code: 'not_joined', message: expect.any(String) } });
    const history = await ok(alice, 'room:history', { room: 'lobby' });
    expect(history.messages).toEqual([]);
  });

  it('answers not_joined when only another socket of the same user joined', async () => {
    const { url } = await twoInLobby();
    const alice2 = await connect(url, 'alice');
    const answer = await call(alice2, 'message:send', { room: 'lobby', text: 'hi', clientId: 'c1' });
    expect(answer).toMatchObject({ ok: false, error: { code: 'not_joined' } });
  });

  describe('text', () => {
    it.each([
      ['empty', ''],
      ['spaces', '   '],
      ['blank lines and tabs', '\n\t \r\n'],
    ])('answers invalid_payload naming text for a blank text (%s)', async (_, text) => {
      const { alice } = await twoInLobby();
      const answer = await call(alice, 'message:send', { room: 'lobby', text, clientId: 'c1' });
      expect(answer).toMatchObject({ ok: false, error: { code: 'invalid_payload', message: expect.stringContaining('text') } });
    });

    it('answers invalid_payload for a text with a NUL character', async () => {
      const { alice } = await twoInLobby();
      const answer = await call(alice, 'message:send', { room: 'lobby', text: 'a\u0000b', clientId: 'c1' });
      expect(answer).toMatchObject({ ok: false, error: { code: 'invalid_payload', message: expect.stringContaining('text') } });
    });

    it('stores a text of 2000 characters', async () => {
      const { alice } = await twoInLobby();
      const text = 'x'.repeat(2000);
      const { message } = await ok(alice, 'message:send', { room: 'lobby', text, clientId: 'c1' });
      expect(message.text).toBe(text);
    });

    it('answers too_large for a text of 2001 characters, and stores nothing', async () => {
      const { alice } = await twoInLobby();
      const answer = await call(alice, 'message:send', { room: 'lobby', text: 'x'.repeat(2001), clientId: 'c1' });
      expect(answer).toMatchObject({ ok: false, error: { code: 'too_large', message: expect.stringContaining('text') } });
      expect((await ok(alice, 'room:history', { room: 'lobby' })).messages).toEqual([]);
    });

    it('counts characters as String.length does (UTF-16 code units), as the protocol module says', async () => {
      const { alice } = await twoInLobby();
      // 1000 emoji are 2000 code units: the limit exactly; one more is over it.
      const fits = '😀'.repeat(1000);
      expect((await ok(alice, 'message:send', { room: 'lobby', text: fits, clientId: 'c1' })).message.text).toBe(fits);
      const over = await call(alice, 'message:send', { room: 'lobby', text: '😀'.repeat(1000) + 'x', clientId: 'c2' });
      expect(over).toMatchObject({ ok: false, error: { code: 'too_large' } });
    });

    it('stores the text exactly as sent: surrounding spaces, newlines, emoji, markup', async () => {
      const { alice, bob } = await twoInLobby();
      const text = '  hello\n\t<b>wörld</b> 👋🏽 \u200b ';
      const live = waitFor<Message>(bob, 'message');
      const { message } = await ok(alice, 'message:send', { room: 'lobby', text, clientId: 'c1' });
      expect(message.text).toBe(text);
      expect((await live).text).toBe(text);
      expect((await ok(bob, 'room:history', { room: 'lobby' })).messages[0].text).toBe(text);
    });
  });

  it('takes the user from the handshake and ignores a user, id, seq or ts in the payload', async () => {
    const { alice, bob } = await twoInLobby();
    const live = waitFor<Message>(bob, 'message');
    const { message } = await ok(alice, 'message:send', {
      room: 'lobby',
      text: 'who am i',
      clientId: 'c1',
      user: { id: 'mallory', name: 'mallory' },
      id: 'forged',
      seq: 99,
      ts: 0,
    });
    expect(message.user).toEqual({ id: 'alice', name: 'alice' });
    expect(message.id).not.toBe('forged');
    expect(message.seq).toBe(1);
    expect(message.ts).toBeGreaterThan(0);
    expect((await live).user).toEqual({ id: 'alice', name: 'alice' });
  });

  it.each([
    ['', 'empty'],
    ['a'.repeat(65), 'too long'],
    ['has space', 'a space'],
    ['dots.are.out', 'a dot'],
    ['ünï', 'non-ASCII'],
  ])('answers invalid_payload naming clientId for %j (%s)', async (clientId) => {
    const { alice } = await twoInLobby();
    const answer = await call(alice, 'message:send', { room: 'lobby', text: 'hi', clientId });
    expect(answer).toMatchObject({ ok: false, error: { code: 'invalid_payload', message: expect.stringContaining('clientId') } });
  });

  it('accepts a clientId of 64 characters of [A-Za-z0-9_-]', async () => {
    const { alice } = await twoInLobby();
    const clientId = 'Az09_-'.repeat(11).slice(0, 64);
    expect((await ok(alice, 'message:send', { room: 'lobby', text: 'hi', clientId })).message.clientId).toBe(clientId);
  });
});
