import { MAX_NAME_LENGTH, ROOM_PATTERN } from '../../protocol';

/** The room-name rule of the contract, in words, for whoever typed a refused one. */
export const ROOM_RULES = 'Room names are 1 to 64 characters: lowercase letters, digits, "-" and "_", starting with a letter or a digit.';

export type Checked = { ok: true; value: string } | { ok: false; error: string };

/**
 * A room name as typed (a leading `#` and surrounding spaces are allowed),
 * or why it cannot be one. Nothing is changed silently: "Lobby" is refused
 * with a suggestion, since `lobby` is another room.
 */
export function checkRoomName(input: string): Checked {
  const room = input.trim().replace(/^#/, '');
  if (room === '') return { ok: false, error: `Type a room name. ${ROOM_RULES}` };
  if (ROOM_PATTERN.test(room)) return { ok: true, value: room };
  const lower = room.toLowerCase();
  if (ROOM_PATTERN.test(lower)) return { ok: false, error: `Room names are lowercase: try "${lower}". ${ROOM_RULES}` };
  if (room.length > 64) return { ok: false, error: `"${room.slice(0, 20)}…" is ${room.length} characters long. ${ROOM_RULES}` };
  return { ok: false, error: `"${room}" cannot be a room name. ${ROOM_RULES}` };
}

/** C0 and C1 control characters and DEL: the contract refuses them in names. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** A display name as typed (trimmed), or why the server would refuse it. */
export function checkDisplayName(input: string): Checked {
  const name = input.trim();
  if (name === '') return { ok: false, error: 'Type the name others will see.' };
  if ([...name].length > MAX_NAME_LENGTH) return { ok: false, error: `Names are at most ${MAX_NAME_LENGTH} characters.` };
  if (CONTROL.test(name)) return { ok: false, error: 'Names cannot contain control characters.' };
  return { ok: true, value: name };
}
