/**
 * Cleanup registered by whatever made a resource: each factory calls
 * `defer(close)` and every test's resources are closed after it, last made
 * first, whether it passed or not (see setup.ts).
 */
const stack: Array<() => unknown> = [];

export function defer(fn: () => unknown): void {
  stack.push(fn);
}

export async function runDeferred(): Promise<void> {
  const errors: unknown[] = [];
  while (stack.length > 0) {
    const fn = stack.pop()!;
    try {
      await fn();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length > 0) throw errors[0];
}
