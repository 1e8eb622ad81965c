import type { Answer, Message, SendAnswer, SendPayload } from '../../protocol';
import { backoffDelay, type BackoffOptions } from './backoff';
import { asParleyError, isPermanent, ParleyError } from './errors';
import { randomId } from './ids';
import { retryDelay } from './retry';

/**
 * Where a send stands, for the UI:
 * - `queued`: waiting its turn, the connection, the room's re-join, or a retry delay;
 * - `sending`: on the wire, no answer yet;
 * - `sent`: stored by the server (final);
 * - `failed`: refused for good (final unless `retry`).
 */
export type SendStatus = 'queued' | 'sending' | 'sent' | 'failed';

/** A snapshot of one send, as the `outbox` event reports it. */
export interface OutboxEntry {
  /** The idempotency key, the same on every resend: use it as the UI's id. */
  readonly clientId: string;
  readonly room: string;
  readonly text: string;
  readonly status: SendStatus;
  /** How many times it went on the wire. */
  readonly attempts: number;
  /** With `failed`: why. */
  readonly error?: ParleyError;
  /** With `sent`: the stored message. */
  readonly message?: Message;
}

/** The promise of a send's stored message, with its `clientId` at hand. */
export type Sending = Promise<Message> & { readonly clientId: string };

/** What the outbox needs from the client around it. */
export interface OutboxLink {
  /** Whether a send to `room` may go out now: connected, and the room joined on this connection. */
  ready(room: string): boolean;
  /** Emits `message:send`; rejects with `timeout` or `disconnected` when no answer comes. */
  send(payload: SendPayload): Promise<Answer<SendAnswer>>;
  /** The server does not count the room as joined: re-join it, then call `pump(room)`. */
  rejoin(room: string): void;
  /** A send was answered with its stored message (the broadcast may have been lost, or never sent for a repeat). */
  stored(message: Message): void;
  /** An entry changed. */
  changed(entry: OutboxEntry): void;
}

interface Item {
  entry: OutboxEntry;
  resolve(message: Message): void;
  reject(error: ParleyError): void;
}

/**
 * Sends that are not answered yet, one queue per room. The head of a room's
 * queue goes out alone and the next waits for its answer, so that a user's
 * messages are stored in the order they were written. A send is resent with
 * the same `clientId` (the server answers a repeat with the original) until
 * it is answered `ok` or refused for good.
 */
export class Outbox {
  private readonly queues = new Map<string, Item[]>();
  private readonly failed = new Map<string, Item>();
  /** A room's pending retry delay: its queue waits until it fires. */
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Consecutive transient failures per room, for the backoff. */
  private readonly failures = new Map<string, number>();
  private closed: ParleyError | undefined;

  constructor(
    private readonly link: OutboxLink,
    private readonly backoff: BackoffOptions,
  ) {}

  /** Queues a send and tries to send it. */
  add(room: string, text: string, clientId: string = randomId()): Sending {
    let item!: Item;
    const promise = new Promise<Message>((resolve, reject) => {
      item = { entry: { clientId, room, text, status: 'queued', attempts: 0 }, resolve, reject };
    });
    if (this.closed) {
      this.fail(item, this.closed);
    } else {
      const queue = this.queues.get(room) ?? [];
      this.queues.set(room, queue);
      queue.push(item);
      this.link.changed(item.entry);
      this.pump(room);
    }
    return Object.assign(promise, { clientId });
  }

  /** Queues a failed send again, with the same `clientId`; undefined if no failed send has that id. */
  retry(clientId: string): Sending | undefined {
    const item = this.failed.get(clientId);
    if (!item) return undefined;
    this.failed.delete(clientId);
    return this.add(item.entry.room, item.entry.text, clientId);
  }

  /** Forgets a failed send; whether there was one. */
  discard(clientId: string): boolean {
    return this.failed.delete(clientId);
  }

  /** Sends not stored yet (queued, sending, failed), of one room or all, oldest first per room. */
  entries(room?: string): OutboxEntry[] {
    const items = [...this.queues.values()].flat().concat([...this.failed.values()]);
    return items.map((i) => i.entry).filter((e) => room === undefined || e.room === room);
  }

  /** Sends the head of `room`'s queue if it may go now. */
  pump(room: string): void {
    if (this.closed || this.timers.has(room)) return;
    const head = this.queues.get(room)?.[0];
    if (!head || head.entry.status === 'sending' || !this.link.ready(room)) return;
    this.update(head, { status: 'sending', attempts: head.entry.attempts + 1 });
    const { clientId, text } = head.entry;
    this.link.send({ room, text, clientId }).then(
      (answer) => this.settle(head, answer.ok ? answer.message : ParleyError.fromBody(answer.error)),
      (err: unknown) => this.settle(head, asParleyError(err)),
    );
  }

  /** Fails every send of a room the application left. */
  dropRoom(room: string, error: ParleyError): void {
    this.clearTimer(room);
    this.failures.delete(room);
    const queue = this.queues.get(room) ?? [];
    this.queues.delete(room);
    for (const item of queue) this.fail(item, error);
  }

  /** Fails every pending send and stops every timer. */
  close(error: ParleyError): void {
    this.closed = error;
    for (const room of [...this.queues.keys()]) this.dropRoom(room, error);
  }

  /** Takes a send's outcome: the stored message, or why not. */
  private settle(item: Item, outcome: Message | ParleyError): void {
    const { room } = item.entry;
    const queue = this.queues.get(room);
    // Dropped meanwhile (room left, client closed): the outcome no longer matters.
    if (!queue || queue[0] !== item) return;
    if (!(outcome instanceof ParleyError)) {
      queue.shift();
      this.failures.delete(room);
      this.link.stored(outcome);
      this.update(item, { status: 'sent', message: outcome });
      item.resolve(outcome);
      this.pump(room);
      return;
    }
    const { code } = outcome;
    if (isPermanent(code)) {
      queue.shift();
      this.failed.set(item.entry.clientId, item);
      this.fail(item, outcome);
      this.pump(room);
      return;
    }
    this.update(item, { status: 'queued' });
    const failures = (this.failures.get(room) ?? 0) + 1;
    this.failures.set(room, failures);
    if (code === 'disconnected') return; // resent once the connection is back and the room re-joined
    if (code === 'not_joined') {
      // Connected to an instance that has not seen this socket's join yet:
      // re-join, which pumps again. Only a repeat waits, lest a server that
      // keeps saying so be asked in a tight loop.
      if (failures > 1) this.wait(room, backoffDelay(failures - 1, this.backoff));
      this.link.rejoin(room);
      return;
    }
    this.wait(room, retryDelay(outcome, failures, this.backoff));
  }

  /** Holds a room's queue for `ms`, then pumps it. */
  private wait(room: string, ms: number): void {
    this.clearTimer(room);
    this.timers.set(
      room,
      setTimeout(() => {
        this.timers.delete(room);
        this.pump(room);
      }, ms),
    );
  }

  private fail(item: Item, error: ParleyError): void {
    this.update(item, { status: 'failed', error });
    item.reject(error);
  }

  private update(item: Item, change: Partial<OutboxEntry>): void {
    item.entry = { ...item.entry, ...change };
    this.link.changed(item.entry);
  }

  private clearTimer(room: string): void {
    const timer = this.timers.get(room);
    if (timer !== undefined) clearTimeout(timer);
    this.timers.delete(room);
  }
}
