/** The app's pure parts: names, links, timeline placement, typing text, reaction chips. */
import { checkDisplayName, checkRoomName } from '../../client/app/names';
import { reactionChips, whoReacted } from '../../client/app/reactions';
import { hashFor, roomFromHash } from '../../client/app/router';
import { dayLabel, GROUP_WINDOW_MS, placeAfter } from '../../client/app/timeline';
import { typingText } from '../../client/app/typing';

describe('room names as typed', () => {
  it('takes a valid name, with a leading # or spaces', () => {
    expect(checkRoomName('lobby')).toEqual({ ok: true, value: 'lobby' });
    expect(checkRoomName('  #dev-ops_2 ')).toEqual({ ok: true, value: 'dev-ops_2' });
    expect(checkRoomName('a'.repeat(64))).toEqual({ ok: true, value: 'a'.repeat(64) });
  });

  it('refuses the others with the rule, and a suggestion where one exists', () => {
    for (const bad of ['', 'Lobby', 'two words', '-x', '_x', 'a'.repeat(65), 'café', '<b>']) {
      const checked = checkRoomName(bad);
      expect(checked.ok).toBe(false);
      if (!checked.ok) expect(checked.error).toContain('lowercase letters, digits, "-" and "_", starting with a letter or a digit');
    }
    expect(checkRoomName('Lobby')).toMatchObject({ error: expect.stringContaining('try "lobby"') });
  });
});

describe('display names', () => {
  it('trims, and refuses blank, long and control-character names', () => {
    expect(checkDisplayName('  Ada ')).toEqual({ ok: true, value: 'Ada' });
    expect(checkDisplayName('😀'.repeat(32))).toEqual({ ok: true, value: '😀'.repeat(32) });
    for (const bad of ['   ', 'x'.repeat(33), 'a\u0007b', 'a\u0085b']) expect(checkDisplayName(bad).ok).toBe(false);
  });
});

describe('room links', () => {
  it('reads and writes #/room/NAME', () => {
    expect(roomFromHash('#/room/lobby')).toBe('lobby');
    expect(roomFromHash(hashFor('a b'))).toBe('a b');
    expect(roomFromHash('#/room/%E0%A4%A')).toBeUndefined();
    expect(roomFromHash('#/room/')).toBeUndefined();
    expect(roomFromHash('#/other')).toBeUndefined();
    expect(roomFromHash('')).toBeUndefined();
    expect(hashFor(undefined)).toBe('#/');
  });
});

describe('timeline placement', () => {
  const now = new Date(2025, 2, 12, 15, 0);
  const at = (day: number, h: number, m = 0) => new Date(2025, 2, day, h, m).getTime();

  it('groups one author’s messages within a few minutes, on one day', () => {
    const first = { userId: 'ada', ts: at(12, 14, 0) };
    expect(placeAfter({ userId: 'ada', ts: first.ts + 60_000 }, first, now)).toEqual({ grouped: true });
    expect(placeAfter({ userId: 'bo', ts: first.ts + 60_000 }, first, now)).toEqual({ grouped: false });
    expect(placeAfter({ userId: 'ada', ts: first.ts + GROUP_WINDOW_MS }, first, now)).toEqual({ grouped: false });
    // A notice between them breaks the group.
    expect(placeAfter({ userId: 'ada', ts: first.ts + 60_000 }, first, now, true)).toEqual({ grouped: false });
  });

  it('puts a separator before each day, and none before a first message of today', () => {
    expect(placeAfter({ userId: 'a', ts: at(12, 9) }, undefined, now)).toEqual({ grouped: false });
    expect(placeAfter({ userId: 'a', ts: at(10, 9) }, undefined, now)).toEqual({ day: dayLabel(at(10, 9), now), grouped: false });
    expect(placeAfter({ userId: 'a', ts: at(12, 0, 1) }, { userId: 'a', ts: at(11, 23, 59) }, now)).toEqual({ day: 'Today', grouped: false });
    expect(dayLabel(at(11, 8), now)).toBe('Yesterday');
    expect(dayLabel(at(10, 8), now)).not.toMatch(/Today|Yesterday|2025/);
    expect(dayLabel(new Date(2024, 11, 31).getTime(), now)).toMatch(/2024/);
  });
});

describe('typing text', () => {
  it('names one, two or three people, then says several', () => {
    expect(typingText([])).toBe('');
    expect(typingText(['Ada'])).toBe('Ada is typing…');
    expect(typingText(['Ada', 'Bo'])).toBe('Ada and Bo are typing…');
    expect(typingText(['Ada', 'Bo', 'Cy'])).toBe('Ada, Bo and Cy are typing…');
    expect(typingText(['Ada', 'Bo', 'Cy', 'Di'])).toBe('Several people are typing…');
  });
});

describe('reaction chips', () => {
  const names: Record<string, string> = { u1: 'Ada', u2: 'Bo', u3: 'Cy' };
  const nameOf = (id: string) => names[id] ?? id;
  const self = { id: 'u2', name: 'Bo' };

  it('names who gave each reaction in the order they gave it, this user as You, and says which are ours', () => {
    const chips = reactionChips({ '👍': ['u1', 'u2'], '🎉': ['u3'], '🙈': ['stranger'] }, [], self, nameOf);
    expect(chips).toEqual([
      { reaction: '👍', names: ['Ada', 'You'], mine: true },
      { reaction: '🎉', names: ['Cy'], mine: false },
      { reaction: '🙈', names: ['stranger'], mine: false },
    ]);
  });

  it('keeps the chips in the order first shown, new ones after, and drops emptied ones', () => {
    // The server may list them in another order after a change.
    const chips = reactionChips({ '🎉': ['u3'], '❤️': ['u1'], '👍': ['u1'], '😮': [] }, ['👍', '😂', '🎉'], self, nameOf);
    expect(chips.map((c) => c.reaction)).toEqual(['👍', '🎉', '❤️']);
    expect(reactionChips({}, ['👍'], undefined, nameOf)).toEqual([]);
  });

  it('says who reacted in words, counting the rest past a dozen', () => {
    expect(whoReacted(['You'])).toBe('You');
    expect(whoReacted(['Ada', 'You'])).toBe('Ada and You');
    expect(whoReacted(['Ada', 'Bo', 'Cy'])).toBe('Ada, Bo and Cy');
    const many = Array.from({ length: 14 }, (_, i) => `p${i}`);
    expect(whoReacted(many)).toBe(`${many.slice(0, 12).join(', ')} and 2 others`);
    expect(whoReacted([...many.slice(0, 13)])).toBe(`${many.slice(0, 12).join(', ')} and 1 other`);
  });
});
