import { randomUUID } from 'node:crypto';
import { ParleyClient, type JoinInfo, type Message, type ParleyClientOptions } from '../../client/sdk';
import { defer } from '../helpers/cleanup';
import { waitFor } from '../helpers/events';
import type { TestServer } from '../helpers/server';

/**
 * A ParleyClient on `url` as `name`, with short delays so that tests run in
 * milliseconds; closed after the test.
 */
export function sdkClient(url: string, name: string, options: Partial<ParleyClientOptions> = {}): ParleyClient {
  const client = new ParleyClient({
    url,
    auth: { name },
    gapFillMs: 50,
    ackTimeoutMs: 2000,
    backoff: { baseMs: 20, maxMs: 200 },
    ...options,
    socket: { reconnectionDelay: 20, reconnectionDelayMax: 100, ...options.socket },
  });
  defer(() => client.close());
  return client;
}

/** Resolves once `client` is connected (at once if it is). */
export async function connected(client: ParleyClient): Promise<void> {
  if (client.status !== 'connected') await waitFor(client, 'status', (s) => s === 'connected');
}

/** The server-side sockets of a user, on one instance. */
export function serverSockets(server: TestServer, userId: string) {
  return [...server.app.io.of('/').sockets.values()].filter((s) => s.data.identity?.user.id === userId);
}

/** Stores a message the way a send does, but broadcasts nothing: a message the clients missed. */
export async function storeQuietly(server: TestServer, room: string, text: string, name = 'ghost'): Promise<Message> {
  const { message } = await server.backend.store.append({
    id: randomUUID(),
    room,
    clientId: randomUUID(),
    user: { id: name, name },
    text,
    ts: Date.now(),
  });
  return message;
}

/** A change of the store's kinds: edit, delete, react, unreact. */
export type QuietChange = { kind: 'edit'; text: string } | { kind: 'delete' } | { kind: 'react'; reaction: string } | { kind: 'unreact'; reaction: string };

/** Changes a stored message the way a change request does, but broadcasts nothing: a change the clients missed. */
export async function changeQuietly(server: TestServer, message: Message, op: QuietChange, userId = message.user.id): Promise<Message> {
  const { message: changed } = await server.backend.store.change({ room: message.room, id: message.id, userId, op, ts: Date.now() });
  return changed;
}

/** The `seq`s of a list of messages, for short assertions. */
export const seqs = (messages: Message[]) => messages.map((m) => m.seq);

/**
 * Holds the handshakes of user `name` on `server` while `hold` is on, so a
 * test decides when a client gets back; `release` lets the held ones in.
 */
export function handshakeGate(server: TestServer, name: string) {
  let holding = false;
  const held: Array<() => void> = [];
  server.app.io.use((socket, next) => {
    if (holding && (socket.handshake.auth as { name?: string })?.name === name) held.push(() => next());
    else next();
  });
  return {
    hold: () => void (holding = true),
    /** How many handshakes wait. */
    held: () => held.length,
    release: () => {
      holding = false;
      for (const next of held.splice(0)) next();
    },
  };
}

/**
 * Closes the transport of every socket of `client`'s user from the server's
 * side (the client sees "transport close" and reconnects on its own);
 * resolves once the server has let them go and the client has noticed.
 */
export async function dropConnection(server: TestServer, client: ParleyClient): Promise<void> {
  const userId = client.session?.user.id;
  const sockets = userId === undefined ? [] : serverSockets(server, userId);
  if (sockets.length === 0) throw new Error(`${userId} has no socket to drop`);
  const noticed = client.status === 'connected' ? waitFor(client, 'status', (s) => s !== 'connected') : Promise.resolve();
  const gone = sockets.map((s) => waitFor(s, 'disconnect'));
  for (const s of sockets) s.conn.close();
  await Promise.all([...gone, noticed]);
}

/**
 * Keeps `client` away while `meanwhile` runs: its transport dropped, its
 * handshakes held by `gate`; then lets it back, and resolves with its
 * re-join of `room` (with what was stored meanwhile handed over).
 */
export async function awayWhile(
  server: TestServer,
  gate: ReturnType<typeof handshakeGate>,
  client: ParleyClient,
  room: string,
  meanwhile: () => Promise<void>,
): Promise<JoinInfo> {
  gate.hold();
  const rejoined = waitFor<JoinInfo>(client, 'joined', (info) => info.room === room && info.rejoin);
  await dropConnection(server, client);
  await meanwhile();
  gate.release();
  return rejoined;
}
