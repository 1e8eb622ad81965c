import { randomUUID } from 'node:crypto';
import { ParleyClient, type Message, type ParleyClientOptions } from '../../client/sdk';
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

/** The `seq`s of a list of messages, for short assertions. */
export const seqs = (messages: Message[]) => messages.map((m) => m.seq);
