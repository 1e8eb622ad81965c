import type { PresenceEvent, User } from '../../protocol';

/**
 * How many events past a missing version a room holds. Past that, newer ones
 * are dropped here: the fresh member list that fills the gap covers them.
 */
const MAX_AHEAD = 1000;

/**
 * One room's member list, right whatever order its presence events arrive in.
 *
 * The events of a room come from several server instances (the one a user
 * joined through, the one that reaped a dead instance's users), so a client
 * can receive them in another order than the one they happened in. Each
 * carries the room's presence version after its change, and each join answer
 * the version its member list reflects. The list shown is the latest member
 * list taken with the newer events applied in version order; an event no
 * newer than what is held changes nothing. An event that skips a version
 * leaves a gap: the missing one may just be late, or lost; the client waits
 * a moment, then fetches a fresh member list (`hasGap`).
 *
 * Pure bookkeeping, like RoomState: no timers, no socket.
 */
export class RoomPresence {
  /** The users present, as the application sees them. */
  members: User[] = [];
  /**
   * Every change up to this version is in `base`; undefined while no versioned
   * member list was taken (or the server sends no versions).
   */
  private version: number | undefined;
  private base = new Map<string, User>();
  /** Events past a missing version, by version. */
  private readonly ahead = new Map<number, PresenceEvent>();
  /** No member list taken on this connection yet: the next one is taken whatever its version. */
  private awaiting = true;

  /** Whether a version is missing before events already applied. */
  get hasGap(): boolean {
    return this.version !== undefined && this.ahead.size > 0;
  }

  /**
   * Takes the member list of a join answer at `version`, unless the list held
   * is newer; answers whether it was taken. Events past it stay applied.
   */
  take(members: User[], version: number | undefined): boolean {
    if (typeof version !== 'number') {
      // A server without presence versions: the latest answer is the truth.
      this.version = undefined;
      this.ahead.clear();
    } else {
      // The first answer on a connection is taken even if older: the counter
      // may have started again (Redis lost its data) while we were away.
      if (!this.awaiting && this.version !== undefined && version < this.version) return false;
      this.version = version;
      for (const v of this.ahead.keys()) if (v <= version) this.ahead.delete(v);
    }
    this.awaiting = false;
    this.base = new Map(members.map((u) => [u.id, u]));
    this.settle();
    return true;
  }

  /** Takes a presence event; answers false if it told nothing new (older than what is held, or a repeat). */
  offer(event: PresenceEvent): boolean {
    const v = event.version;
    if (typeof v !== 'number' || (this.version === undefined && !this.awaiting)) {
      // Nothing to order by: applied as it comes.
      apply(this.base, event);
    } else {
      if ((this.version !== undefined && v <= this.version) || this.ahead.has(v) || this.ahead.size >= MAX_AHEAD) return false;
      this.ahead.set(v, event);
    }
    this.settle();
    return true;
  }

  /** The connection dropped: events were missed, and the next join answer is taken as it is. */
  reset(): void {
    this.awaiting = true;
  }

  /** Folds the events that continue the version into `base`, then shows `base` with the rest applied in order. */
  private settle(): void {
    if (this.version !== undefined) {
      for (let next = this.ahead.get(this.version + 1); next; next = this.ahead.get(this.version + 1)) {
        this.ahead.delete(next.version);
        this.version = next.version;
        apply(this.base, next);
      }
    }
    const view = new Map(this.base);
    for (const v of [...this.ahead.keys()].sort((a, b) => a - b)) apply(view, this.ahead.get(v)!);
    this.members = [...view.values()];
  }
}

function apply(members: Map<string, User>, event: PresenceEvent): void {
  // A join puts the user last, as the newest arrival.
  members.delete(event.user.id);
  if (event.event === 'join') members.set(event.user.id, event.user);
}
