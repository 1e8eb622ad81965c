import type { TypingEvent } from '../sdk';

/** How long a "typing" lasts without news: a user who closed the tab never says stop. */
export const TYPING_TTL_MS = 6000;

/** "Ada is typing…", "Ada and Bo are typing…", "Ada, Bo and Cy are typing…", then "Several people are typing…". */
export function typingText(names: string[]): string {
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length <= 3) return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} are typing…`;
  return 'Several people are typing…';
}

/** Who is typing in one room, in the order they started; each entry expires on its own. */
export class TypingTracker {
  private readonly typers = new Map<string, { name: string; timer: ReturnType<typeof setTimeout> }>();

  constructor(
    private readonly onChange: () => void,
    private readonly ttlMs = TYPING_TTL_MS,
  ) {}

  /** Takes a `typing` event. */
  take(event: TypingEvent): void {
    const known = this.typers.get(event.user.id);
    if (known) clearTimeout(known.timer);
    if (!event.typing) {
      if (known) this.forget(event.user.id);
      return;
    }
    const timer = setTimeout(() => this.forget(event.user.id), this.ttlMs);
    // A refresh keeps its place in the order.
    this.typers.set(event.user.id, { name: event.user.name, timer });
    if (!known) this.onChange();
  }

  /** A user stopped: they sent their message, or left. */
  forget(userId: string): void {
    const known = this.typers.get(userId);
    if (!known) return;
    clearTimeout(known.timer);
    this.typers.delete(userId);
    this.onChange();
  }

  /** The names of those typing now. */
  names(): string[] {
    return [...this.typers.values()].map((t) => t.name);
  }

  /** Stops every timer. */
  dispose(): void {
    for (const { timer } of this.typers.values()) clearTimeout(timer);
    this.typers.clear();
  }
}
