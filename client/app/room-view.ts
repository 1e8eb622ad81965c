import type { JoinInfo, Message, OutboxEntry, ParleyClient, SendStatus, TypingEvent, User } from '../sdk';
import { button, el } from './dom';
import { avatar, changeLine, pendingState, renderMessage, storedState, type MessageActions } from './message-view';
import { reactionChips } from './reactions';
import { placeAfter, type Placement, type Previous } from './timeline';
import { TypingTracker, typingText } from './typing';

/** Within this many pixels of the end, the reader counts as at the bottom: new messages scroll into view. */
const BOTTOM_SLACK_PX = 48;
/** Within this many pixels of the top, older messages are read. */
const TOP_SLACK_PX = 120;

/** The page's parts that show the room on screen (one room at a time). */
export interface RoomParts {
  /** The scrolling message list. */
  scroller: HTMLElement;
  /** "N new messages", shown while the reader is scrolled up. */
  newMarker: HTMLButtonElement;
  typing: HTMLElement;
  members: HTMLUListElement;
  memberCount: HTMLElement;
}

/** What a room's view needs from the session around it. */
export interface RoomContext {
  client: ParleyClient;
  /** This session's user, once the server said who it is. */
  self(): User | undefined;
  /** The unread count or the join state changed. */
  changed(): void;
}

/** A stored message on screen. */
interface Shown {
  message: Message;
  placement: Placement;
  item: HTMLLIElement;
  /** Ours, sent from this page: the latest one says "Sent". */
  delivery?: SendStatus;
  /** The editor is open, with this text. */
  editing?: string;
  picking?: boolean;
  confirmingDelete?: boolean;
  /** The order its reaction chips were shown in, kept across changes. */
  chipOrder: string[];
}

/** A send of ours on screen, not in the timeline yet. */
interface Pending {
  entry: OutboxEntry;
  placement: Placement;
  item: HTMLLIElement;
}

/**
 * One joined room: its timeline (grouped messages, day separators, older
 * pages loaded when the reader scrolls up, a notice where messages were
 * skipped), messages redrawn in place when they change (edits, deletions,
 * reactions), the user's own sends and changes until they are stored, the
 * members, who is typing, and the unread count while another room is shown.
 * Fed by the SDK's events; drawn into the page's parts while shown, kept off
 * the page (with its scroll position) while another room is.
 */
export class RoomView {
  /** Messages from others that came while another room was shown. */
  unread = 0;
  /** Whether the first join answer came. */
  joined = false;
  /** This room's messages and sends, moved into the list while shown. */
  readonly root = el('div', 'room-timeline');
  private readonly edge = el('div', 'history-edge');
  private readonly olderButton = button('chip', 'Load older messages', () => void this.loadOlder());
  private readonly edgeText = el('p', 'edge-text');
  private readonly list = el('ol', 'timeline');
  private readonly outbox = el('ol', 'timeline outbox');
  /** Stored messages shown, in seq order. */
  private readonly shown: Shown[] = [];
  private readonly byId = new Map<string, Shown>();
  private readonly pending = new Map<string, Pending>();
  /** Our changes not stored yet, by the id of the message they change, then by clientId. */
  private readonly changes = new Map<string, Map<string, OutboxEntry>>();
  /** Display names by user id, from authors and members: reactions carry ids. */
  private readonly names = new Map<string, string>();
  /** Sends from this page whose stored message has not been shown yet. */
  private readonly sentHere = new Set<string>();
  private lastSent: Shown | undefined;
  /** A notice stands after the last message shown: the next one starts a new group. */
  private breakAfterLast = false;
  private members: User[] = [];
  private readonly typing = new TypingTracker(() => this.renderTyping());
  private hasOlder = false;
  private loadingOlder = false;
  private parts: RoomParts | undefined;
  /** While hidden: how far from the bottom the reader was. */
  private fromBottom = 0;
  /** New messages below the reader's view. */
  private newBelow = 0;
  private readonly actions: MessageActions;

