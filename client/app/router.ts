/**
 * The room in the address: `#/room/NAME`. The address follows the room shown,
 * so a link opens that room and the back button goes to the one before.
 */
const PREFIX = '#/room/';

/** The room a hash names, if any (`#/room/lobby` → `lobby`). */
export function roomFromHash(hash: string): string | undefined {
  if (!hash.startsWith(PREFIX)) return undefined;
  try {
    const room = decodeURIComponent(hash.slice(PREFIX.length));
    return room === '' ? undefined : room;
  } catch {
    // Not valid percent-encoding: it names no room.
    return undefined;
  }
}

/** The hash of a room (or of no room). */
export function hashFor(room: string | undefined): string {
  return room === undefined ? '#/' : PREFIX + encodeURIComponent(room);
}

/** Reads and writes the address; calls `onRoute` when the user moves through history or edits the address. */
export class Router {
  /** The room last routed to, so that a change is told once. */
  private last: string | undefined;

  constructor(private readonly onRoute: (room: string | undefined) => void) {
    this.last = this.room();
    // Back and forward between hash entries fire both events in some browsers.
    window.addEventListener('hashchange', () => this.changed());
    window.addEventListener('popstate', () => this.changed());
  }

  /** The room the address names now. */
  room(): string | undefined {
    return roomFromHash(window.location.hash);
  }

  /**
   * Puts `room` in the address: `push` adds a history entry (the user moved
   * to it), `replace` does not (a correction). `onRoute` is not called for it.
   */
  show(room: string | undefined, mode: 'push' | 'replace'): void {
    this.last = room;
    const hash = hashFor(room);
    if (window.location.hash === hash || (room === undefined && window.location.hash === '')) return;
    if (mode === 'push') history.pushState(null, '', hash);
    else history.replaceState(null, '', hash);
  }

  private changed(): void {
    const room = this.room();
    if (room === this.last) return;
    this.last = room;
    this.onRoute(room);
  }
}
