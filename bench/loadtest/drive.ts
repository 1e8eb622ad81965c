/**
 * One phase of traffic: the senders take turns at a steady total rate for a
 * number of seconds (open loop: a send never waits for the previous answer,
 * so a slow server shows as latency, not as a lower rate), then the phase
 * waits for the last answers and deliveries and counts.
 */
import { performance } from 'node:perf_hooks';
import type { WireSocket } from '../wire';
import type { Progress } from './progress';
import { round, type Percentiles } from './samples';
import type { Counts, Tally } from './tally';

/** A sender: its socket, and its room's name. */
export interface SenderSocket {
  socket: WireSocket;
  room: string;
}

/** What a phase measured: the tally's counts (see `Counts`), its rates and its latency percentiles. */
export type PhaseFigures = Omit<Counts, 'foreign' | 'ackMs' | 'deliveryMs' | 'lastDeliveryAt'> & {
  /** Messages per second offered. */
  rate: number;
  /** Seconds of sending. */
  seconds: number;
  /** Acked sends per second of sending. */
  sendsPerSec: number;
  /** Deliveries (of acked sends, once each) per second, from the first send to the last delivery. */
  deliveriesPerSec: number;
  /** Send to each member's delivery, timed in the generator. */
  deliveryMs: Percentiles;
  /** Send to its answer. */
  ackMs: Percentiles;
};

export interface DriveOptions {
  rate: number;
  seconds: number;
  ackTimeoutMs: number;
  /** Name of the stage on the progress display. */
  label: string;
}

/** Quiet time after which deliveries still missing are taken as lost (all answers in). */
const SETTLE_MS = 1000;

export async function drive(senders: SenderSocket[], tally: Tally, options: DriveOptions, progress: Progress): Promise<PhaseFigures> {
  const { rate, seconds, ackTimeoutMs } = options;
  tally.startPhase();
  const phase = tally.currentPhase;
  const windowMs = seconds * 1000;
  let sent = 0;
  let turn = 0;
  const send = () => {
    const index = turn++ % senders.length;
    const { socket, room } = senders[index];
    const clientId = tally.nextSend(index, performance.now());
    socket
      .emit('message:send', { room, text: `load ${clientId}`, clientId })
      .then((answer) => tally.answered(phase, index, clientId, answer));
  };

  progress.stage(options.label, Math.ceil(seconds));
  const t0 = performance.now();
  let lastShown = t0;
  let shownDeliveries = 0;
  await new Promise<void>((resolve) => {
    // Sends due by now: rate x elapsed, so timer jitter never changes the total.
    const timer = setInterval(() => {
      const now = performance.now();
      const elapsed = Math.min(now - t0, windowMs);
      const due = Math.floor((elapsed / 1000) * rate) - sent;
      for (let i = 0; i < due; i++) send();
      sent += Math.max(0, due);
      if (now - lastShown >= 1000) {
        const deliveries = tally.uniqueDeliveries();
        const perSec = Math.round(((deliveries - shownDeliveries) * 1000) / (now - lastShown));
        progress.update(Math.floor(elapsed / 1000), `${sent} sent, ${perSec} deliveries/s`);
        lastShown = now;
        shownDeliveries = deliveries;
      }
      if (now - t0 >= windowMs) {
        clearInterval(timer);
        resolve();
      }
    }, 2);
  });

  // The last answers and deliveries: until everything expected came, or
  // nothing came for a while with every answer in, or the ack timeout.
  const sendEnd = performance.now();
  let lastCount = -1;
  let quietSince = sendEnd;
  for (;;) {
    const now = performance.now();
    const count = tally.uniqueDeliveries();
    if (count !== lastCount) {
      lastCount = count;
      quietSince = now;
    }
    const pending = tally.pending();
    if (pending === 0 && count >= tally.expected()) break;
    if (pending === 0 && now - quietSince >= SETTLE_MS) break;
    if (now - sendEnd >= ackTimeoutMs + SETTLE_MS) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const counts: Counts = tally.finish();
  counts.unanswered = tally.pending();
  const activeMs = Math.max(windowMs, counts.lastDeliveryAt - t0);
  const figures: PhaseFigures = {
    rate,
    seconds,
    sent: counts.sent,
    acked: counts.acked,
    refused: { ...counts.refused },
    unanswered: counts.unanswered,
    expected: counts.expected,
    received: counts.received,
    lost: counts.lost,
    repeated: counts.repeated,
    outOfOrder: counts.outOfOrder,
    unacked: counts.unacked,
    misdelivered: counts.misdelivered,
    sendsPerSec: round(counts.acked / seconds),
    deliveriesPerSec: round(counts.received / (activeMs / 1000)),
    deliveryMs: counts.deliveryMs.percentiles(),
    ackMs: counts.ackMs.percentiles(),
  };
  progress.done(
    `${figures.deliveriesPerSec} deliveries/s, p99 ${figures.deliveryMs.p99} ms, ` +
      `lost ${figures.lost}, repeated ${figures.repeated}, refused ${Object.values(figures.refused).reduce((a, b) => a + b, 0)}, unanswered ${figures.unanswered}`,
  );
  return figures;
}