  constructor(
    readonly room: string,
    private readonly ctx: RoomContext,
  ) {
    this.edge.append(this.olderButton, this.edgeText);
    this.root.append(this.edge, this.list, this.outbox);
    this.list.setAttribute('aria-label', `Messages in #${room}`);
    this.outbox.setAttribute('aria-label', 'Your messages being sent');
    const client = ctx.client;
    this.actions = {
      retry: (clientId) => void client.retry(clientId)?.catch(() => undefined),
      discard: (clientId) => {
        client.discard(clientId);
        this.pending.get(clientId)?.item.remove();
        this.pending.delete(clientId);
        for (const [id, entries] of this.changes) if (entries.delete(clientId)) this.redraw(id);
      },
      startEdit: (id) => this.open(id, { editing: this.byId.get(id)?.message.text ?? '' }, 'edit-input'),
      draft: (id, text) => {
        const shown = this.byId.get(id);
        if (shown?.editing !== undefined) shown.editing = text;
      },
      saveEdit: (id, text) => {
        const shown = this.byId.get(id);
        if (!shown) return;
        // Refusals show under the message, with Retry.
        if (text !== shown.message.text) client.edit(room, id, text).catch(() => undefined);
        this.close(shown, 'edit-button');
      },
      cancel: (id) => {
        const shown = this.byId.get(id);
        if (shown) this.close(shown, shown.picking ? 'react-button' : shown.confirmingDelete ? 'delete-button' : 'edit-button');
      },
      askDelete: (id) => this.open(id, { confirmingDelete: true }, 'delete-confirm'),
      remove: (id) => {
        const shown = this.byId.get(id);
        if (!shown) return;
        client.remove(room, id).catch(() => undefined);
        this.close(shown, 'react-button');
      },
      togglePicker: (id) => {
        const shown = this.byId.get(id);
        if (shown?.picking) this.close(shown, 'react-button');
        else this.open(id, { picking: true }, 'pick:👍');
      },
      toggleReaction: (id, reaction, mine) => {
        (mine ? client.unreact(room, id, reaction) : client.react(room, id, reaction)).catch(() => undefined);
        const shown = this.byId.get(id);
        if (shown?.picking) this.close(shown, 'react-button');
      },
    };
    this.renderEdge();
  }

  /** Puts the room on screen, where the reader left it (at the bottom the first time). */
  attach(parts: RoomParts): void {
    this.parts = parts;
    parts.scroller.replaceChildren(this.root);
    parts.scroller.setAttribute('aria-label', `Messages in #${this.room}`);
    parts.scroller.scrollTop = parts.scroller.scrollHeight - parts.scroller.clientHeight - this.fromBottom;
    this.markRead();
    this.renderMembers();
    this.renderTyping();
    this.renderMarker();
    this.scrolled();
  }

  /** Takes the room off the screen, remembering the reader's place. */
  detach(): void {
    const parts = this.parts;
    if (!parts) return;
    const { scroller } = parts;
    this.fromBottom = this.atBottom() ? 0 : scroller.scrollHeight - scroller.clientHeight - scroller.scrollTop;
    this.parts = undefined;
    this.root.remove();
  }

  /** The reader scrolled: clear the marker at the bottom, read older messages at the top. */
  scrolled(): void {
    if (!this.parts) return;
    if (this.atBottom()) this.clearMarker();
    if (this.parts.scroller.scrollTop < TOP_SLACK_PX) void this.loadOlder();
  }

  /** Scrolls to the newest message ("N new messages" clicked). */
  jumpToBottom(): void {
    this.scrollToBottom();
    this.clearMarker();
  }

  /** The reader sees the room (shown, in a page in view): nothing is unread. */
  markRead(): void {
    if (this.unread === 0) return;
    this.unread = 0;
    this.ctx.changed();
  }

  /** The join (or a re-join after a reconnect) completed. */
  joinedRoom(info: JoinInfo): void {
    const first = !this.joined;
    this.joined = true;
    if (first) this.hasOlder = info.hasOlder;
    this.renderEdge();
    if (first) this.ctx.changed();
    if (first && this.parts) {
      this.scrollToBottom();
      this.scrolled();
    }
  }

