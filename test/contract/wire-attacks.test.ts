import { ok, waitFor } from '../helpers/events';
import { connect, startServer } from '../helpers/server';
import { WireClient, type Frame } from '../helpers/wire';

/*
 * Engine.IO v4 / Socket.IO v5 frames written by hand over a raw WebSocket:
 * `0{...}` open, `2`/`3` ping/pong, `4` message + Socket.IO packet type
 * (`0` CONNECT, `1` DISCONNECT, `2` EVENT, `3` ACK, `4` CONNECT_ERROR,
 * `5` BINARY_EVENT), then an optional ack id and the JSON payload.
 */

const text = (f: Frame): f is string => typeof f === 'string';
const json = (frame: Frame, prefix: string): any => JSON.parse((frame as string).slice(prefix.length));

/** A server with a bystander (a socket.io-client in `lobby`) whose service every attack must leave intact. */
async function attackServer() {
  const server = await startServer();
  const bystander = await connect(server.url, 'bystander');
  await ok(bystander, 'room:join', { room: 'lobby' });
  let n = 0;
  const stillServed = async () => {
    const answer = await ok(bystander, 'message:send', { room: 'lobby', text: 'still served', clientId: `still-${++n}` });
    expect(answer.message.text).toBe('still served');
  };
  return { ...server, bystander, stillServed };
}

describe('a handshake written by hand', () => {
  it('opens with the Engine.IO open packet, then CONNECT with auth answers the sid and `session`', async () => {
    const { url } = await startServer({ instanceId: 'wire-1' });
    const wire = await WireClient.open(url);
    const open = json(wire.frames[0], '0');
    expect(open).toEqual({ sid: expect.any(String), upgrades: [], pingInterval: expect.any(Number), pingTimeout: expect.any(Number), maxPayload: 65536 });
    wire.send('40{"name":"  wired  "}');
    const connected = await wire.next((f) => text(f) && f.startsWith('40'));
    expect(json(connected, '40')).toEqual({ sid: expect.any(String) });
    const session = await wire.next();
    expect(session).toBe('42["session",{"user":{"id":"wired","name":"wired"},"instanceId":"wire-1"}]');
  });

  it('answers an EVENT with an ack id by an ACK of the same id', async () => {
    const { url } = await startServer();
    const wire = await WireClient.connect(url, { name: 'w' });
    wire.send('421["room:join",{"room":"lobby"}]');
    const ack = await wire.next((f) => text(f) && f.startsWith('431['));
    expect(json(ack, '431')).toEqual([{ ok: true, room: 'lobby', seq: 0, rev: 0, messages: [], members: [{ id: 'w', name: 'w' }], hasMore: false, presenceVersion: 1 }]);
    // Any ack id, echoed as the server reads it.
    wire.send('42007["rooms:list",{}]');
    expect(await wire.next((f) => text(f) && f.startsWith('437'))).toBe('437[{"ok":true,"rooms":[{"room":"lobby","members":1,"seq":0}]}]');
  });

  it('processes an EVENT without an ack id and answers no ACK for it', async () => {
    const { url } = await startServer();
    const wire = await WireClient.connect(url, { name: 'w' });
    expect(await wire.call('room:join', { room: 'lobby' }, 1)).toMatchObject({ ok: true });
    wire.send('42["message:send",{"room":"lobby","text":"by hand","clientId":"h1"}]');
    const message = await wire.next((f) => text(f) && f.startsWith('42["message"'));
    expect(json(message, '42')).toEqual(['message', expect.objectContaining({ text: 'by hand', seq: 1, user: { id: 'w', name: 'w' } })]);
    expect(await wire.call('rooms:list', {}, 2)).toMatchObject({ ok: true });
    expect(wire.frames.filter((f) => text(f) && f.startsWith('43') && !f.startsWith('431') && !f.startsWith('432'))).toEqual([]);
  });

  it('answers CONNECT without auth by CONNECT_ERROR "unauthorized"', async () => {
    const { url } = await startServer();
    const wire = await WireClient.open(url);
    wire.send('40');
    expect(json(await wire.next((f) => text(f) && f.startsWith('44')), '44')).toMatchObject({ message: 'unauthorized' });
  });

  it('answers auth hidden in __proto__ by CONNECT_ERROR "unauthorized"', async () => {
    const { url } = await startServer();
    const wire = await WireClient.open(url);
    wire.send('40{"__proto__":{"name":"admin"}}');
    expect(json(await wire.next((f) => text(f) && f.startsWith('44')), '44')).toMatchObject({ message: 'unauthorized' });
  });

  it('answers a foreign Origin on the upgrade by CONNECT_ERROR "forbidden_origin"', async () => {
    const { url } = await startServer();
    const wire = await WireClient.open(url, { origin: 'https://evil.example' });
    wire.send('40{"name":"w"}');
    expect(json(await wire.next((f) => text(f) && f.startsWith('44')), '44')).toMatchObject({ message: 'forbidden_origin' });
  });

  it('answers CONNECT to an unknown namespace by CONNECT_ERROR', async () => {
    const { url } = await startServer();
    const wire = await WireClient.open(url);
    wire.send('40/admin,{"name":"w"}');
    expect(await wire.next((f) => text(f) && f.startsWith('44'))).toBe('44/admin,{"message":"Invalid namespace"}');
  });
});

