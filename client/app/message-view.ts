import type { Message, OutboxEntry, SendStatus, User } from '../sdk';
import { button, el } from './dom';
import { clockTime, fullTime, type Placement } from './timeline';

/**
 * Everything one message's view is drawn from: a stored message, or a send
 * of ours not stored yet. A view is always redrawn whole from this state
 * (`renderMessage`), never patched, so a change to the message (an edit, a
 * deletion, reactions) is a new state and one call.
 */
export interface MessageState {
  /** The message's id once stored; undefined while the send is pending. */
  id?: string;
  seq?: number;
  clientId: string;
  author: User;
  text: string;
  /** Server time once stored. */
  ts?: number;
  /** Written by this session's user. */
  own: boolean;
  /** Ours and sent from this page: where the send stands. */
  delivery?: SendStatus;
  /** With `delivery: 'failed'`: why, in words. */
  error?: string;
  placement: Placement;
}

/** What the buttons of a failed send do. */
export interface SendActions {
  retry(clientId: string): void;
  discard(clientId: string): void;
}

/** The state of a stored message. */
export function storedState(message: Message, own: boolean, placement: Placement, delivery?: SendStatus): MessageState {
  return { id: message.id, seq: message.seq, clientId: message.clientId, author: message.user, text: message.text, ts: message.ts, own, delivery, placement };
}

/** The state of a send of ours that is not stored (or not shown in order) yet. */
export function pendingState(entry: OutboxEntry, self: User, placement: Placement): MessageState {
  const error = entry.status === 'failed' ? (entry.error?.message ?? 'refused') : undefined;
  return { clientId: entry.clientId, author: self, text: entry.text, own: true, delivery: entry.status, error, placement };
}

const DELIVERY_TEXT: Record<SendStatus, string> = {
  queued: 'Waiting to send…',
  sending: 'Sending…',
  sent: 'Sent',
  failed: 'Not sent',
};

/** One message's list item, drawn from its state. */
export function renderMessage(state: MessageState, actions: SendActions): HTMLLIElement {
  const item = el('li', 'msg');
  item.classList.toggle('grouped', state.placement.grouped);
  item.classList.toggle('own', state.own);
  if (state.delivery) item.classList.add(`is-${state.delivery}`);
  item.dataset.clientId = state.clientId;
  if (state.id !== undefined) item.dataset.id = state.id;
  if (state.seq !== undefined) item.dataset.seq = String(state.seq);

  if (state.placement.day) {
    const day = el('div', 'day-divider');
    day.setAttribute('role', 'separator');
    day.setAttribute('aria-label', state.placement.day);
    day.append(el('span', '', state.placement.day));
    item.append(day);
  }

  const row = el('div', 'msg-row');
  const gutter = el('div', 'msg-gutter');
  const body = el('div', 'msg-body');
  const when = state.ts === undefined ? undefined : timeElement(state.ts);
  if (state.placement.grouped) {
    // The author is the one above; a screen reader still hears it.
    body.append(el('span', 'visually-hidden', `${state.author.name}: `));
    if (when) gutter.append(when);
  } else {
    gutter.append(avatar(state.author));
    const meta = el('div', 'msg-meta');
    meta.append(el('span', 'author', state.author.name));
    if (when) meta.append(when);
    body.append(meta);
  }
  body.append(el('p', 'text', state.text));
  const status = deliveryLine(state, actions);
  if (status) body.append(status);
  row.append(gutter, body);
  item.append(row);
  return item;
}

function timeElement(ts: number): HTMLTimeElement {
  const time = el('time', 'time', clockTime(ts));
  time.dateTime = new Date(ts).toISOString();
  time.title = fullTime(ts);
  return time;
}

/** The line under a send of ours: where it stands, and Retry/Discard once it failed. */
function deliveryLine(state: MessageState, actions: SendActions): HTMLElement | undefined {
  if (!state.delivery) return undefined;
  const line = el('div', 'delivery');
  if (state.delivery === 'sent') {
    line.append(el('span', 'delivery-sent', `✓ ${DELIVERY_TEXT.sent}`));
    return line;
  }
  line.setAttribute('role', 'status');
  if (state.delivery !== 'failed') {
    line.append(el('span', '', DELIVERY_TEXT[state.delivery]));
    return line;
  }
  line.append(
    el('span', 'delivery-error', `${DELIVERY_TEXT.failed}: ${state.error ?? 'refused'}`),
    button('chip', 'Retry', () => actions.retry(state.clientId), 'Retry sending this message'),
    button('chip', 'Discard', () => actions.discard(state.clientId), 'Discard this message'),
  );
  return line;
}

/** A round badge with the author's initials, in a colour of their own. */
export function avatar(user: User): HTMLElement {
  const badge = el('span', 'avatar', initials(user.name));
  badge.setAttribute('aria-hidden', 'true');
  badge.style.setProperty('--hue', String(hue(user.id)));
  return badge;
}

function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]].map((w) => [...w][0]) : [...(words[0] ?? '?')].slice(0, 2);
  return letters.join('').toUpperCase();
}

/** A stable hue per user id (FNV-1a), so that each person keeps a colour. */
function hue(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h >>> 0) % 360;
}
