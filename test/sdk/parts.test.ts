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
const message = (seq: number): Message => ({ id: `m${seq}`, room: 'lobby', seq, clientId: `c${seq}`, user: { id: 'ada', name: 'ada' }, text: `${seq}`, ts: 0, rev: seq, reactions: {} });
/** A handover as a seq, or `from-to` for a skip. */
const told = (handovers: Handover[]) => handovers.map((h) => (h.kind === 'message' ? h.message.seq : `${h.skipped.from}-${h.skipped.to}`));

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

  it('skips seqs trimmed from history once each, handing over the early messages it holds among them in their place', () => {
    const state = new RoomState('lobby');
    expect(state.begin([], false, 10)).toEqual([]);
    // 15 and 40 came live, early; then a read after 10 starts at 30: 11..29 are no longer kept.
    expect(state.offer(message(15))).toEqual([]);
    expect(state.offer(message(40))).toEqual([]);
    expect(told(state.offerPage([message(30), message(31)]))).toEqual(['11-14', 15, '16-29', 30, 31]);
    expect(state.hasGap).toBe(true);
    // A page that continues the sequence skips nothing; 40 follows it.
    expect(told(state.offerPage(Array.from({ length: 8 }, (_, i) => message(32 + i))))).toEqual([32, 33, 34, 35, 36, 37, 38, 39, 40]);
    expect(state.hasGap).toBe(false);
    // Repeats and an empty page tell nothing.
    expect(state.offerPage([message(39), message(40)])).toEqual([]);
    expect(state.offerPage([])).toEqual([]);
    expect(state.lastSeq).toBe(40);
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
