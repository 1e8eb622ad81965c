import type { RoomSummary } from '../../protocol';

/** How often the list of active rooms is read again while the page is in view. */
export const DIRECTORY_REFRESH_MS = 3000;

/**
 * The service's active rooms (`rooms:list` of the contract), read over the
 * HTTP route that answers the same (`GET /api/rooms`, same origin, no
 * identity needed in open mode). This is the one place that reads it, so it
 * can become an SDK call without touching the rest of the app.
 */
export async function fetchActiveRooms(signal?: AbortSignal): Promise<RoomSummary[]> {
  const res = await fetch('/api/rooms', { headers: { accept: 'application/json' }, cache: 'no-store', signal });
  if (!res.ok) throw new Error(`GET /api/rooms answered ${res.status}`);
  const body = (await res.json()) as { rooms?: unknown };
  if (!Array.isArray(body.rooms)) throw new Error('GET /api/rooms answered no rooms');
  return body.rooms.filter(
    (r): r is RoomSummary => typeof r === 'object' && r !== null && typeof r.room === 'string' && typeof r.members === 'number',
  );
}

/**
 * Keeps the list of active rooms fresh while the page is open: read every
 * few seconds while the page is visible, at once when it becomes visible
 * again, and on `refresh()` (after a join or a leave). A failed read keeps
 * the last list; the next one tries again.
 */
export class RoomDirectory {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private inFlight: AbortController | undefined;
  private running = false;
  private readonly onVisibility = () => {
    if (document.visibilityState === 'visible') this.refresh();
    else this.clearTimer();
  };

  constructor(
    private readonly onRooms: (rooms: RoomSummary[]) => void,
    private readonly everyMs = DIRECTORY_REFRESH_MS,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    document.addEventListener('visibilitychange', this.onVisibility);
    this.refresh();
  }

  stop(): void {
    this.running = false;
    document.removeEventListener('visibilitychange', this.onVisibility);
    this.clearTimer();
    this.inFlight?.abort();
  }

  /** Reads the list now (a read under way is replaced), then every `everyMs`. */
  refresh(): void {
    if (!this.running) return;
    this.clearTimer();
    this.inFlight?.abort();
    const controller = (this.inFlight = new AbortController());
    fetchActiveRooms(controller.signal)
      .then((rooms) => {
        if (this.inFlight === controller && this.running) this.onRooms(rooms);
      })
      .catch(() => undefined)
      .finally(() => {
        if (this.inFlight !== controller) return;
        this.inFlight = undefined;
        if (this.running && document.visibilityState === 'visible') this.timer = setTimeout(() => this.refresh(), this.everyMs);
      });
  }

  private clearTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
