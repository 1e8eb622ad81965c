import { ParleyClient, type ParleyError } from '../sdk';
import type { ConnectionBanner } from './banner';
import type { Composer } from './composer';
import { RoomView, type RoomParts } from './room-view';
import type { Sidebar } from './sidebar';

/** How the address follows a room being shown: a new history entry, a correction, or nothing (it is there already). */
export type Navigation = 'push' | 'replace' | 'none';

/** The parts of the page a session draws into. */
export interface Shell extends RoomParts {
  title: HTMLElement;
  /** Shown instead of a room while none is. */
  empty: HTMLElement;
  /** Holds everything of a shown room. */
  room: HTMLElement;
  composer: Composer;
  sidebar: Sidebar;
  banner: ConnectionBanner;
}

/** What a session tells the page around it. */
export interface SessionHooks {
  /** The room shown changed (undefined: none), with how the address should follow. */
  shown(room: string | undefined, navigation: Navigation): void;
  /** The joined rooms changed: to remember them, and to refresh the active rooms. */
  roomsChanged(rooms: string[]): void;
  /** The unread total changed. */
  unreadChanged(total: number): void;
  /** The server refused this identity: the session is over. */
  refused(error: ParleyError): void;
  /** A room cannot be joined (a bad or forbidden name). */
  joinRefused(room: string, error: ParleyError): void;
}

/**
 * A signed-in session: one SDK client as `name`, a view per joined room, one
 * room shown at a time. Wires the SDK's events to the room views; every
 * room keeps receiving while another is shown.
 */
export class ChatSession {
  readonly client: ParleyClient;
  private readonly views = new Map<string, RoomView>();
  private current: RoomView | undefined;

  constructor(
    readonly name: string,
    private readonly shell: Shell,
    private readonly hooks: SessionHooks,
  ) {
    const client = (this.client = new ParleyClient({ auth: { name } }));
    shell.banner.set(client.status);
    client.on('status', (status) => shell.banner.set(status));
    client.on('session', (session) => shell.banner.setInstance(session.instanceId));
    client.on('error', (error) => {
      if (error.code === 'unauthorized' || error.code === 'forbidden_origin') hooks.refused(error);
    });
    client.on('message', (m) => this.views.get(m.room)?.addMessage(m));
    client.on('update', (m) => this.views.get(m.room)?.updateMessage(m));
    client.on('skipped', ({ room, from, to }) => this.views.get(room)?.skipped(from, to));
    client.on('outbox', (entry) => this.views.get(entry.room)?.updateSend(entry));
    client.on('members', ({ room, members }) => this.views.get(room)?.setMembers(members));
    client.on('typing', (event) => this.views.get(event.room)?.setTyping(event));
    client.on('joined', (info) => this.views.get(info.room)?.joinedRoom(info));
  }

  /** The room shown. */
  get room(): string | undefined {
    return this.current?.room;
  }

  /** The rooms joined, in the order they were joined. */
  rooms(): string[] {
    return [...this.views.keys()];
  }

  /** Joins `room` if needed, and shows it. */
  open(room: string, navigation: Navigation): void {
    this.show(this.join(room), navigation);
  }

  /** Joins `room` if needed, without showing it. */
  join(room: string): RoomView {
    const known = this.views.get(room);
    if (known) return known;
    const view = new RoomView(room, { client: this.client, self: () => this.client.session?.user, changed: () => this.roomsUpdated() });
    this.views.set(room, view);
    this.roomsUpdated();
    this.hooks.roomsChanged(this.rooms());
    this.client.join(room).catch((error: ParleyError) => {
      if (this.views.get(room) !== view) return;
      this.drop(view);
      // Closing the session rejects its joins too: nothing to tell then.
      if (error.code !== 'closed') this.hooks.joinRefused(room, error);
    });
    return view;
  }

  /** Shows no room (the address names none). */
  showNone(): void {
    this.current?.detach();
    this.current = undefined;
    this.showNothing();
    this.roomsUpdated();
  }

  /** Leaves `room`; another joined room is shown if it was the one shown. */
  leave(room: string): void {
    const view = this.views.get(room);
    if (!view) return;
    void this.client.leave(room);
    this.drop(view);
  }

  /** Sends `text` to `room`; its progress shows in the room (pending, sent, failed with Retry). */
  send(room: string, text: string): void {
    // A refusal shows on the message itself, with Retry and Discard.
    this.client.send(room, text).catch(() => undefined);
  }

  setTyping(room: string, typing: boolean): void {
    this.client.setTyping(room, typing);
  }

  /** The page came back into view: the room shown is read. */
  pageShown(): void {
    this.current?.markRead();
  }

  /** Scrolls the room shown to its newest message. */
  jumpToBottom(): void {
    this.current?.jumpToBottom();
  }

  /** The reader scrolled the room shown. */
  scrolled(): void {
    this.current?.scrolled();
  }

  /** Disconnects and takes every room off the page. Idempotent. */
  close(): void {
    this.client.close();
    for (const view of this.views.values()) view.dispose();
    this.current?.detach();
    this.current = undefined;
    this.views.clear();
    this.shell.banner.set(undefined);
    this.shell.banner.setInstance(undefined);
  }

  private show(view: RoomView, navigation: Navigation): void {
    // Refused and dropped while the join was still being made.
    if (this.views.get(view.room) !== view) return;
    if (this.current !== view) {
      this.current?.detach();
      this.current = view;
      this.shell.title.textContent = `#${view.room}`;
      this.shell.empty.hidden = true;
      this.shell.room.hidden = false;
      view.attach(this.shell);
      this.shell.composer.setRoom(view.room);
    }
    this.roomsUpdated();
    this.hooks.shown(view.room, navigation);
  }

  private drop(view: RoomView): void {
    view.dispose();
    this.views.delete(view.room);
    if (this.current === view) {
      view.detach();
      this.current = undefined;
      const next = [...this.views.values()].pop();
      if (next) this.show(next, 'replace');
      else this.showNothing();
    }
    this.roomsUpdated();
    this.hooks.roomsChanged(this.rooms());
  }

  private showNothing(): void {
    this.shell.title.textContent = '';
    this.shell.room.hidden = true;
    this.shell.empty.hidden = false;
    this.shell.composer.setRoom(undefined);
    this.hooks.shown(undefined, 'replace');
  }

  /** Redraws the joined rooms in the sidebar. */
  private roomsUpdated(): void {
    const entries = [...this.views.values()].map((v) => ({ room: v.room, unread: v.unread, current: v === this.current, joining: !v.joined }));
    this.shell.sidebar.setJoined(entries);
    this.hooks.unreadChanged(entries.reduce((n, e) => n + e.unread, 0));
  }
}
