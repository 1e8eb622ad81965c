import type { Message } from '../../protocol';
import { ok } from './events';
import type { ClientSocket } from './server';

/**
 * Sends `count` messages ("m1", "m2", ...) to `room` through a socket that
 * joined it, all in flight at once, and resolves with the stored messages in
 * `seq` order. Needs limits off (startServer's default).
 */
export async function seed(socket: ClientSocket, room: string, count: number, prefix = 'm'): Promise<Message[]> {
  const answers = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      ok<{ message: Message }>(socket, 'message:send', { room, text: `${prefix}${i + 1}`, clientId: `${prefix}-${room}-${i + 1}` }),
    ),
  );
  return answers.map((a) => a.message).sort((a, b) => a.seq - b.seq);
}

/** The seq numbers of some messages, for compact assertions. */
export const seqs = (messages: Array<{ seq: number }>): number[] => messages.map((m) => m.seq);

/** `[from, from + 1, ..., to]`. */
export const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
