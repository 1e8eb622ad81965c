import { storage } from './dom';

const NAME_KEY = 'parley.name';
const ROOMS_KEY = 'parley.rooms';

/** What the browser remembers between visits: the display name and the joined rooms. */
export const prefs = {
  name(): string | undefined {
    return storage()?.getItem(NAME_KEY) ?? undefined;
  },
  setName(name: string): void {
    storage()?.setItem(NAME_KEY, name);
  },
  rooms(): string[] {
    try {
      const rooms: unknown = JSON.parse(storage()?.getItem(ROOMS_KEY) ?? '[]');
      return Array.isArray(rooms) ? rooms.filter((r): r is string => typeof r === 'string') : [];
    } catch {
      return [];
    }
  },
  setRooms(rooms: string[]): void {
    storage()?.setItem(ROOMS_KEY, JSON.stringify(rooms));
  },
};