  /** The next message of the room, in seq order. */
  addMessage(message: Message): void {
    const stick = this.atBottom();
    this.names.set(message.user.id, message.user.name);
    const own = message.user.id === this.ctx.self()?.id;
    const pending = own ? this.pending.get(message.clientId) : undefined;
    const fromHere = own && (pending !== undefined || this.sentHere.has(message.clientId));
    if (pending) {
      pending.item.remove();
      this.pending.delete(message.clientId);
    }
    this.sentHere.delete(message.clientId);

    const last = this.shown[this.shown.length - 1];
    const placement = placeAfter(previous(message), last && previous(last.message), new Date(), this.breakAfterLast);
    this.breakAfterLast = false;
    const state = { message, placement, delivery: fromHere ? ('sent' as const) : undefined, chipOrder: [] };
    const shown: Shown = { ...state, item: this.render(state) };
    if (fromHere) this.markSent(shown);
    this.shown.push(shown);
    this.byId.set(message.id, shown);
    this.list.append(shown.item);
    this.typing.forget(message.user.id);

    // The page of history a join brings is not news.
    if (!this.joined) {
      if (this.parts) this.scrollToBottom();
      return;
    }
    // Unread: the room is not shown, or the whole page is out of sight (another tab).
    if (!own && (!this.parts || document.visibilityState === 'hidden')) {
      this.unread++;
      this.ctx.changed();
    }
    if (!this.parts) return;
    if (stick || fromHere) this.scrollToBottom();
    else if (!own) {
      this.newBelow++;
      this.renderMarker();
    }
  }

  /**
   * A message changed (edited, deleted, reacted to): it is drawn again in
   * place, unless what is shown is as new (a page read after the change).
   */
  updateMessage(message: Message): void {
    const shown = this.byId.get(message.id);
    if (!shown || message.rev <= shown.message.rev) return;
    this.names.set(message.user.id, message.user.name);
    const stick = this.atBottom();
    const closed = message.deleted ? { editing: undefined, picking: false, confirmingDelete: false } : {};
    this.replace(shown, { message, ...closed });
    if (stick) this.scrollToBottom();
  }

  /** A send or a change of ours changed status. */
  updateSend(entry: OutboxEntry): void {
    if (entry.kind !== 'send') return this.updateChange(entry);
    const known = this.pending.get(entry.clientId);
    if (entry.status === 'sent') {
      const stored = entry.message && this.byId.get(entry.message.id);
      if (stored) {
        // Shown already (it came before the answer): it says "Sent" now.
        known?.item.remove();
        this.pending.delete(entry.clientId);
        return;
      }
      // Stored, but earlier messages are still on their way: it waits here until its turn.
      this.sentHere.add(entry.clientId);
    }
    const self = this.ctx.self() ?? { id: '', name: 'You' };
    const placement = known?.placement ?? this.pendingPlacement(self);
    const item = renderMessage(pendingState(entry, self, placement), this.actions);
    if (known) {
      known.item.replaceWith(item);
      known.entry = entry;
      known.item = item;
      return;
    }
    this.pending.set(entry.clientId, { entry, placement, item });
    this.outbox.append(item);
    // The user just wrote it: show it, wherever they had scrolled to.
    if (this.parts) this.jumpToBottom();
  }

  /**
   * The service no longer keeps messages `from`..`to` (history retention):
   * the timeline says so where they would be, instead of pretending continuity.
   */
  skipped(from: number, to: number): void {
    const count = to - from + 1;
    const notice = el('li', 'notice');
    notice.setAttribute('role', 'note');
    notice.dataset.skippedFrom = String(from);
    notice.dataset.skippedTo = String(to);
    notice.append(
      el('strong', '', `${count} older ${count === 1 ? 'message was' : 'messages were'} skipped.`),
      document.createTextNode(` While you were away, #${this.room} received more messages than the service keeps; these are gone.`),
    );
    const stick = this.atBottom();
    this.list.append(notice);
    this.breakAfterLast = true;
    if (stick) this.scrollToBottom();
  }

