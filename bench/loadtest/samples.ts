/** Latency percentiles the tester reports, in ms. */
export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/**
 * Every latency sample of a phase, kept exactly (8 bytes each: a million
 * deliveries are 8 MB) and sorted once at the end: exact percentiles, no
 * bucket error to explain.
 */
export class Samples {
  private values = new Float64Array(1024);
  private size = 0;

  add(ms: number): void {
    if (this.size === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.size++] = ms;
  }

  get count(): number {
    return this.size;
  }

  /** The samples from index `from` on, e.g. to show the last second's p99 live. */
  since(from: number): Samples {
    const part = new Samples();
    part.values = this.values.slice(from, this.size);
    part.size = this.size - from;
    return part;
  }

  percentiles(): Percentiles {
    const sorted = this.values.slice(0, this.size).sort();
    const at = (q: number) => (sorted.length === 0 ? 0 : round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]));
    return { count: this.size, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted.length ? round(sorted[sorted.length - 1]) : 0 };
  }
}

/** Two decimals: figures are read by people. */
export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** The median of some numbers (the middle one, or the mean of the middle two). */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}
