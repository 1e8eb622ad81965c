/**
 * The rules of a change to a message (edit, deletion, reaction added or
 * removed), as one pure function, and the errors that refuse one. The
 * in-memory store applies them with this function; the Redis store's Lua
 * applies the same rules in the script that takes the rev, and reports a
 * refusal with the same errors.
 */
import { MAX_REACTIONS_GIVEN_PER_MESSAGE, MAX_REACTIONS_PER_MESSAGE, type Message, type Reactions } from '../../protocol';
import { AppError } from '../errors';
import type { ChangeInput } from './types';

/** Why a change is refused, whichever store found it. */
export type Refusal = 'not_found' | 'deleted' | 'not_author' | 'too_many_reactions' | 'too_many_givers';

/** The contract's error for a refusal. */
export function refused(refusal: Refusal, input: Pick<ChangeInput, 'room' | 'id' | 'op'>): AppError {
  switch (refusal) {
    case 'not_found':
      return new AppError('not_found', `no message ${input.id} in ${input.room}`);
    case 'deleted':
      return new AppError('not_found', `message ${input.id} was deleted`);
    case 'not_author':
      return new AppError('forbidden', `only the author may ${input.op.kind === 'edit' ? 'edit' : 'delete'} a message`);
    case 'too_many_reactions':
      return new AppError('too_large', `a message has at most ${MAX_REACTIONS_PER_MESSAGE} distinct reactions`);
    case 'too_many_givers':
      return new AppError('too_large', `a message holds at most ${MAX_REACTIONS_GIVEN_PER_MESSAGE} reactions given, all reactions together`);
  }
}

/**
 * The message as the change leaves it (with its `rev` still the old one: the
 * store gives it the next), or undefined when the change changes nothing.
 * A deleted message can no longer be edited or reacted to; a deletion
 * repeated and a reaction removed from it change nothing. Then the author
 * (edit, deletion), then the change's own rules. The message is never
 * modified: a changed one is a new object.
 * @throws AppError as `refused` says
 */
export function applyChange(message: Message, input: ChangeInput): Message | undefined {
  const { op } = input;
  if (message.deleted && (op.kind === 'edit' || op.kind === 'react')) throw refused('deleted', input);
  switch (op.kind) {
    case 'edit':
      if (message.user.id !== input.userId) throw refused('not_author', input);
      if (message.text === op.text) return undefined;
      return { ...message, text: op.text, editedTs: input.ts };
    case 'delete':
      if (message.user.id !== input.userId) throw refused('not_author', input);
      if (message.deleted) return undefined;
      return { ...message, text: '', reactions: {}, deleted: true };
    case 'react': {
      const givers = giversOf(message.reactions, op.reaction);
      if (givers?.includes(input.userId)) return undefined;
      if (Object.values(message.reactions).reduce((n, g) => n + g.length, 0) >= MAX_REACTIONS_GIVEN_PER_MESSAGE) throw refused('too_many_givers', input);
      if (!givers && Object.keys(message.reactions).length >= MAX_REACTIONS_PER_MESSAGE) throw refused('too_many_reactions', input);
      return { ...message, reactions: withGivers(message.reactions, op.reaction, [...(givers ?? []), input.userId]) };
    }
    case 'unreact': {
      const givers = giversOf(message.reactions, op.reaction);
      if (!givers?.includes(input.userId)) return undefined;
      return { ...message, reactions: withGivers(message.reactions, op.reaction, givers.filter((id) => id !== input.userId)) };
    }
  }
}

// A reaction is any short text, `__proto__` and `toString` included: reactions
// are read as own properties only and written as data properties, never by
// assignment (which would set an object's prototype).

function giversOf(reactions: Reactions, reaction: string): string[] | undefined {
  return Object.hasOwn(reactions, reaction) ? reactions[reaction] : undefined;
}

/** The reactions with `reaction`'s givers replaced (none: the reaction goes), in the order reactions were first given. */
function withGivers(reactions: Reactions, reaction: string, givers: string[]): Reactions {
  const entries = Object.entries(reactions);
  const at = entries.findIndex(([r]) => r === reaction);
  if (givers.length === 0) entries.splice(at, 1);
  else if (at === -1) entries.push([reaction, givers]);
  else entries[at] = [reaction, givers];
  return Object.fromEntries(entries);
}