describe('frames no honest client sends', () => {
  // Each closes the attacker's connection; the instance keeps serving the bystander.
  it.each<[string, Frame[]]>([
    ['an EVENT before CONNECT', ['42["room:join",{"room":"lobby"}]']],
    ['a CONNECT whose auth is an array', ['40["x"]']],
    ['text that is no Engine.IO packet', ['hello']],
    ['an empty frame', ['']],
    ['an unknown Engine.IO packet type', ['9']],
    ['a ping from the client (heartbeats go the other way in v4)', ['2']],
    ['a message with no Socket.IO packet', ['4']],
    ['an unknown Socket.IO packet type', ['40{"name":"w"}', '47']],
    ['a Socket.IO packet type that is not a digit', ['4x']],
    ['an EVENT that is not JSON', ['40{"name":"w"}', '42not json']],
    ['an EVENT that is an object', ['40{"name":"w"}', '42{"event":"room:join"}']],
    ['an EVENT with no name', ['40{"name":"w"}', '42[]']],
    ['a reserved event name (disconnecting)', ['40{"name":"w"}', '42["disconnecting"]']],
    ['a reserved event name (connect)', ['40{"name":"w"}', '42["connect",{}]']],
    ['a fractional ack id', ['40{"name":"w"}', '421.5["rooms:list",{}]']],
    ['a BINARY_EVENT claiming 999 attachments', ['40{"name":"w"}', '45999-["message:send",{}]']],
    ['a binary frame of garbage', ['40{"name":"w"}', Buffer.from([0xde, 0xad, 0xbe, 0xef])]],
  ])('%s closes the connection', async (_, frames) => {
    const { url, stillServed } = await attackServer();
    const wire = await WireClient.open(url);
    for (const frame of frames) wire.send(frame);
    await wire.waitClosed();
    await stillServed();
  });

  it('a second CONNECT on a connected socket closes the connection', async () => {
    const { url, stillServed } = await attackServer();
    const wire = await WireClient.connect(url, { name: 'w' });
    wire.send('40{"name":"someone-else"}');
    await wire.waitClosed();
    await stillServed();
  });

  // Each is dropped; the attacker's own connection is still answered afterwards.
  it.each<[string, Frame[]]>([
    ['an EVENT named by a number', ['42[1,{"room":"lobby"}]']],
    ['an ACK for an id the server never sent', ['431[{"ok":true}]']],
    ['an Engine.IO noop', ['6']],
    ['an unasked pong', ['3']],
    ['an event named like a prototype member', ['42["__proto__",{}]', '42["constructor",{}]', '42["hasOwnProperty",{}]']],
    ['an event only the server sends', ['42["message",{"room":"lobby","text":"spoof"}]', '42["session",{"user":{"id":"admin"}}]']],
  ])('%s is ignored', async (_, frames) => {
    const { url, stillServed } = await attackServer();
    const wire = await WireClient.connect(url, { name: 'w' });
    for (const frame of frames) wire.send(frame);
    expect(await wire.call('rooms:list', {}, 9)).toMatchObject({ ok: true });
    await stillServed();
  });

  it('answers a BINARY_EVENT whose text is a buffer with invalid_payload naming text', async () => {
    const { url, stillServed } = await attackServer();
    const wire = await WireClient.connect(url, { name: 'w' });
    expect(await wire.call('room:join', { room: 'lobby' }, 1)).toMatchObject({ ok: true });
    wire.send('451-2["message:send",{"room":"lobby","text":{"_placeholder":true,"num":0},"clientId":"b1"}]');
    wire.send(Buffer.from('binary text'));
    expect(await wire.ack(2)).toEqual({ ok: false, error: { code: 'invalid_payload', message: expect.stringContaining('text') } });
    await stillServed();
  });

  it('closes a connection that sends a frame over maxPayload with 1009, and serves others', async () => {
    const { url, stillServed } = await attackServer();
    const wire = await WireClient.connect(url, { name: 'w' });
    wire.send(`42["message:send",{"room":"lobby","text":"${'x'.repeat(200_000)}","clientId":"big"}]`);
    expect(await wire.waitClosed()).toBe(1009);
    await stillServed();
  });

  it('survives a flood of bad frames on one connection and answers the call after them', async () => {
    const { url, bystander, stillServed } = await attackServer();
    const wire = await WireClient.connect(url, { name: 'w' });
    for (let i = 0; i < 1000; i++) {
      wire.send(i % 2 ? `42["message:send",{"room":${i},"text":null}]` : `42${i}["typing",[]]`);
    }
    expect(await wire.call('room:history', { room: 'lobby' }, 99999)).toMatchObject({ ok: true, messages: [] });
    await stillServed();
    expect((await ok(bystander, 'rooms:list', {})).rooms).toEqual([{ room: 'lobby', members: 1, seq: 1 }]);
  });

  it('a DISCONNECT packet leaves the namespace: the room hears the user leave', async () => {
    const { url, bystander } = await attackServer();
    const wire = await WireClient.connect(url, { name: 'w' });
    expect(await wire.call('room:join', { room: 'lobby' }, 1)).toMatchObject({ ok: true });
    const left = waitFor(bystander, 'presence', (p: { event: string }) => p.event === 'leave');
    wire.send('41');
    expect(await left).toEqual({ room: 'lobby', event: 'leave', user: { id: 'w', name: 'w' }, members: 1, version: 3 });
  });

  it('a DISCONNECT packet ends the connection too, which would otherwise stay open on heartbeats with nothing to serve', async () => {
    const { url, stillServed } = await attackServer();
    const wire = await WireClient.connect(url, { name: 'w' });
    wire.send('41');
    await wire.waitClosed();
    await stillServed();
  });
});