  setMembers(members: User[]): void {
    this.members = members;
    for (const user of members) this.names.set(user.id, user.name);
    this.renderMembers();
  }

  setTyping(event: TypingEvent): void {
    this.typing.take(event);
  }

  /** Reads the page before the oldest message shown and puts it on top, keeping the reader's place. */
  async loadOlder(): Promise<void> {
    if (this.loadingOlder || !this.hasOlder || !this.joined) return;
    this.loadingOlder = true;
    this.renderEdge();
    try {
      const page = await this.ctx.client.loadOlder(this.room);
      this.hasOlder = page.hasMore;
      this.prepend(page.messages);
    } catch {
      // Offline or refused: the button stays, to try again.
    } finally {
      this.loadingOlder = false;
      this.renderEdge();
    }
    // Still at the top (a short page, or a tall screen): keep reading.
    if (this.parts && this.hasOlder && this.parts.scroller.scrollTop < TOP_SLACK_PX) void this.loadOlder();
  }

  /** Stops the room's timers. */
  dispose(): void {
    this.typing.dispose();
  }

  private prepend(messages: Message[]): void {
    const fresh = messages.filter((m) => !this.byId.has(m.id));
    if (fresh.length === 0) return;
    const scroller = this.parts?.scroller;
    const heightBefore = scroller?.scrollHeight ?? 0;
    const now = new Date();
    const added: Shown[] = [];
    for (const message of fresh) {
      this.names.set(message.user.id, message.user.name);
      const before = added[added.length - 1];
      const state = { message, placement: placeAfter(previous(message), before && previous(before.message), now), chipOrder: [] };
      const shown: Shown = { ...state, item: this.render(state) };
      added.push(shown);
      this.byId.set(message.id, shown);
    }
    // The message that was first now has one before it: its separator and grouping change.
    const oldFirst = this.shown[0];
    this.list.prepend(...added.map((s) => s.item));
    this.shown.unshift(...added);
    if (oldFirst) {
      const last = added[added.length - 1];
      this.replace(oldFirst, { placement: placeAfter(previous(oldFirst.message), previous(last.message), now) });
    }
    if (scroller) scroller.scrollTop += scroller.scrollHeight - heightBefore;
  }

  /** The latest own send of this page says "Sent"; the one before stops saying it. */
  private markSent(shown: Shown): void {
    const before = this.lastSent;
    this.lastSent = shown;
    if (before) this.replace(before, { delivery: undefined });
  }

  /** A change of ours to a message changed status: the message says so while it waits or once it failed. */
  private updateChange(entry: OutboxEntry): void {
    const id = entry.messageId;
    if (id === undefined) return;
    const entries = this.changes.get(id) ?? new Map<string, OutboxEntry>();
    if (entry.status === 'sent') entries.delete(entry.clientId);
    else entries.set(entry.clientId, entry);
    if (entries.size > 0) this.changes.set(id, entries);
    else this.changes.delete(id);
    this.redraw(id);
  }

  /** Opens the editor, the picker or the question on a message (closing the others), and focuses `focus` in it. */
  private open(id: string, what: Partial<Pick<Shown, 'editing' | 'picking' | 'confirmingDelete'>>, focus: string): void {
    const shown = this.byId.get(id);
    if (!shown || shown.message.deleted) return;
    const editing = what.editing ?? (what.picking || what.confirmingDelete ? shown.editing : undefined);
    this.replace(shown, { editing, picking: what.picking === true, confirmingDelete: what.confirmingDelete === true }, focus);
  }

  /** Closes whatever is open on a message, and focuses `focus` in it. */
  private close(shown: Shown, focus: string): void {
    this.replace(shown, { editing: undefined, picking: false, confirmingDelete: false }, focus);
  }

  private redraw(id: string): void {
    const shown = this.byId.get(id);
    if (shown) this.replace(shown, {});
  }

