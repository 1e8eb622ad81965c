/**
 * A small typed event emitter that runs in browsers and in Node alike (no
 * `events` import). A listener that throws does not stop the others, nor the
 * SDK's own bookkeeping: the error is reported and the next listener runs.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type EventMap = { [event: string]: (...args: any[]) => void };

export class Emitter<Events extends EventMap> {
  private readonly listeners = new Map<keyof Events, Set<Events[keyof Events]>>();

  /** Calls `listener` on every `event` until `off`. */
  on<E extends keyof Events>(event: E, listener: Events[E]): this {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return this;
  }

  /** Calls `listener` on the next `event` only. */
  once<E extends keyof Events>(event: E, listener: Events[E]): this {
    const wrapper = ((...args: Parameters<Events[E]>) => {
      this.off(event, wrapper);
      listener(...args);
    }) as Events[E];
    return this.on(event, wrapper);
  }

  /** Removes a listener added with `on` (not one added with `once`). */
  off<E extends keyof Events>(event: E, listener: Events[E]): this {
    this.listeners.get(event)?.delete(listener);
    return this;
  }

  protected emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (err) {
        report(err);
      }
    }
  }
}

/** Surfaces an application listener's error without breaking the caller's loop. */
function report(err: unknown): void {
  const g = globalThis as { reportError?: (e: unknown) => void };
  if (typeof g.reportError === 'function') g.reportError(err);
  else console.error(err);
}
