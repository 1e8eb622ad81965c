import type { RoomSummary } from '../../protocol';
import { button, el, syncList } from './dom';

/** A joined room as the sidebar lists it. */
export interface JoinedEntry {
  room: string;
  unread: number;
  current: boolean;
  /** The first join answer has not come yet. */
  joining: boolean;
}

export interface SidebarActions {
  /** Show a joined room. */
  show(room: string): void;
  /** Join an active room (and show it). */
  join(room: string): void;
  leave(room: string): void;
}

/** Active rooms listed at most; the busiest first. */
const MAX_ACTIVE = 50;

/**
 * The room list: the joined rooms with their unread counts and a Leave
 * button, then the service's active rooms not joined, with their member
 * counts. Entries are kept by room name and updated in place, so a refresh
 * of the list does not take the keyboard focus away.
 */
export class Sidebar {
  private readonly joinedNodes = new Map<string, HTMLLIElement>();
  private readonly activeNodes = new Map<string, HTMLLIElement>();
  private joined: JoinedEntry[] = [];
  private active: RoomSummary[] | undefined;

  constructor(
    private readonly parts: { joined: HTMLUListElement; active: HTMLUListElement; joinedEmpty: HTMLElement; activeEmpty: HTMLElement },
    private readonly actions: SidebarActions,
  ) {
    this.renderActive();
  }

  setJoined(rooms: JoinedEntry[]): void {
    this.joined = rooms;
    syncList(this.parts.joined, this.joinedNodes, rooms, (r) => r.room, (r) => this.joinedEntry(r.room), updateJoined);
    this.parts.joinedEmpty.hidden = rooms.length > 0;
    this.renderActive();
  }

  /** The service's active rooms (undefined: not known yet). */
  setActive(rooms: RoomSummary[] | undefined): void {
    this.active = rooms;
    this.renderActive();
  }

  private renderActive(): void {
    const joined = new Set(this.joined.map((r) => r.room));
    const rooms = (this.active ?? [])
      .filter((r) => !joined.has(r.room) && r.members > 0)
      .sort((a, b) => b.members - a.members || a.room.localeCompare(b.room))
      .slice(0, MAX_ACTIVE);
    syncList(this.parts.active, this.activeNodes, rooms, (r) => r.room, (r) => this.activeEntry(r.room), updateActive);
    this.parts.activeEmpty.hidden = rooms.length > 0;
    this.parts.activeEmpty.textContent = this.active === undefined ? 'Looking for active rooms…' : 'No other rooms are active right now.';
  }

  private joinedEntry(room: string): HTMLLIElement {
    const item = el('li', 'room-entry');
    item.dataset.room = room;
    const open = button('room-link', '', () => this.actions.show(room));
    const unread = el('span', 'badge', '0');
    unread.dataset.testid = 'unread';
    // Read out as "# lobby 3 unread" (spaces between the parts, so that the name contains the text shown).
    open.append(...spaced(el('span', 'room-hash', '#'), el('span', 'room-name', room), unread, el('span', 'visually-hidden unread-words')));
    const leave = button('icon-button room-leave', '×', () => this.actions.leave(room), `Leave #${room}`);
    leave.title = `Leave #${room}`;
    item.append(open, leave);
    return item;
  }

  private activeEntry(room: string): HTMLLIElement {
    const item = el('li', 'room-entry is-active-room');
    item.dataset.room = room;
    const join = button('room-link', '', () => this.actions.join(room));
    const count = el('span', 'member-count');
    join.append(...spaced(el('span', 'visually-hidden', 'Join'), el('span', 'room-hash', '#'), el('span', 'room-name', room), count, el('span', 'visually-hidden member-words')));
    item.append(join);
    return item;
  }
}

function updateJoined(item: HTMLLIElement, entry: JoinedEntry): void {
  const open = item.querySelector<HTMLButtonElement>('.room-link')!;
  const unread = item.querySelector<HTMLElement>('[data-testid="unread"]')!;
  item.classList.toggle('is-current', entry.current);
  item.classList.toggle('is-joining', entry.joining);
  unread.textContent = String(entry.unread);
  unread.hidden = entry.unread === 0;
  if (entry.current) open.setAttribute('aria-current', 'page');
  else open.removeAttribute('aria-current');
  item.querySelector('.unread-words')!.textContent = `${entry.unread === 0 ? '' : 'unread'}${entry.joining ? ' (joining)' : ''}`;
}

function updateActive(item: HTMLLIElement, summary: RoomSummary): void {
  const count = item.querySelector<HTMLElement>('.member-count')!;
  count.textContent = String(summary.members);
  item.querySelector('.member-words')!.textContent = summary.members === 1 ? 'member' : 'members';
}

/** The nodes with a space between each two. */
function spaced(...nodes: Node[]): Node[] {
  return nodes.flatMap((node, i) => (i === 0 ? [node] : [document.createTextNode(' '), node]));
}
