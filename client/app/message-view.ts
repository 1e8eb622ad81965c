import type { Message, OutboxEntry, SendStatus, User } from '../sdk';
import { button, el } from './dom';
import { PICKER_REACTIONS, whoReacted, type ReactionChip } from './reactions';
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
  /** Server time of the latest edit. */
  editedTs?: number;
  /** Deleted by its author: shown as "message deleted". */
  deleted?: boolean;
  reactions: ReactionChip[];
  /** Written by this session's user. */
  own: boolean;
  /** Ours and sent from this page: where the send stands. */
  delivery?: SendStatus;
  /** With `delivery: 'failed'`: why, in words. */
  error?: string;
  placement: Placement;
  /** The editor is open, with this text in it. */
  editing?: string;
  /** The reaction picker is open. */
  picking?: boolean;
  /** "Delete this message?" is being asked. */
  confirmingDelete?: boolean;
  /** Our changes to the message that are not stored yet: waiting for the connection, or refused. */
  changes: ChangeLine[];
}

/** One of our changes to a message, not stored: what it says under the message. */
export interface ChangeLine {
  clientId: string;
  text: string;
  failed: boolean;
}

/** What the controls of a message do; `id` is the stored message's. */
export interface MessageActions {
  /** Sends and changes that failed: try again, or give up. */
  retry(clientId: string): void;
  discard(clientId: string): void;
  startEdit(id: string): void;
  /** The editor's text changed (kept across redraws). */
  draft(id: string, text: string): void;
  saveEdit(id: string, text: string): void;
  /** Closes the editor, the picker, or the question. */
  cancel(id: string): void;
  askDelete(id: string): void;
  remove(id: string): void;
  togglePicker(id: string): void;
  /** Adds the reaction, or takes ours back (`mine`). */
  toggleReaction(id: string, reaction: string, mine: boolean): void;
}

/** The state of a stored message, with nothing open. */
export function storedState(message: Message, own: boolean, placement: Placement, reactions: ReactionChip[], delivery?: SendStatus): MessageState {
  return {
    id: message.id,
    seq: message.seq,
    clientId: message.clientId,
    author: message.user,
    text: message.text,
    ts: message.ts,
    editedTs: message.editedTs,
    deleted: message.deleted === true,
    reactions,
    own,
    delivery,
    placement,
    changes: [],
  };
}

/** The state of a send of ours that is not stored (or not shown in order) yet. */
export function pendingState(entry: OutboxEntry, self: User, placement: Placement): MessageState {
  const error = entry.status === 'failed' ? (entry.error?.message ?? 'refused') : undefined;
  return { clientId: entry.clientId, author: self, text: entry.text, own: true, delivery: entry.status, error, placement, reactions: [], changes: [] };
}

/** What an unstored change of ours says under its message, or undefined while it is just on its way. */
export function changeLine(entry: OutboxEntry): ChangeLine | undefined {
  if (entry.status !== 'queued' && entry.status !== 'failed') return undefined;
  const failed = entry.status === 'failed';
  const why = entry.error?.message ?? 'refused';
  const r = entry.reaction ?? '';
  const text =
    entry.kind === 'edit'
      ? failed ? `Edit not saved: ${why}` : 'Your edit is saved once you are back online…'
      : entry.kind === 'delete'
        ? failed ? `Not deleted: ${why}` : 'Deleted once you are back online…'
        : entry.kind === 'react'
          ? failed ? `${r} not added: ${why}` : `${r} is added once you are back online…`
          : failed ? `${r} not removed: ${why}` : `${r} is removed once you are back online…`;
  return { clientId: entry.clientId, text, failed };
}

const DELIVERY_TEXT: Record<SendStatus, string> = {
  queued: 'Waiting to send…',
  sending: 'Sending…',
  sent: 'Sent',
  failed: 'Not sent',
};

/**
 * One message's list item, drawn from its state. Controls carry a
 * `data-focus` key, so that a redraw can put the keyboard focus back where
 * it was.
 */
