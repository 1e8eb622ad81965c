import type { Answer, DeletePayload, EditPayload, Message, ReactionPayload, SendPayload } from '../../protocol';
import { backoffDelay, type BackoffOptions } from '../../common/backoff';
import { asParleyError, isPermanent, ParleyError } from './errors';
import { randomId } from './ids';
import { retryDelay } from './retry';

/**
 * Where a queued send or change stands, for the UI:
 * - `queued`: waiting its turn, the connection, the room's re-join, or a retry delay;
 * - `sending`: on the wire, no answer yet;
 * - `sent`: stored by the server (final);
 * - `failed`: refused for good (final unless `retry`).
 */
export type SendStatus = 'queued' | 'sending' | 'sent' | 'failed';

/**
 * What a queued item does: `send` a new message, or change a stored one:
 * `edit` its text, `delete` it, `react` to it or `unreact` (take one's
 * reaction back).
 */
export type OutboxKind = 'send' | 'edit' | 'delete' | 'react' | 'unreact';

/** A snapshot of one queued send or change, as the `outbox` event reports it. */
export interface OutboxEntry {
  /**
   * The entry's key, the same on every resend: use it as the UI's id. For a
   * send, its idempotency key on the wire; for a change, an id of the SDK's
   * own (the server needs none: a repeated change changes nothing).
   */
  readonly clientId: string;
  readonly kind: OutboxKind;
  readonly room: string;
  /** `send`: the message's text; `edit`: the new text; otherwise `''`. */
  readonly text: string;
  /** A change: the `id` of the message it changes. */
  readonly messageId?: string;
  /** `react` and `unreact`: the reaction. */
  readonly reaction?: string;
  readonly status: SendStatus;
  /** How many times it went on the wire. */
  readonly attempts: number;
  /** With `failed`: why (a change: `not_found`, `forbidden`, `invalid_payload`, `too_large`, ...). */
  readonly error?: ParleyError;
  /** With `sent`: the stored message (a change: the message's state after it). */
  readonly message?: Message;
}

/** The promise of a queued send's or change's stored message, with the entry's `clientId` at hand. */
export type Sending = Promise<Message> & { readonly clientId: string };

/** The request of a change to a stored message. Every kind answers the message's state. */
export type ChangeRequest =
  | { event: 'message:edit'; payload: EditPayload }
  | { event: 'message:delete'; payload: DeletePayload }
  | { event: 'reaction:add'; payload: ReactionPayload }
  | { event: 'reaction:remove'; payload: ReactionPayload };

/**
 * The request that carries a queued item, sent again as it is on every
 * resend. Every kind answers `{ message }`, the message's stored state.
 */
export type OutboxRequest = { event: 'message:send'; payload: SendPayload } | ChangeRequest;

const KINDS: Record<OutboxRequest['event'], OutboxKind> = {
  'message:send': 'send',
  'message:edit': 'edit',
  'message:delete': 'delete',
  'reaction:add': 'react',
  'reaction:remove': 'unreact',
};

/** What the outbox needs from the client around it. */
export interface OutboxLink {
  /** Whether a send to `room` may go out now: connected, and the room joined on this connection. */
  ready(room: string): boolean;
  /** Emits the request; rejects with `timeout` or `disconnected` when no answer comes. */
  send(request: OutboxRequest): Promise<Answer<{ message: Message }>>;
  /** The server does not count the room as joined: re-join it, then call `pump(room)`. */
  rejoin(room: string): void;
  /** A send or a change was answered with the stored message (the broadcast may have been lost, or never sent for a repeat). */
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
 * Sends and changes that are not answered yet, one queue per room. The head
 * of a room's queue goes out alone and the next waits for its answer, so
 * that a user's messages and changes are stored in the order they were
 * made (an edit never overtakes the send of its message, nor an earlier
 * edit). An item is resent as it is until it is answered `ok` or refused
 * for good: a send with the same `clientId` (the server answers a repeat
 * with the message), a change as it was (a repeat changes nothing and
 * answers the current state).
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
    return this.enqueue({ event: 'message:send', payload: { room, text, clientId } }, clientId);
  }

  /** Queues a change to a stored message behind the room's earlier sends and changes, and tries to send it. */
  change(request: ChangeRequest): Sending {
    return this.enqueue(request, randomId());
  }

  /** Queues a failed send or change again, with the same `clientId`; undefined if no failed one has that id. */
  retry(clientId: string): Sending | undefined {
    const item = this.failed.get(clientId);
    if (!item) return undefined;
    this.failed.delete(clientId);
    return this.enqueue(item.request, clientId);
  }

  /** Forgets a failed send or change; whether there was one. */
  discard(clientId: string): boolean {
    return this.failed.delete(clientId);
  }

  /** Sends and changes not stored yet (queued, sending, failed), of one room or all, oldest first per room. */
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

  /** Fails every send and change of a room the application left. */
  dropRoom(room: string, error: ParleyError): void {
    this.clearTimer(room);
    this.failures.delete(room);
    const queue = this.queues.get(room) ?? [];
    this.queues.delete(room);
    for (const item of queue) this.fail(item, error);
  }

  /** Fails every pending send and change, and stops every timer. */
  close(error: ParleyError): void {
    this.closed = error;
    for (const room of [...this.queues.keys()]) this.dropRoom(room, error);
  }

  /** Queues `request` at the end of its room's queue, with a fresh entry, and tries to send it. */
  private enqueue(request: OutboxRequest, clientId: string): Sending {
    const entry = describe(request, clientId);
    const { room } = entry;
    let item!: Item;
    const promise = new Promise<Message>((resolve, reject) => {
      item = { entry, request, resolve, reject };
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

  /** Takes an item's outcome: the stored message, or why not. */
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

/** A new entry for `request`, queued. */
function describe(request: OutboxRequest, clientId: string): OutboxEntry {
  const base = { clientId, kind: KINDS[request.event], room: request.payload.room, status: 'queued' as const, attempts: 0 };
  switch (request.event) {
    case 'message:send':
      return { ...base, text: request.payload.text };
    case 'message:edit':
      return { ...base, text: request.payload.text, messageId: request.payload.id };
    case 'message:delete':
      return { ...base, text: '', messageId: request.payload.id };
    default:
      return { ...base, text: '', messageId: request.payload.id, reaction: request.payload.reaction };
  }
}
