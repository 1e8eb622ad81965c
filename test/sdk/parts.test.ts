import { CLIENT_ID_PATTERN } from '../../protocol';
import { backoffDelay } from '../../common/backoff';
import { randomId } from '../../client/sdk/ids';
import { RoomPresence } from '../../client/sdk/presence';
import { RoomState, type Handover } from '../../client/sdk/room';
import type { Message, PresenceEvent } from '../../protocol';

const presence = (event: 'join' | 'leave', id: string, version: number): PresenceEvent => ({
  room: 'lobby',
  event,
  user: { id, name: id },
  members: 0,
  version,
});
const memberIds = (p: RoomPresence) => p.members.map((u) => u.id);
/** Message `seq` in its state at `rev` (its first rev by default: seq and rev alike, as in a room with no changes). */
const message = (seq: number, rev = seq): Message => ({
  id: `m${seq}`,
  room: 'lobby',
  seq,
  rev,
  clientId: `c${seq}`,
  user: { id: 'ada', name: 'ada' },
  text: `${seq}`,
  ts: 0,
  reactions: {},
});
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
/** A handover as `m<seq>@<rev>` (message), `u<seq>@<rev>` (update), or `from-to` (skipped). */
const told = (handovers: Handover[]) =>
  handovers.map((h) => (h.kind === 'skipped' ? `${h.skipped.from}-${h.skipped.to}` : `${h.kind === 'message' ? 'm' : 'u'}${h.message.seq}@${h.message.rev}`));

