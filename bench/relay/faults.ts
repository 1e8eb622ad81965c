/**
 * The relay's fault switch: drops or repeats a known share of broadcasts, so
 * that the load tester's counting can be checked against exact numbers.
 * Deterministic: the Nth, 2Nth, ... broadcast of this process is dropped
 * (acknowledged `ok` but sent to nobody), and the Mth, 2Mth, ... one that was
 * not dropped is sent twice.
 */
export interface FaultSwitch {
  /** Every `dropEvery`-th broadcast is dropped; 0 = none. */
  readonly dropEvery: number;
  /** Every `repeatEvery`-th broadcast (unless dropped) is sent twice; 0 = none. */
  readonly repeatEvery: number;
  /** How many times the next broadcast goes out: 0 (dropped), 1, or 2 (repeated). */
  next(): 0 | 1 | 2;
}

export function faultSwitch(dropEvery = 0, repeatEvery = 0): FaultSwitch {
  let count = 0;
  return {
    dropEvery,
    repeatEvery,
    next() {
      count++;
      if (dropEvery > 0 && count % dropEvery === 0) return 0;
      if (repeatEvery > 0 && count % repeatEvery === 0) return 2;
      return 1;
    },
  };
}

/** What a fault switch does to broadcasts 1..`count` of one process: how many were dropped and how many repeated. */
export function faultsIn(count: number, dropEvery: number, repeatEvery: number): { dropped: number; repeated: number } {
  const dropped = dropEvery > 0 ? Math.floor(count / dropEvery) : 0;
  let repeated = repeatEvery > 0 ? Math.floor(count / repeatEvery) : 0;
  // Broadcasts both dropped and due for a repeat are only dropped.
  if (dropEvery > 0 && repeatEvery > 0) repeated -= Math.floor(count / lcm(dropEvery, repeatEvery));
  return { dropped, repeated };
}

function lcm(a: number, b: number): number {
  const gcd = (x: number, y: number): number => (y === 0 ? x : gcd(y, x % y));
  return (a / gcd(a, b)) * b;
}
