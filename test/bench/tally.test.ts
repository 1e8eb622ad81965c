/**
 * The load tester's counting on its own, fed the frames a server would send:
 * per receiver and sender it tells loss, repeats and order apart, and counts
 * only what belongs to the phase and the room.
 */
import { Tally } from '../../bench/loadtest/tally';
import { faultsIn } from '../../bench/relay/faults';

/** A `message` frame as Parley sends it, carrying `clientId`. */
const frame = (clientId: string, room = 'r0') =>
  `42["message",{"id":"x","room":"${room}","seq":1,"clientId":"${clientId}","user":{"id":"u","name":"u"},"text":"load","ts":1}]`;

describe('Tally', () => {
  // Clients 0, 1, 2 in room 0; client 3 in room 1. Sender 0 is client 0 (room 0), sender 1 is client 3 (room 1).
  const roomOf = [0, 0, 0, 1];
  const members = [3, 1];

  it('expects acked sends times the members, the sender included, and finds nothing missing when all came once', () => {
    const tally = new Tally(roomOf, members, [0, 1]);
    const ids = [tally.nextSend(0, 0), tally.nextSend(0, 0), tally.nextSend(1, 0)];
    tally.answered(tally.currentPhase, 0, ids[0], { ok: true });
    tally.answered(tally.currentPhase, 0, ids[1], { ok: true });
    tally.answered(tally.currentPhase, 1, ids[2], { ok: true });
    for (const receiver of [0, 1, 2]) for (const id of ids.slice(0, 2)) tally.delivered(receiver, frame(id));
    tally.delivered(3, frame(ids[2], 'r1'));
    const c = tally.finish();
    expect(c).toMatchObject({ sent: 3, acked: 3, expected: 7, received: 7, lost: 0, repeated: 0, outOfOrder: 0, foreign: 0 });
    expect(c.deliveryMs.count).toBe(7);
  });

  it('counts exactly the deliveries missing, repeated and out of order, per receiver and sender', () => {
    const tally = new Tally(roomOf, members, [0, 1]);
    const ids = [1, 2, 3, 4].map(() => tally.nextSend(0, 0));
    for (const id of ids) tally.answered(tally.currentPhase, 0, id, { ok: true });
    // Receiver 0: all four, the third twice. Receiver 1: 2 then 1 (out of order), 4; 3 missing. Receiver 2: nothing.
    for (const id of ids) tally.delivered(0, frame(id));
    tally.delivered(0, frame(ids[2]));
    tally.delivered(1, frame(ids[1]));
    tally.delivered(1, frame(ids[0]));
    tally.delivered(1, frame(ids[3]));
    const c = tally.finish();
    expect(c).toMatchObject({ expected: 12, received: 7, lost: 5, repeated: 1, outOfOrder: 1 });
  });

  it('does not expect deliveries of refused sends, and counts those the server delivered anyway', () => {
    const tally = new Tally(roomOf, members, [0, 1]);
    const ok = tally.nextSend(0, 0);
    const refused = tally.nextSend(0, 0);
    tally.answered(tally.currentPhase, 0, ok, { ok: true });
    tally.answered(tally.currentPhase, 0, refused, { ok: false, error: { code: 'not_joined' } });
    for (const receiver of [0, 1, 2]) {
      tally.delivered(receiver, frame(ok));
      tally.delivered(receiver, frame(refused));
    }
    const c = tally.finish();
    expect(c).toMatchObject({ acked: 1, refused: { not_joined: 1 }, expected: 3, received: 3, lost: 0, unacked: 3 });
  });

  it('ignores deliveries of an earlier phase and untagged ones, and flags a delivery outside the room', () => {
    const tally = new Tally(roomOf, members, [0, 1]);
    const old = tally.nextSend(0, 0);
    tally.answered(tally.currentPhase, 0, old, { ok: true });
    tally.startPhase();
    const current = tally.nextSend(0, 0);
    // A late answer to the old phase's send changes nothing now.
    tally.answered(tally.currentPhase - 1, 0, old, { ok: true });
    tally.answered(tally.currentPhase, 0, current, { ok: true });
    tally.delivered(0, frame(old));
    tally.delivered(0, frame('someone-else'));
    tally.delivered(3, frame(current));
    for (const receiver of [0, 1, 2]) tally.delivered(receiver, frame(current));
    const c = tally.finish();
    expect(c).toMatchObject({ sent: 1, acked: 1, expected: 3, received: 3, lost: 0, foreign: 2, misdelivered: 1 });
  });

  it('leaves sends with no answer pending, to be counted unanswered', () => {
    const tally = new Tally(roomOf, members, [0, 1]);
    tally.nextSend(0, 0);
    tally.answered(tally.currentPhase, 0, tally.nextSend(0, 0), { ok: true });
    expect(tally.pending()).toBe(1);
    expect(tally.finish().expected).toBe(3);
  });
});

describe('the relay fault switch arithmetic', () => {
  it('drops every Nth broadcast and repeats every Mth one not dropped', () => {
    expect(faultsIn(30, 7, 5)).toEqual({ dropped: 4, repeated: 6 });
    // 35 is both: dropped only.
    expect(faultsIn(70, 7, 5)).toEqual({ dropped: 10, repeated: 12 });
    expect(faultsIn(10, 0, 0)).toEqual({ dropped: 0, repeated: 0 });
  });
});
