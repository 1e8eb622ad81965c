/**
 * The browser app: a name, then any number of rooms at once. This file
 * builds the page's parts and wires them together; the rooms, the sidebar,
 * the banner and the message box are their own modules, and everything that
 * talks to the service goes through the client SDK.
 */
import './style.css';
import type { ParleyError } from '../sdk';
import { ConnectionBanner } from './banner';
import { Composer } from './composer';
import { RoomDirectory } from './directory';
import { byId } from './dom';
import { Layout } from './layout';
import { avatar } from './message-view';
import { checkDisplayName, checkRoomName, ROOM_RULES } from './names';
import { prefs } from './prefs';
import { Router } from './router';
import { ChatSession, type Shell } from './session';
import { Sidebar } from './sidebar';

const welcome = byId('welcome');
const nameForm = byId<HTMLFormElement>('name-form');
const nameInput = byId<HTMLInputElement>('name-input');
const nameError = byId('name-error');
const nameNext = byId('name-next');
const shellNode = byId('shell');
const joinForm = byId<HTMLFormElement>('join-form');
const roomInput = byId<HTMLInputElement>('room-input');
const joinError = byId('join-error');

let session: ChatSession | undefined;
let unreadTotal = 0;

const router = new Router((room) => route(room));
const directory = new RoomDirectory((rooms) => shell.sidebar.setActive(rooms));
const layout = new Layout({
  shell: shellNode,
  sidebar: byId('sidebar'),
  scrim: byId('scrim'),
  openSidebar: byId<HTMLButtonElement>('open-sidebar'),
  closeSidebar: byId<HTMLButtonElement>('close-sidebar'),
  membersToggle: byId<HTMLButtonElement>('members-toggle'),
});

const shell: Shell = {
  title: byId('room-title'),
  empty: byId('empty'),
  room: byId('room'),
  scroller: byId('message-list'),
  newMarker: byId<HTMLButtonElement>('new-marker'),
  typing: byId('typing'),
  members: byId<HTMLUListElement>('member-list'),
  memberCount: byId('member-count'),
  composer: new Composer(byId<HTMLFormElement>('composer'), byId<HTMLTextAreaElement>('message-input'), byId<HTMLButtonElement>('send-button'), byId('message-label'), {
    send: (room, text) => session?.send(room, text),
    typing: (room, typing) => session?.setTyping(room, typing),
  }),
  sidebar: new Sidebar(
    { joined: byId<HTMLUListElement>('joined-rooms'), active: byId<HTMLUListElement>('active-rooms'), joinedEmpty: byId('joined-empty'), activeEmpty: byId('active-empty') },
    {
      show: (room) => {
        session?.open(room, 'push');
        layout.roomPicked();
      },
      join: (room) => {
        session?.open(room, 'push');
        layout.roomPicked();
      },
      leave: (room) => session?.leave(room),
    },
  ),
  banner: new ConnectionBanner(byId('connection-status'), byId('banner-text'), byId<HTMLButtonElement>('reconnect')),
};

byId('reconnect').addEventListener('click', () => session?.client.connect());
shell.newMarker.addEventListener('click', () => session?.jumpToBottom());
shell.scroller.addEventListener('scroll', () => session?.scrolled(), { passive: true });
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') session?.pageShown();
});

nameForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const checked = checkDisplayName(nameInput.value);
  if (!checked.ok) return showNameError(checked.error);
  start(checked.value);
});

joinForm.addEventListener('submit', (e) => {
  e.preventDefault();
  if (!session) return;
  const checked = checkRoomName(roomInput.value);
  if (!checked.ok) return showJoinError(checked.error);
  showJoinError('');
  roomInput.value = '';
  session.open(checked.value, 'push');
  layout.roomPicked();
  shell.composer.focus();
});

byId('change-name').addEventListener('click', () => {
  end();
  showWelcome(prefs.name() ?? '');
});

/** Starts a session as `name`: joins the remembered rooms and the one in the address, and shows that one. */
function start(name: string): void {
  end();
  prefs.setName(name);
  showNameError('');
  welcome.hidden = true;
  shellNode.hidden = false;
  byId('me-name').textContent = name;
  byId('me-avatar').replaceChildren(avatar({ id: name, name }));
  const current = (session = new ChatSession(name, shell, {
    shown: (room, navigation) => {
      if (session !== current) return;
      if (navigation !== 'none') router.show(room, navigation);
      updateTitle();
    },
    roomsChanged: (rooms) => {
      if (session !== current) return;
      prefs.setRooms(rooms);
      directory.refresh();
    },
    unreadChanged: (total) => {
      unreadTotal = total;
      byId('menu-unread').hidden = total === 0;
      updateTitle();
    },
    refused: (error) => {
      if (session !== current) return;
      end();
      showWelcome(name, `The service refused "${name}": ${error.code === 'unauthorized' ? 'pick another name.' : error.message}`);
    },
    joinRefused: (room, error) => showJoinError(refusal(room, error)),
  }));
  directory.start(() => current.client.rooms());

  const linked = router.room();
  for (const room of prefs.rooms()) if (checkRoomName(room).ok) current.join(room);
  if (linked !== undefined) route(linked);
  else if (current.rooms().length > 0) current.open(current.rooms()[0], 'replace');
  else current.showNone();
}

/** Ends the session (the name changes, or was refused); the remembered rooms stay for the next one. */
function end(): void {
  if (!session) return;
  const rooms = session.rooms();
  session.close();
  session = undefined;
  prefs.setRooms(rooms);
  directory.stop();
  shell.composer.reset();
  unreadTotal = 0;
  updateTitle();
}

/** The address names `room` (a link, the back button): show it, joining it if needed. */
function route(room: string | undefined): void {
  if (!session) {
    updateWelcome();
    return;
  }
  if (room === undefined) return session.showNone();
  const checked = checkRoomName(room);
  if (!checked.ok) {
    roomInput.value = room;
    showJoinError(checked.error);
    const fallback = session.room ?? session.rooms()[0];
    if (fallback === undefined) session.showNone();
    else session.open(fallback, 'replace');
    return;
  }
  session.open(checked.value, 'none');
}

function showWelcome(name: string, error = ''): void {
  shellNode.hidden = true;
  welcome.hidden = false;
  nameInput.value = name;
  showNameError(error);
  updateWelcome();
  nameInput.focus();
  nameInput.select();
}

function updateWelcome(): void {
  const linked = router.room();
  nameNext.textContent = linked === undefined ? '' : `Then you join #${linked}.`;
  nameNext.hidden = linked === undefined;
}

function showNameError(message: string): void {
  nameError.textContent = message;
  nameInput.setAttribute('aria-invalid', String(message !== ''));
}

function showJoinError(message: string): void {
  joinError.textContent = message;
  roomInput.setAttribute('aria-invalid', String(message !== ''));
  if (message) roomInput.focus();
}

function refusal(room: string, error: ParleyError): string {
  if (error.code === 'invalid_room') return `"${room}" cannot be a room name. ${ROOM_RULES}`;
  if (error.code === 'forbidden') return `You may not join #${room}.`;
  return `Cannot join #${room}: ${error.message}`;
}

function updateTitle(): void {
  const room = session?.room;
  shell.title.textContent = room === undefined ? 'Parley' : `#${room}`;
  document.title = `${unreadTotal > 0 ? `(${unreadTotal}) ` : ''}${room === undefined ? '' : `#${room} · `}Parley`;
}

const remembered = prefs.name();
if (remembered !== undefined && checkDisplayName(remembered).ok) start(remembered);
else showWelcome(remembered ?? '');
