/**
 * `--find-max`: the highest rate the target sustains. A rate is sustained
 * when nothing is lost, refused or left unanswered and the p99 delivery
 * latency stays within the limit. The rate grows by half each step while it
 * holds; after the first failure the search halves the gap between the
 * highest rate that held and the lowest that did not, until they are within
 * 10% of each other or the steps run out.
 */
import type { PhaseFigures } from './drive';

export interface Step {
  rate: number;
  deliveriesPerSec: number;
  p99Ms: number;
  lost: number;
  sustained: boolean;
  /** Why it was not sustained. */
  why?: string;
}

export interface SearchResult {
  /** The measurements of the highest sustained rate (undefined: none held). */
  best?: PhaseFigures;
  steps: Step[];
  p99LimitMs: number;
  /** No step failed: the highest sustainable rate is above the last one tried (raise --max-steps or --rate). */
  belowLimit: boolean;
}

/** Why a phase does not count as sustained (undefined: it does). */
export function unsustained(phase: PhaseFigures, p99LimitMs: number): string | undefined {
  const refused = Object.values(phase.refused).reduce((a, b) => a + b, 0);
  if (phase.lost > 0) return `${phase.lost} lost`;
  if (refused > 0) return `${refused} refused`;
  if (phase.unanswered > 0) return `${phase.unanswered} unanswered`;
  if (phase.deliveryMs.p99 > p99LimitMs) return `p99 ${phase.deliveryMs.p99} ms > ${p99LimitMs} ms`;
  return undefined;
}

export async function findMax(
  measure: (rate: number, step: number) => Promise<PhaseFigures>,
  { startRate, p99LimitMs, maxSteps }: { startRate: number; p99LimitMs: number; maxSteps: number },
): Promise<SearchResult> {
  const steps: Step[] = [];
  let best: PhaseFigures | undefined;
  let held = 0;
  let failed = Infinity;
  let rate = startRate;
  for (let i = 1; i <= maxSteps; i++) {
    const phase = await measure(rate, i);
    const why = unsustained(phase, p99LimitMs);
    steps.push({ rate, deliveriesPerSec: phase.deliveriesPerSec, p99Ms: phase.deliveryMs.p99, lost: phase.lost, sustained: !why, why });
    if (!why) {
      held = rate;
      if (!best || phase.deliveriesPerSec > best.deliveriesPerSec) best = phase;
    } else {
      failed = Math.min(failed, rate);
    }
    if (failed !== Infinity && held > 0 && (failed - held) / held <= 0.1) break;
    rate = failed === Infinity ? rate * 1.5 : held > 0 ? (held + failed) / 2 : rate / 2;
    rate = Math.max(1, Math.round(rate));
    if (steps.some((s) => s.rate === rate)) break;
  }
  return { best, steps, p99LimitMs, belowLimit: failed === Infinity };
}
