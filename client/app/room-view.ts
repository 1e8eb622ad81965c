import type { Message, OutboxEntry, ParleyClient, TypingEvent, User } from '../sdk';
import { el, formatTime } from './dom';

/** How long a "typing" lasts without news (a user who closed the tab never says stop). */
const TYPING_TTL_MS = 6000;

/**
 * One room on screen: its messages in order, the user's own sends still
 * pending, its members and who is typing. Built on the SDK's events only;
 * the app keeps one per joined room and shows one at a time.
 */
export class RoomView {
  /** Messages received while the room was hidden (for the room list, later). */
  unread = 0;
  private readonly messages = el('ol', 'messages');
  private readonly pendingItems = new Map<string, HTMLLIElement>();
  private readonly typers = new Map<string, { name: string; timer: ReturnType<typeof setTimeout> }>();
  private members: User[] = [];
  private hasOlder = false;
  private loadingOlder = false;

  constructor(
    readonly room: string,
    private readonly client: ParleyClient,
    private readonly parts: {
      scroll: HTMLElement;
      messages: HTMLOListElement;
      outbox: HTMLOListElement;
      older: HTMLButtonElement;
      membersCount: HTMLElement;
      membersList: HTMLUListElement;
      typing: HTMLElement;
    },
    private visible: boolean,
    /** The user id of this session, to recognise our own sends coming back. */
    private readonly self: () => string | undefined,
  ) {}

  /** Shows this room in the page's parts (the only one shown). */
  show(): void {
    this.visible = true;
    this.unread = 0;
    this.parts.messages.replaceChildren(...this.messages.childNodes);
    this.parts.outbox.replaceChildren(...this.pendingItems.values());
    this.renderMembers();
    this.renderTyping();
    this.renderOlder();
    this.scrollToBottom();
  }

  /** Takes this room's messages off the page, to show another room. */
  hide(): void {
    if (!this.visible) return;
    this.visible = false;
    this.messages.replaceChildren(...this.parts.messages.childNodes);
  }

  /** The next message of the room, in order. */
  addMessage(message: Message): void {
    const stick = this.nearBottom();
    this.list().append(messageItem(message));
    if (message.user.id === this.self()) {
      // Our own send arrived: it is no longer pending.
      this.pendingItems.get(message.clientId)?.remove();
      this.pendingItems.delete(message.clientId);
    }
    if (!this.visible) this.unread++;
    if (stick) this.scrollToBottom();
  }

  /** A send of ours changed status. */
  updateSend(entry: OutboxEntry): void {
    let item = this.pendingItems.get(entry.clientId);
    if (entry.status === 'sent') {
      // Stored: the message itself replaces this line when `addMessage` gets it (it may have already).
      item?.replaceChildren(el('span', 'who', 'you'), el('span', 'text', entry.text), el('span', 'note', 'sent'));
      return;
    }
    if (!item) {
      item = el('li');
      this.pendingItems.set(entry.clientId, item);
      if (this.visible) this.parts.outbox.append(item);
    }
    item.className = entry.status === 'failed' ? 'failed' : 'pending';
    const parts: Node[] = [el('span', 'who', 'you'), el('span', 'text', entry.text)];
    if (entry.status === 'failed') {
      parts.push(el('span', 'note', `not sent: ${entry.error?.message ?? 'refused'}`));
      const retry = el('button', 'link', 'Retry');
      retry.type = 'button';
      retry.addEventListener('click', () => this.client.retry(entry.clientId)?.catch(() => {}));
      const discard = el('button', 'link', 'Discard');
      discard.type = 'button';
      discard.addEventListener('click', () => {
        this.client.discard(entry.clientId);
        item!.remove();
        this.pendingItems.delete(entry.clientId);
      });
      parts.push(retry, discard);
    } else {
      parts.push(el('span', 'note', entry.status === 'sending' ? 'sending…' : 'waiting to send'));
    }
    item.replaceChildren(...parts);
    if (this.visible) this.scrollToBottom();
  }

  setMembers(members: User[]): void {
    this.members = members;
    if (this.visible) this.renderMembers();
  }

  setHasOlder(hasOlder: boolean): void {
    this.hasOlder = hasOlder;
    if (this.visible) this.renderOlder();
  }

  /** Another user typing or not. */
  setTyping(event: TypingEvent): void {
    const known = this.typers.get(event.user.id);
    if (known) clearTimeout(known.timer);
    this.typers.delete(event.user.id);
    if (event.typing) {
      const timer = setTimeout(() => {
        this.typers.delete(event.user.id);
        this.renderTyping();
      }, TYPING_TTL_MS);
      this.typers.set(event.user.id, { name: event.user.name, timer });
    }
    this.renderTyping();
  }

  /** Reads the page before the oldest message shown and puts it on top, keeping the reader's place. */
  async loadOlder(): Promise<void> {
    if (this.loadingOlder) return;
    this.loadingOlder = true;
    this.parts.older.disabled = true;
    try {
      const page = await this.client.loadOlder(this.room);
      const { scroll } = this.parts;
      const fromBottom = scroll.scrollHeight - scroll.scrollTop;
      this.list().prepend(...page.messages.map(messageItem));
      scroll.scrollTop = scroll.scrollHeight - fromBottom;
      this.hasOlder = page.hasMore;
    } catch {
      // Offline or refused: the button stays, to try again.
    } finally {
      this.loadingOlder = false;
      this.parts.older.disabled = false;
      this.renderOlder();
    }
  }

  /** Stops the typing timers. */
  dispose(): void {
    for (const { timer } of this.typers.values()) clearTimeout(timer);
    this.typers.clear();
  }

  /** Where messages go: the page's list while shown, the room's own while hidden. */
  private list(): HTMLOListElement {
    return this.visible ? this.parts.messages : this.messages;
  }

  private renderMembers(): void {
    const n = this.members.length;
    this.parts.membersCount.textContent = `${n} ${n === 1 ? 'member' : 'members'}`;
    this.parts.membersList.replaceChildren(...this.members.map((u) => el('li', '', u.name)));
  }

  private renderTyping(): void {
    if (!this.visible) return;
    const names = [...this.typers.values()].map((t) => t.name);
    this.parts.typing.textContent =
      names.length === 0 ? '' : names.length === 1 ? `${names[0]} is typing…` : names.length <= 3 ? `${names.join(', ')} are typing…` : 'Several people are typing…';
  }

  private renderOlder(): void {
    this.parts.older.hidden = !this.hasOlder;
  }

  private nearBottom(): boolean {
    const { scroll } = this.parts;
    return !this.visible || scroll.scrollHeight - scroll.scrollTop - scroll.clientHeight < 40;
  }

  private scrollToBottom(): void {
    this.parts.scroll.scrollTop = this.parts.scroll.scrollHeight;
  }
}

function messageItem(message: Message): HTMLLIElement {
  const item = el('li');
  item.dataset.seq = String(message.seq);
  item.dataset.clientId = message.clientId;
  const when = el('time', 'when', formatTime(message.ts));
  when.dateTime = new Date(message.ts).toISOString();
  when.title = new Date(message.ts).toLocaleString();
  item.append(el('span', 'who', message.user.name), el('span', 'text', message.text), when);
  return item;
}
