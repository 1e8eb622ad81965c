/**
 * Reactions as the app shows them: the picker's short list, the chips of a
 * message in a stable order, and who gave one, in words. Pure: the views
 * ask, nothing here touches the page.
 */
import type { Reactions, User } from '../sdk';

/** What the picker offers. */
export const PICKER_REACTIONS: readonly string[] = ['👍', '❤️', '😂', '🎉', '😮', '🙏'];

/** Names listed in full on a chip's tooltip; the rest are counted. */
const NAMES_LISTED = 12;

/** One reaction of a message as a chip shows it. */
export interface ReactionChip {
  reaction: string;
  /** The names of those who gave it, in the order they gave it ("You" for this user). */
  names: string[];
  /** Whether this user gave it (a click takes it back). */
  mine: boolean;
}

/**
 * The chips of a message's reactions. The server does not promise an order
 * between reactions, so chips keep the order they were first shown in
 * (`shown`, the reactions of the message's previous chips), and new ones
 * follow in the order they come.
 */
export function reactionChips(reactions: Reactions, shown: readonly string[], self: User | undefined, nameOf: (id: string) => string): ReactionChip[] {
  const given = Object.keys(reactions).filter((r) => Array.isArray(reactions[r]) && reactions[r].length > 0);
  const order = [...shown.filter((r) => given.includes(r)), ...given.filter((r) => !shown.includes(r))];
  return order.map((reaction) => {
    const ids = reactions[reaction];
    return { reaction, names: ids.map((id) => (id === self?.id ? 'You' : nameOf(id))), mine: self !== undefined && ids.includes(self.id) };
  });
}

/** "You", "Ada and Bo", "Ada, Bo and Cy", and past a dozen "…, and 8 others". */
export function whoReacted(names: readonly string[]): string {
  if (names.length <= 1) return names[0] ?? '';
  if (names.length > NAMES_LISTED) {
    const rest = names.length - NAMES_LISTED;
    return `${names.slice(0, NAMES_LISTED).join(', ')} and ${rest} ${rest === 1 ? 'other' : 'others'}`;
  }
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}
