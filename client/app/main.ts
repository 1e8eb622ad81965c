/**
 * The browser app: log in with a name and a room, then chat. Everything
 * goes through the client SDK; this file only wires its events to the page.
 */
import { ParleyClient, type ConnectionStatus } from '../sdk';
import { byId } from './dom';
import { RoomView } from './room-view';

const STATUS_TEXT: Record<ConnectionStatus, string> = {
  connecting: 'connecting…',
  connected: 'connected',
  reconnecting: 'reconnecting…',
  offline: 'offline',
};
/** Typing is re-announced at most this often while the user keeps typing, and ends after as long idle. */
const TYPING_EVERY_MS = 3000;
const NAME_KEY = 'parley.name';

const login = byId<HTMLFormElement>('login');
const loginButton = login.querySelector('button')!;
const loginError = byId('login-error');
const chat = byId('chat');
const nameInput = byId<HTMLInputElement>('name');
const roomInput = byId<HTMLInputElement>('room');
const statusText = byId('status');
const reconnectButton = byId<HTMLButtonElement>('reconnect');
const text = byId<HTMLInputElement>('text');
const parts = {
  scroll: byId('scroll'),
  messages: byId<HTMLOListElement>('messages'),
  outbox: byId<HTMLOListElement>('outbox'),
  older: byId<HTMLButtonElement>('older'),
  membersCount: byId('members-count'),
  membersList: byId<HTMLUListElement>('members-list'),
  typing: byId('typing'),
};

/** The logged-in session: one client, its rooms (a list already; one is shown at a time). */
interface Session {
  client: ParleyClient;
  rooms: Map<string, RoomView>;
  current?: RoomView;
}
let session: Session | undefined;

nameInput.value = storage()?.getItem(NAME_KEY) ?? '';

login.addEventListener('submit', (e) => {
  e.preventDefault();
  const name = nameInput.value.trim();
  const room = roomInput.value.trim();
  if (!name || !room || session) return;
  storage()?.setItem(NAME_KEY, name);
  loginError.textContent = '';
  loginButton.disabled = true;
  session = start(name);
  void openRoom(session, room);
});

/** Connects as `name` and wires the SDK's events to the page. */
function start(name: string): Session {
  const client = new ParleyClient({ auth: { name } });
  const s: Session = { client, rooms: new Map() };

  const showStatus = (status: ConnectionStatus) => {
    statusText.textContent = STATUS_TEXT[status];
    statusText.className = `status ${status}`;
    reconnectButton.hidden = status !== 'offline';
  };
  showStatus(client.status);
  client.on('status', showStatus);
  client.on('error', (err) => {
    if (err.code === 'unauthorized') backToLogin('That name cannot be used.');
    else if (err.code === 'forbidden_origin') backToLogin('This page may not connect to the server.');
  });
  client.on('message', (m) => s.rooms.get(m.room)?.addMessage(m));
  client.on('outbox', (entry) => s.rooms.get(entry.room)?.updateSend(entry));
  client.on('members', ({ room, members }) => s.rooms.get(room)?.setMembers(members));
  client.on('typing', (event) => s.rooms.get(event.room)?.setTyping(event));
  client.on('joined', (info) => s.rooms.get(info.room)?.setHasOlder(info.hasOlder));
  return s;
}

/** Joins `room` (if needed) and shows it. */
async function openRoom(s: Session, room: string): Promise<void> {
  let view = s.rooms.get(room);
  if (!view) {
    view = new RoomView(room, s.client, parts, false, () => s.client.session?.user.id);
    s.rooms.set(room, view);
  }
  if (s.current !== view) s.current?.hide();
  s.current = view;
  byId('room-title').textContent = `#${room}`;
  view.show();
  try {
    await s.client.join(room);
  } catch (err) {
    if (session === s) backToLogin(`Cannot join ${room}: ${(err as Error).message}`);
    return;
  }
  login.hidden = true;
  chat.hidden = false;
  text.focus();
}

/** Ends the session and shows the login form with `message`. */
function backToLogin(message: string): void {
  if (session) {
    session.client.close();
    for (const view of session.rooms.values()) view.dispose();
  }
  session = undefined;
  chat.hidden = true;
  login.hidden = false;
  loginButton.disabled = false;
  loginError.textContent = message;
}

reconnectButton.addEventListener('click', () => session?.client.connect());
parts.older.addEventListener('click', () => void session?.current?.loadOlder());

// Typing: announced when the user types, at most every few seconds; ended on send or when idle.
let typingSince = 0;
let idle: ReturnType<typeof setTimeout> | undefined;
function stopTyping(): void {
  clearTimeout(idle);
  const room = session?.current?.room;
  if (typingSince && room) session!.client.setTyping(room, false);
  typingSince = 0;
}
text.addEventListener('input', () => {
  const room = session?.current?.room;
  if (!room) return;
  if (!text.value) return stopTyping();
  if (Date.now() - typingSince > TYPING_EVERY_MS) {
    session!.client.setTyping(room, true);
    typingSince = Date.now();
  }
  clearTimeout(idle);
  idle = setTimeout(stopTyping, TYPING_EVERY_MS);
});

byId<HTMLFormElement>('composer').addEventListener('submit', (e) => {
  e.preventDefault();
  const room = session?.current?.room;
  if (!room || !text.value.trim()) return;
  stopTyping();
  // Failures show on the pending line, with Retry; nothing else to do here.
  session!.client.send(room, text.value).catch(() => {});
  text.value = '';
});

/** localStorage, where the browser allows it. */
function storage(): Storage | undefined {
  try {
    return window.localStorage;
  } catch {
    return undefined;
  }
}