export function renderMessage(state: MessageState, actions: MessageActions): HTMLLIElement {
  const item = el('li', 'msg');
  item.classList.toggle('grouped', state.placement.grouped);
  item.classList.toggle('own', state.own);
  item.classList.toggle('is-deleted', state.deleted === true);
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
  const id = state.id;
  if (state.deleted) body.append(el('p', 'text deleted', 'message deleted'));
  else if (id !== undefined && state.editing !== undefined) body.append(editor(id, state.editing, actions));
  else body.append(textLine(state));
  if (id !== undefined && !state.deleted && state.reactions.length > 0) body.append(chips(id, state.reactions, actions));
  if (id !== undefined && state.confirmingDelete && !state.deleted) body.append(deleteQuestion(id, actions));
  const status = deliveryLine(state, actions);
  if (status) body.append(status);
  for (const line of state.changes) body.append(changeStatus(line, actions));
  row.append(gutter, body);
  if (id !== undefined && !state.deleted) row.append(toolbar(id, state, actions));
  item.append(row);
  if (id !== undefined && state.picking && !state.deleted) item.append(picker(id, state.reactions, actions));
  return item;
}

/** The text; an edited one says so after its last word (outside `.text`, which holds the message's text alone). */
function textLine(state: MessageState): HTMLElement {
  if (state.editedTs === undefined) return el('p', 'text', state.text);
  const line = el('p', 'text-line');
  const mark = el('span', 'edited', '(edited)');
  mark.title = `Edited ${fullTime(state.editedTs)}`;
  line.append(el('span', 'text', state.text), ' ', mark);
  return line;
}

/** The message's controls: react to it, and edit or delete it when it is ours. Shown on hover and focus. */
function toolbar(id: string, state: MessageState, actions: MessageActions): HTMLElement {
  const bar = el('div', 'msg-actions');
  bar.classList.toggle('is-open', state.picking === true);
  const react = control('icon-button msg-action', '', () => actions.togglePicker(id), 'Add a reaction', 'react-button');
  react.append(icon(ICONS.react));
  react.setAttribute('aria-expanded', String(state.picking === true));
  bar.append(react);
  if (state.own && state.editing === undefined) {
    const edit = control('icon-button msg-action', '', () => actions.startEdit(id), 'Edit your message', 'edit-button');
    const remove = control('icon-button msg-action', '', () => actions.askDelete(id), 'Delete your message', 'delete-button');
    edit.append(icon(ICONS.edit));
    remove.append(icon(ICONS.remove));
    bar.append(edit, remove);
  }
  return bar;
}

/** The toolbar's icons (24×24, stroked like the page's other icons). */
const ICONS = {
  react: ['M19 12a8 8 0 1 1-6-7.75', 'M7.5 14a4.5 4.5 0 0 0 7 0', 'M8.5 9.5h.01M13.5 9.5h.01', 'M19 2v6M16 5h6'],
  edit: ['M4 20h4L19 9l-4-4L4 16z', 'M13.5 6.5l4 4'],
  remove: ['M4 7h16', 'M9 7V4h6v3', 'M6 7l1 13h10l1-13', 'M10 11v6M14 11v6'],
};

function icon(paths: string[]): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'icon');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  for (const d of paths) {
    const path = document.createElementNS(ns, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

/** The short list of reactions; one already ours is pressed, and a click takes it back. */
function picker(id: string, reactions: ReactionChip[], actions: MessageActions): HTMLElement {
  const box = el('div', 'reaction-picker');
  box.dataset.testid = 'reaction-picker';
  box.setAttribute('role', 'group');
  box.setAttribute('aria-label', 'Pick a reaction');
  for (const reaction of PICKER_REACTIONS) {
    const mine = reactions.some((c) => c.reaction === reaction && c.mine);
    const pick = control('pick', reaction, () => actions.toggleReaction(id, reaction, mine), `${mine ? 'Remove' : 'React with'} ${reaction}`, `pick:${reaction}`);
    pick.dataset.reaction = reaction;
    pick.setAttribute('aria-pressed', String(mine));
    box.append(pick);
  }
  box.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') actions.cancel(id);
  });
  return box;
}

