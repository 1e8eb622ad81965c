/**
 * Where a message sits in a room's timeline: whether a day separator comes
 * before it, and whether it continues the previous message's group (same
 * author, same day, a few minutes apart). Pure: the views ask, nothing here
 * touches the page.
 */

/** Messages of one author closer than this are shown as one group. */
export const GROUP_WINDOW_MS = 5 * 60_000;

export interface Placement {
  /** The day separator's label, when one comes before the message. */
  day?: string;
  /** Shown under the previous message, without the author again. */
  grouped: boolean;
}

/** What placing a message needs to know of the one before it. */
export interface Previous {
  userId: string;
  ts: number;
}

/**
 * The placement of a message after `previous` (undefined: the first one
 * shown). The first message gets a separator only if it is older than
 * today: a day of history starts with its date, today needs none until
 * something older is above it. `broken`: something stands between the two
 * (a notice of skipped messages), so no group continues across it.
 */
export function placeAfter(message: Previous, previous: Previous | undefined, now = new Date(), broken = false): Placement {
  const sameDay = previous !== undefined && dayKey(previous.ts) === dayKey(message.ts);
  const day = previous === undefined ? (isToday(message.ts, now) ? undefined : dayLabel(message.ts, now)) : sameDay ? undefined : dayLabel(message.ts, now);
  const grouped =
    !broken && sameDay && previous!.userId === message.userId && message.ts - previous!.ts >= 0 && message.ts - previous!.ts < GROUP_WINDOW_MS;
  return day === undefined ? { grouped } : { day, grouped };
}

/** `Today`, `Yesterday`, `Monday 3 March`, or with the year when it is not this one. */
export function dayLabel(ts: number, now = new Date()): string {
  const date = new Date(ts);
  if (isToday(ts, now)) return 'Today';
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (dayKey(ts) === dayKey(yesterday.getTime())) return 'Yesterday';
  return date.toLocaleDateString(undefined, {
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    ...(date.getFullYear() === now.getFullYear() ? {} : { year: 'numeric' }),
  });
}

/** `14:05` (or `2:05 PM`), in the reader's locale. */
export function clockTime(ts: number): string {
  return new Date(ts).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

/** The full date and time, for a tooltip. */
export function fullTime(ts: number): string {
  return new Date(ts).toLocaleString(undefined, { dateStyle: 'full', timeStyle: 'short' });
}

function isToday(ts: number, now: Date): boolean {
  return dayKey(ts) === dayKey(now.getTime());
}

/** The local calendar day of a time. */
function dayKey(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}