  /**
   * Redraws a message after a change of its state. The keyboard focus stays
   * on the same control (by its `data-focus` key), or moves to `focus`.
   */
  private replace(shown: Shown, change: Partial<Omit<Shown, 'item' | 'chipOrder'>>, focus?: string): void {
    Object.assign(shown, change);
    const active = document.activeElement;
    const had = active instanceof HTMLElement && shown.item.contains(active) ? active : undefined;
    const item = this.render(shown);
    shown.item.replaceWith(item);
    shown.item = item;
    const key = focus ?? had?.dataset.focus;
    const target = key === undefined ? undefined : [...item.querySelectorAll<HTMLElement>('[data-focus]')].find((n) => n.dataset.focus === key);
    if (!target || (!had && focus === undefined)) return;
    target.focus({ preventScroll: true });
    if (target instanceof HTMLTextAreaElement) {
      const { selectionStart, selectionEnd } = had instanceof HTMLTextAreaElement ? had : { selectionStart: target.value.length, selectionEnd: target.value.length };
      target.setSelectionRange(selectionStart, selectionEnd);
    }
  }

  private render(shown: Omit<Shown, 'item'>): HTMLLIElement {
    const self = this.ctx.self();
    const { message } = shown;
    const own = message.user.id === self?.id;
    const chips = reactionChips(message.reactions ?? {}, shown.chipOrder, self, (id) => this.names.get(id) ?? id);
    shown.chipOrder.splice(0, shown.chipOrder.length, ...chips.map((c) => c.reaction));
    const state = storedState(message, own, shown.placement, chips, shown.delivery);
    state.editing = shown.editing;
    state.picking = shown.picking;
    state.confirmingDelete = shown.confirmingDelete;
    state.changes = [...(this.changes.get(message.id)?.values() ?? [])].flatMap((e) => changeLine(e) ?? []);
    return renderMessage(state, this.actions);
  }

  private pendingPlacement(self: User): Placement {
    const lastPending = [...this.pending.values()].pop();
    if (lastPending) return { grouped: true };
    const last = this.shown[this.shown.length - 1];
    return placeAfter({ userId: self.id, ts: Date.now() }, last && previous(last.message), new Date(), this.breakAfterLast);
  }

  private renderEdge(): void {
    this.olderButton.hidden = !this.hasOlder || this.loadingOlder;
    const first = this.shown[0]?.message;
    this.edgeText.textContent = !this.joined
      ? `Joining #${this.room}…`
      : this.loadingOlder
        ? 'Loading older messages…'
        : this.hasOlder
          ? ''
          : first === undefined || first.seq === 1
            ? `This is the beginning of #${this.room}.`
            : `Older messages of #${this.room} are no longer kept.`;
    this.edgeText.hidden = this.edgeText.textContent === '';
  }

  private renderMembers(): void {
    if (!this.parts) return;
    const selfId = this.ctx.self()?.id;
    const members = [...this.members].sort((a, b) => (a.id === selfId ? -1 : b.id === selfId ? 1 : a.name.localeCompare(b.name)));
    const n = members.length;
    this.parts.memberCount.textContent = `${n} ${n === 1 ? 'member' : 'members'}`;
    this.parts.members.replaceChildren(
      ...members.map((user) => {
        const item = el('li', 'member');
        item.append(avatar(user), el('span', 'member-name', user.name));
        if (user.id === selfId) item.append(el('span', 'member-you', '(you)'));
        return item;
      }),
    );
  }

  private renderTyping(): void {
    if (this.parts) this.parts.typing.textContent = typingText(this.typing.names());
  }

  private renderMarker(): void {
    if (!this.parts) return;
    const n = this.newBelow;
    this.parts.newMarker.hidden = n === 0;
    this.parts.newMarker.textContent = `${n} new ${n === 1 ? 'message' : 'messages'} ↓`;
  }

  private clearMarker(): void {
    if (this.newBelow === 0) return;
    this.newBelow = 0;
    this.renderMarker();
  }

  private atBottom(): boolean {
    if (!this.parts) return true;
    const { scroller } = this.parts;
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < BOTTOM_SLACK_PX;
  }

  private scrollToBottom(): void {
    if (this.parts) this.parts.scroller.scrollTop = this.parts.scroller.scrollHeight;
  }
}

function previous(message: Message): Previous {
  return { userId: message.user.id, ts: message.ts };
}
