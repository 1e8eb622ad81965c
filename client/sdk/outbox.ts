import type { Answer, Message, SendAnswer, SendPayload } from '../../protocol';
import { backoffDelay, type BackoffOptions } from '../../common/backoff';
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

/**
 * The request that carries a queued change to a room, sent again as it is on
 * every resend. Every kind answers the message's stored state.
 */
export type OutboxRequest = { event: 'message:send'; payload: SendPayload };

/** What the outbox needs from the client around it. */
export interface OutboxLink {
  /** Whether a send to `room` may go out now: connected, and the room joined on this connection. */
  ready(room: string): boolean;
  /** Emits the request; rejects with `timeout` or `disconnected` when no answer comes. */
  send(request: OutboxRequest): Promise<Answer<SendAnswer>>;
  /** The server does not count the room as joined: re-join it, then call `pump(room)`. */
  rejoin(room: string): void;
  /** A send was answered with its stored message (the broadcast may have been lost, or never sent for a repeat). */
  stored(message: Message): void;
  /** An entry changed. */
  changed(entry: OutboxEntry): void;
}

interface Item {
  entry: OutboxEntry;
  request: OutboxRequest;
  resolve(message: Message): void;
  reject(error: ParleyError): void;
}

/**
 * Sends that are not answered yet, one queue per room. The head of a room's
 * queue goes out alone and the next waits for its answer, so that a user's
 * messages are stored in the order they were written. A send is resent with
 * the same `clientId` (the server answers a repeat with the original) until
 * it is answered `ok` or refused for good. Each queued item carries its wire
 * request (`OutboxRequest`), so other changes to a room's messages can queue
 * in the same order and resend the same way.
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
    return this.enqueue({ event: 'message:send', payload: { room, text, clientId } }, { clientId, room, text });
  }

  /** Queues a failed send again, with the same `clientId`; undefined if no failed send has that id. */
  retry(clientId: string): Sending | undefined {
    const item = this.failed.get(clientId);
    if (!item) return undefined;
    this.failed.delete(clientId);
    const { room, text } = item.entry;
    return this.enqueue(item.request, { clientId, room, text });
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
    this.link.send(head.request).then(
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

  /** Queues `request` at the end of its room's queue, with a fresh entry, and tries to send it. */
  private enqueue(request: OutboxRequest, fields: Pick<OutboxEntry, 'clientId' | 'room' | 'text'>): Sending {
    const { clientId, room } = fields;
    let item!: Item;
    const promise = new Promise<Message>((resolve, reject) => {
      item = { entry: { ...fields, status: 'queued', attempts: 0 }, request, resolve, reject };
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
