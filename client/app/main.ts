import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, Message, ServerToClientEvents } from '../../protocol';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  const name = $<HTMLInputElement>('name').value.trim();
  const room = $<HTMLInputElement>('room').value.trim();
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io({ auth: { name } });
  const seen = new Set<number>();
  const show = (m: Message) => {
    if (seen.has(m.seq)) return;
    seen.add(m.seq);
    const li = document.createElement('li');
    li.textContent = `${m.user.name}: ${m.text}`;
    $('messages').append(li);
  };
  socket.on('connect_error', (err) => ($('login-error').textContent = err.message));
  socket.on('connect', () => {
    socket.emit('room:join', { room, since: Math.max(0, ...seen) }, (answer) => {
      if (!answer.ok) return void ($('login-error').textContent = answer.error.message);
      $('login').hidden = true;
      $('chat').hidden = false;
      $('room-title').textContent = `#${room}`;
      answer.messages.forEach(show);
    });
  });
  socket.on('message', show);
  $('composer').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const input = $<HTMLInputElement>('text');
    socket.emit('message:send', { room, text: input.value, clientId: crypto.randomUUID() }, () => {});
    input.value = '';
  });
});
