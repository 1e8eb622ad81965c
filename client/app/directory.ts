import type { RoomSummary } from '../sdk';

/** How often the list of active rooms is read again while the page is in view. */
export const DIRECTORY_REFRESH_MS = 3000;

/** Reads the service's active rooms: the session's `ParleyClient.rooms()` (`rooms:list` over the socket). */
export type ReadRooms = () => Promise<RoomSummary[]>;

/**
 * Keeps the list of active rooms fresh while the page is open: read every
 * few seconds while the page is visible, at once when it becomes visible
 * again, and on `refresh()` (after a join or a leave). A failed read keeps
 * the last list; the next one tries again.
 */
export class RoomDirectory {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private read: ReadRooms | undefined;
  /** The read whose answer is wanted; an older one's is dropped. */
  private current = 0;
  private readonly onVisibility = () => {
    if (document.visibilityState === 'visible') this.refresh();
    else this.clearTimer();
  };

  constructor(
    private readonly onRooms: (rooms: RoomSummary[]) => void,
    private readonly everyMs = DIRECTORY_REFRESH_MS,
  ) {}

  /** Starts reading with `read` (a session's client). */
  start(read: ReadRooms): void {
    if (this.read) this.stop();
    this.read = read;
    document.addEventListener('visibilitychange', this.onVisibility);
    this.refresh();
  }

  stop(): void {
    this.read = undefined;
    this.current++;
    document.removeEventListener('visibilitychange', this.onVisibility);
    this.clearTimer();
  }

  /** Reads the list now (the answer of a read under way is dropped), then every `everyMs`. */
  refresh(): void {
    const read = this.read;
    if (!read) return;
    this.clearTimer();
    const mine = ++this.current;
    read()
      .then((rooms) => {
        if (this.current === mine) this.onRooms(rooms);
      })
      .catch(() => undefined)
      .finally(() => {
        if (this.current !== mine || !this.read) return;
        if (document.visibilityState === 'visible') this.timer = setTimeout(() => this.refresh(), this.everyMs);
      });
  }

  private clearTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
