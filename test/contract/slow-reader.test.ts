/**
 * A client that stops reading its socket (while still answering heartbeats)
 * is ended once the output held for it passes MAX_OUTPUT_BYTES, its TCP
 * socket destroyed; nobody else notices, and the SDK comes back with every
 * message once.
 */
import type { Socket as TcpSocket } from 'node:net';
import type { Message } from '../../protocol';
import { defer } from '../helpers/cleanup';
import { collect, ok, waitFor } from '../helpers/events';
import { startStallingProxy } from '../helpers/proxy';
import { connect, startServer, type ClientSocket, type TestServer } from '../helpers/server';
import { WireClient } from '../helpers/wire';
import { sdkClient } from '../sdk/sdk';

const MAX_OUTPUT = 128 * 1024;
/** Far more than the kernel's socket buffers and the bound together take: never reached while the bound holds. */
const SEND_CEILING = 20_000;
const TEXT = 'x'.repeat(2000);

/** The server-side socket of user `id` (the one connection it has). */
function serverSocket(server: TestServer, id: string) {
  const socket = [...server.app.io.of('/').sockets.values()].find((s) => s.data.identity.user.id === id);
  if (!socket) throw new Error(`${id} has no socket`);
  return socket;
}

/** Sends 2000-character messages to `room` until `stop()` says so; resolves with how many were sent. */
async function flood(sender: ClientSocket, room: string, stop: () => boolean): Promise<number> {
  let sent = 0;
  while (!stop()) {
    if (sent >= SEND_CEILING) throw new Error(`still connected after ${sent} messages: the output bound did not hold`);
    await ok(sender, 'message:send', { room, text: TEXT, clientId: `f${sent++}` });
  }
  return sent;
}

/** parley_slow_consumers_total, from /metrics. */
async function slowConsumers(server: TestServer): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/^parley_slow_consumers_total\{[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
}

describe('a client that stops reading', () => {
  it('is ended past MAX_OUTPUT_BYTES with its TCP socket destroyed, while heartbeats still pass; others are unaffected', async () => {
    const server = await startServer({ maxOutputBytes: MAX_OUTPUT, pingIntervalMs: 200, pingTimeoutMs: 200 });
    // The TCP socket its WebSocket came on (the server keeps no reference to its HTTP request).
    const upgraded = new Promise<TcpSocket>((resolve) => server.app.httpServer.once('upgrade', (_req, socket: TcpSocket) => resolve(socket)));
    const stalled = await WireClient.connect(server.url, { name: 'stalled' });
    const tcp = await upgraded;
    expect(await stalled.call('room:join', { room: 'lobby' }, 1)).toMatchObject({ ok: true });
    const reader = await connect(server.url, 'reader');
    await ok(reader, 'room:join', { room: 'lobby' });
    const sender = await connect(server.url, 'sender');
    await ok(sender, 'room:join', { room: 'lobby' });
    const received = collect<Message>(reader, 'message');

    const onServer = serverSocket(server, 'stalled');
    let gone = false;
    const disconnected = waitFor<string>(onServer, 'disconnect', () => true, 30_000).then((reason) => ((gone = true), reason));
    stalled.stopReading();
    // It still answers heartbeats: a pong every 100 ms, unread pings or not.
    const pongs = setInterval(() => stalled.send('3'), 100);
    defer(() => clearInterval(pongs));

    const sent = await flood(sender, 'lobby', () => gone);
    expect(await disconnected).toMatch(/close/);
    // Destroyed, not merely sent a close frame it would never read.
    expect(tcp.destroyed).toBe(true);
    expect(server.app.io.engine.clientsCount).toBe(2);
    expect(await slowConsumers(server)).toBe(1);

    // Everyone else got every message, and is still served.
    await ok(sender, 'message:send', { room: 'lobby', text: 'after', clientId: 'after' });
    await received.until(sent + 1, 10_000);
    expect(received.items.map((m) => m.seq)).toEqual(Array.from({ length: sent + 1 }, (_, i) => i + 1));
    // The stalled client learns of it once it reads again.
    stalled.resumeReading();
    await stalled.waitClosed();
  });

  it('holds over long-polling too: a client that stops polling is ended', async () => {
    const server = await startServer({ maxOutputBytes: MAX_OUTPUT, pingIntervalMs: 30_000, pingTimeoutMs: 30_000 });
    // An Engine.IO long-polling session that never asks for what it is sent.
    const open = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`);
    const sid = JSON.parse((await open.text()).slice(1)).sid as string;
    const post = (body: string) => fetch(`${server.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body });
    await post('40{"name":"poller"}');
    await post('421["room:join",{"room":"lobby"}]');
    const sender = await connect(server.url, 'sender');
    await ok(sender, 'room:join', { room: 'lobby' });
    const onServer = serverSocket(server, 'poller');
    let gone = false;
    const disconnected = waitFor(onServer, 'disconnect', () => true, 30_000).then(() => (gone = true));
    await flood(sender, 'lobby', () => gone);
    await disconnected;
    expect(server.app.io.engine.clientsCount).toBe(1);
  });

  it.each([
    ['over WebSocket', ['websocket']],
    ['over a WebSocket upgraded from long-polling', ['polling', 'websocket']],
  ])('through the SDK %s: its connection is reset, and it comes back with every message once, in order', async (_, transports) => {
    const server = await startServer({ maxOutputBytes: MAX_OUTPUT, pingIntervalMs: 30_000, pingTimeoutMs: 30_000 });
    const proxy = await startStallingProxy(server.port);
    // The TCP socket of every WebSocket, as the server holds it: Bob's comes first.
    const upgrades: TcpSocket[] = [];
    server.app.httpServer.on('upgrade', (_req, socket: TcpSocket) => upgrades.push(socket));
    const bob = sdkClient(proxy.url, 'bob', { socket: { transports, tryAllTransports: false } });
    const seen = collect<Message>(bob, 'message');
    await bob.join('lobby');
    const onServer = serverSocket(server, 'bob');
    if (onServer.conn.transport.name !== 'websocket') await waitFor(onServer.conn, 'upgrade');
    const sender = await connect(server.url, 'sender');
    await ok(sender, 'room:join', { room: 'lobby' });

    let gone = false;
    const disconnected = waitFor(onServer, 'disconnect', () => true, 30_000).then(() => (gone = true));
    const rejoined = waitFor(bob, 'joined', (info) => info.rejoin, 30_000);
    proxy.stall();
    const sent = await flood(sender, 'lobby', () => gone);
    await disconnected;
    expect(upgrades[0].destroyed).toBe(true);
    // Bob reads again (a phone back from the background): he finds his connection reset, and reconnects.
    proxy.resume();
    await rejoined;
    await ok(sender, 'message:send', { room: 'lobby', text: 'after', clientId: 'after' });
    await seen.until(sent + 1, 15_000);
    expect(seen.items.map((m) => m.seq)).toEqual(Array.from({ length: sent + 1 }, (_, i) => i + 1));
  });
});