/** A chip per reaction: the reaction, its count, and who gave it (in a tooltip on hover and focus, and in its name). */
function chips(id: string, reactions: ReactionChip[], actions: MessageActions): HTMLElement {
  const row = el('div', 'reactions');
  row.dataset.testid = 'reactions';
  for (const chip of reactions) {
    const who = whoReacted(chip.names);
    const count = chip.names.length;
    const node = control('reaction', '', () => actions.toggleReaction(id, chip.reaction, chip.mine), `${chip.reaction} ${count}: ${who}${chip.mine ? '. Click to remove yours' : ''}`, `reaction:${chip.reaction}`);
    node.dataset.testid = 'reaction';
    node.dataset.reaction = chip.reaction;
    node.setAttribute('aria-pressed', String(chip.mine));
    node.title = who;
    // A space between, so that the name read out ("👍 2: …") contains the text shown.
    node.append(el('span', 'reaction-text', chip.reaction), ' ', el('span', 'reaction-count', String(count)));
    // Beside the button, not in it: its text is the button's name, which says the same.
    const tip = el('span', 'reaction-who', who);
    tip.setAttribute('aria-hidden', 'true');
    const wrap = el('span', 'reaction-wrap');
    wrap.append(node, tip);
    row.append(wrap);
  }
  return row;
}

/** The text of one's message in a box: Enter saves, Shift+Enter starts a new line, Escape cancels. */
function editor(id: string, draft: string, actions: MessageActions): HTMLFormElement {
  const form = el('form', 'edit-form');
  const input = el('textarea', 'edit-input');
  input.dataset.testid = 'edit-input';
  input.dataset.focus = 'edit-input';
  input.value = draft;
  input.rows = Math.min(8, Math.max(1, draft.split('\n').length));
  input.maxLength = 2000;
  input.setAttribute('aria-label', 'Edit your message');
  const save = el('button', 'primary', 'Save');
  save.type = 'submit';
  save.dataset.testid = 'edit-save';
  save.disabled = draft.trim() === '';
  const cancel = control('chip', 'Cancel', () => actions.cancel(id), 'Cancel the edit', 'edit-cancel');
  input.addEventListener('input', () => {
    save.disabled = input.value.trim() === '';
    actions.draft(id, input.value);
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      actions.cancel(id);
    } else if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && !e.altKey && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (input.value.trim() !== '') actions.saveEdit(id, input.value);
  });
  const buttons = el('div', 'edit-buttons');
  buttons.append(save, cancel, el('span', 'hint', 'Enter saves, Escape cancels'));
  form.append(input, buttons);
  return form;
}

function deleteQuestion(id: string, actions: MessageActions): HTMLElement {
  const box = el('div', 'delete-question');
  box.setAttribute('role', 'group');
  box.setAttribute('aria-label', 'Delete this message?');
  const yes = control('chip danger', 'Delete', () => actions.remove(id), 'Delete this message for everyone', 'delete-confirm');
  yes.dataset.testid = 'delete-confirm';
  box.append(el('span', '', 'Delete this message for everyone?'), yes, control('chip', 'Cancel', () => actions.cancel(id), 'Keep the message', 'delete-cancel'));
  return box;
}

/** A line under a message about a change of ours: waiting for the connection, or refused (with Retry and Dismiss). */
function changeStatus(line: ChangeLine, actions: MessageActions): HTMLElement {
  const node = el('div', 'delivery change-status');
  node.setAttribute('role', 'status');
  node.append(el('span', line.failed ? 'delivery-error' : '', line.text));
  if (line.failed) {
    node.append(
      button('chip', 'Retry', () => actions.retry(line.clientId), 'Try this change again'),
      button('chip', 'Dismiss', () => actions.discard(line.clientId), 'Give this change up'),
    );
  }
  return node;
}

/** A button with a `data-focus` key (and the same `data-testid`, without the part after a colon). */
function control(className: string, text: string, onClick: () => void, label: string, focus: string): HTMLButtonElement {
  const node = button(className, text, onClick, label);
  node.dataset.focus = focus;
  node.dataset.testid = focus.split(':')[0];
  if (!node.title) node.title = label;
  return node;
}

function timeElement(ts: number): HTMLTimeElement {
  const time = el('time', 'time', clockTime(ts));
  time.dateTime = new Date(ts).toISOString();
  time.title = fullTime(ts);
  return time;
}

/** The line under a send of ours: where it stands, and Retry/Discard once it failed. */
function deliveryLine(state: MessageState, actions: MessageActions): HTMLElement | undefined {
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