describe('SDK parts', () => {
  it('makes clientIds the server accepts, different every time', () => {
    const ids = Array.from({ length: 1000 }, () => randomId());
    for (const id of ids) expect(id).toMatch(CLIENT_ID_PATTERN);
    expect(new Set(ids).size).toBe(ids.length);
    expect(randomId(64)).toMatch(CLIENT_ID_PATTERN);
  });

  it('backs off exponentially up to a cap, with jitter that never retries at once', () => {
    const options = { baseMs: 100, maxMs: 1000 };
    expect([1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n, options, () => 0))).toEqual([50, 100, 200, 400, 500, 500]);
    expect([1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n, options, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('hands changes over in rev order: early ones held until their turn, repeats dropped, a new message as message and a change as update', () => {
    const state = new RoomState('lobby');
    expect(told(state.begin([message(1), message(2)], false, 2, 2))).toEqual(['m1@1', 'm2@2']);
    // 2 changed at rev 4 before 3 (a new message) came: held.
    expect(state.offer(message(2, 4))).toEqual([]);
    expect(state.hasGap).toBe(true);
    expect(told(state.offer(message(3, 3)))).toEqual(['m3@3', 'u2@4']);
    expect(state.hasGap).toBe(false);
    // Repeats (a broadcast and an answer, or two instances) tell nothing.
    expect(state.offer(message(3, 3))).toEqual([]);
    expect(state.offer(message(2, 4))).toEqual([]);
    expect(told(state.offer(message(1, 5)))).toEqual(['u1@5']);
    expect([state.lastSeq, state.lastRev]).toEqual([3, 5]);
  });

  it('starts at the join answer’s rev, and counts states of its page newer than that rev as handed over', () => {
    const state = new RoomState('lobby');
    // Came live before the join answer, and is on its page too.
    expect(state.offer(message(3, 5))).toEqual([]);
    // The rev was read (3) before the page, which shows 2 changed at 4 and 3 written at 5.
    expect(told(state.begin([message(1, 3), message(2, 4), message(3, 5)], true, 3, 3))).toEqual(['m1@3', 'm2@4', 'm3@5']);
    expect(state.offer(message(2, 4))).toEqual([]);
    expect(told(state.offer(message(1, 6)))).toEqual(['u1@6']);
    expect([state.lastSeq, state.lastRev, state.oldestSeq, state.hasOlder]).toEqual([3, 6, 1, true]);
    expect(state.hasGap).toBe(false);
  });

  it('catches up with new messages in seq order first, in their latest state, then the changes of older ones in rev order', () => {
    const state = new RoomState('lobby');
    state.begin([message(1), message(2), message(3)], false, 3, 3);
    // Meanwhile: 4 and 5 written (revs 4, 5), 2 reacted to (6), 1 edited (7), 4 edited (8), 6 written (9); 7 came live (10).
    expect(state.offer(message(7, 10))).toEqual([]);
    const changes = [message(5, 5), message(2, 6), message(1, 7), message(4, 8), message(6, 9)];
    expect(told(state.catchUp(changes, 9))).toEqual(['m4@8', 'm5@5', 'm6@9', 'u2@6', 'u1@7', 'm7@10']);
    expect([state.lastSeq, state.lastRev]).toEqual([7, 10]);
    // A catch-up with nothing new tells nothing.
    expect(state.catchUp([], 10)).toEqual([]);
  });

  it('merges the pages of a catch-up by message, and skips what was handed over live while they were read', () => {
    const state = new RoomState('lobby');
    state.begin([message(1)], false, 1, 1);
    // 2 changed between the reads of two pages: it is on both, the second time newer.
    expect(told(state.catchUp([message(2, 2), message(1, 3), message(3, 4), message(2, 5)], 5))).toEqual(['m2@5', 'm3@4', 'u1@3']);

    const live = new RoomState('lobby');
    live.begin([message(1)], false, 1, 1);
    // Rev 2 came live and was handed over while the pages were on their way.
    expect(told(live.offer(message(2, 2)))).toEqual(['m2@2']);
    expect(told(live.catchUp([message(2, 2), message(1, 3)], 3))).toEqual(['u1@3']);
  });

  it('skips seqs trimmed from history once each, handing over the early messages it holds among them in their place', () => {
    const state = new RoomState('lobby');
    expect(state.begin([], false, 10, 10)).toEqual([]);
    // 15 and 40 came live, early; then the changes after 10 start at 30: 11..29 are no longer kept.
    expect(state.offer(message(15))).toEqual([]);
    expect(state.offer(message(40))).toEqual([]);
    expect(told(state.catchUp([message(30), message(31)], 31))).toEqual(['11-14', 'm15@15', '16-29', 'm30@30', 'm31@31']);
    expect(state.hasGap).toBe(true);
    // A catch-up that continues the sequence skips nothing; 40 follows it.
    expect(told(state.catchUp(range(32, 39).map((seq) => message(seq)), 39))).toEqual([...range(32, 40).map((n) => `m${n}@${n}`)]);
    expect(state.hasGap).toBe(false);
    // Repeats and an empty answer tell nothing.
    expect(state.catchUp([message(39), message(40)], 40)).toEqual([]);
    expect(state.catchUp([], 40)).toEqual([]);
    expect([state.lastSeq, state.lastRev]).toEqual([40, 40]);
  });

  it('keeps a member list in version order, whatever order events and answers come in', () => {
    const p = new RoomPresence();
    // An event may come before the join answer: it waits for it.
    expect(p.offer(presence('join', 'bob', 6))).toBe(true);
    expect(p.take([{ id: 'alice', name: 'alice' }], 5)).toBe(true);
    expect(memberIds(p)).toEqual(['alice', 'bob']);
    expect(p.hasGap).toBe(false);

    // 8 before 7: shown at once, with a gap until 7 comes, then applied in order.
    expect(p.offer(presence('join', 'carol', 8))).toBe(true);
    expect(memberIds(p)).toEqual(['alice', 'bob', 'carol']);
    expect(p.hasGap).toBe(true);
    expect(p.offer(presence('leave', 'carol', 7))).toBe(true);
    expect(memberIds(p)).toEqual(['alice', 'bob', 'carol']);
    expect(p.hasGap).toBe(false);

    // Older than held, or a repeat: nothing.
    expect(p.offer(presence('leave', 'bob', 6))).toBe(false);
    expect(p.offer(presence('leave', 'carol', 8))).toBe(false);
    expect(memberIds(p)).toEqual(['alice', 'bob', 'carol']);

    // 10 without 9: an answer at 9 fills the gap and keeps 10; an older one is not taken.
    p.offer(presence('leave', 'alice', 10));
    expect(p.hasGap).toBe(true);
    expect(p.take([{ id: 'alice', name: 'alice' }], 7)).toBe(false);
    expect(p.take([{ id: 'alice', name: 'alice' }, { id: 'dave', name: 'dave' }], 9)).toBe(true);
    expect(memberIds(p)).toEqual(['dave']);
    expect(p.hasGap).toBe(false);

    // After a reconnect the next answer is taken as it is, even if its version is lower (a counter that started over).
    p.reset();
    expect(p.take([{ id: 'erin', name: 'erin' }], 2)).toBe(true);
    expect(memberIds(p)).toEqual(['erin']);
    expect(p.offer(presence('join', 'frank', 3))).toBe(true);
    expect(memberIds(p)).toEqual(['erin', 'frank']);
  });

  it('applies events in arrival order when the server sends no versions', () => {
    const p = new RoomPresence();
    expect(p.take([{ id: 'alice', name: 'alice' }], undefined)).toBe(true);
    const { version: _, ...unversioned } = presence('join', 'bob', 0);
    expect(p.offer(unversioned as PresenceEvent)).toBe(true);
    expect(p.offer({ ...unversioned, event: 'leave' } as PresenceEvent)).toBe(true);
    expect(memberIds(p)).toEqual(['alice']);
    expect(p.hasGap).toBe(false);
  });
});
