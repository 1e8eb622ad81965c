/**
 * The Socket.IO event handlers of the contract: each client-to-server event
 * parsed, checked, carried out (through Chat, presence and the bus) and
 * answered.
 */
import type { Answer, ChangeAnswer, ClientToServerEvents, JoinAnswer } from '../../protocol';
import { assertMayUse } from '../auth';
import type { Backend } from '../backend';
import { deleteRequest, editRequest, reactionRequest, type Chat, type ChangeRequest } from '../chat';
import { AppError, toErrorBody } from '../errors';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { Recovery } from '../recovery';
import type { Guards } from './guards';
import { userRoom, type ParleyServer, type ParleySocket } from '../sockets';
import {
  parseChanges,
  parseDelete,
  parseEdit,
  parseHistory,
  parseJoin,
  parseLeave,
  parseReaction,
  parseRoomsList,
  parseSend,
  parseTyping,
} from '../validation';

export interface HandlerDeps {
  io: ParleyServer;
  chat: Chat;
  backend: Backend;
  recovery: Recovery;
  guards: Guards;
  metrics: Metrics;
  logger: Logger;
}

/** A handler of one event: its payload in, the ack's answer out (or an error). */
type Handler = (socket: ParleySocket, payload: unknown) => Promise<object>;

/**
 * The contract's client-to-server events, made once for the whole server:
 * `attach` wires them onto each connected socket. Every handler answers
 * through its ack with `Ok` or `Err`, and never throws: a missing ack, a
 * payload of any shape or an unknown event are all harmless.
 *
 * The listeners are the same functions for every socket (each finds its
 * socket as `this`, and what it needs of it in `socket.data`): a connection
 * costs no closures of its own here, which at tens of thousands of
 * connections is memory that counts.
 */
export function createHandlers(deps: HandlerDeps): { attach(socket: ParleySocket): void } {
  const { io, chat, backend, recovery, guards, metrics, logger } = deps;

  /** A socket's logger, made only when it logs (a failure): one per socket would cost memory on every connection. */
  const logOf = (socket: ParleySocket) => logger.child({ socket: socket.id, user: socket.data.identity.user.id });

  /** @throws AppError `not_joined` unless this socket joined `room`. */
  function mustBeJoined(socket: ParleySocket, room: string, doing: string): void {
    if (!socket.data.rooms.has(room)) throw new AppError('not_joined', `join ${room} before ${doing}`);
  }

  /** Takes the socket out of a room; `announce`: tell the room when it was the user's last socket there. */
  async function leaveRoom(socket: ParleySocket, room: string, announce = true): Promise<void> {
    if (!socket.data.rooms.delete(room)) return;
    const { user } = socket.data.identity;
    await socket.leave(room);
    const { last, members, version } = await backend.presence.leave(room, user, socket.id);
    if (last && announce) io.to(room).emit('presence', { room, event: 'leave', user, members, version });
  }

  const handlers = new Map<string, Handler>();

  handlers.set('room:join', async (socket, p): Promise<JoinAnswer> => {
    const { identity } = socket.data;
    const { user } = identity;
    const { room, since } = parseJoin(p);
    assertMayUse(identity, room);
    await backend.limits.consume('join', socket.id);
    // Order matters: be in the room and subscribed to its broadcasts before
    // reading history, so that no message falls between the two.
    await socket.join(room);
    const wasJoined = socket.data.rooms.has(room);
    socket.data.rooms.add(room);
    try {
      guards.assertRoomSlots(socket);
      await backend.bus?.subscribed(room);
      const { first, members, version } = await backend.presence.join(room, user, socket.id);
      // A leave or a disconnect may have run while presence was being written
      // (a round trip to Redis) and found nothing of this join to take out:
      // undo it, or the user would stay a member with no socket in the room.
      if (socket.disconnected || !socket.data.rooms.has(room)) {
        await backend.presence.leave(room, user, socket.id);
        throw new AppError('not_joined', `${room} was left while it was being joined`);
      }
      const history = await chat.joinHistory(room, since);
      recovery.joined(room, history.seq, history.rev);
      // Announced only once the join succeeded: a join that fails on the
      // history read must not show the room a user who came and went.
      if (first) io.to(room).emit('presence', { room, event: 'join', user, members: members.length, version });
      return { room, seq: history.seq, rev: history.rev, messages: history.messages, members, hasMore: history.hasMore, presenceVersion: version };
    } catch (err) {
      // A join that failed leaves the socket as it was, so a retry starts
      // clean; the room never heard of it, so it hears of no leave either.
      if (!wasJoined) await leaveRoom(socket, room, false).catch(() => {});
      throw err;
    }
  });

  handlers.set('room:leave', async (socket, p) => {
    const { room } = parseLeave(p);
    await leaveRoom(socket, room);
    return {};
  });

  handlers.set('message:send', async (socket, p) => {
    const started = process.hrtime.bigint();
    let outcome = 'ok';
    try {
      const { identity } = socket.data;
      const payload = parseSend(p);
      // A room the token never allows answers `forbidden` (permanent), not
      // `not_joined`, which would send the client to a join that cannot succeed.
      assertMayUse(identity, payload.room);
      mustBeJoined(socket, payload.room, 'sending to it');
      const message = await chat.send(identity, payload);
      return { message };
    } catch (err) {
      outcome = toErrorBody(err).code;
      throw err;
    } finally {
      metrics.sendAckSeconds.observe({ outcome }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  });

  handlers.set('room:history', async (socket, p) => chat.history(socket.data.identity, parseHistory(p)));

  /** A change to a message: checked in the order of message:send (shape, the rooms claim, joined), then carried out by Chat. */
  const onChange = (event: keyof ClientToServerEvents, request: (payload: unknown) => ChangeRequest) =>
    handlers.set(event, async (socket, p): Promise<ChangeAnswer> => {
      const { identity } = socket.data;
      const change = request(p);
      assertMayUse(identity, change.room);
      mustBeJoined(socket, change.room, 'changing its messages');
      return { message: await chat.change(identity, change) };
    });
  onChange('message:edit', (p) => editRequest(parseEdit(p)));
  onChange('message:delete', (p) => deleteRequest(parseDelete(p)));
  onChange('reaction:add', (p) => reactionRequest(parseReaction(p), true));
  onChange('reaction:remove', (p) => reactionRequest(parseReaction(p), false));

  handlers.set('room:changes', async (socket, p) => chat.changes(socket.data.identity, parseChanges(p)));

  handlers.set('typing', async (socket, p) => {
    const { identity } = socket.data;
    const { room, typing } = parseTyping(p);
    assertMayUse(identity, room);
    mustBeJoined(socket, room, 'typing in it');
    await backend.limits.consume('typing', identity.user.id);
    // To the room's other users: not even this user's other sockets.
    io.to(room).except(userRoom(identity.user)).emit('typing', { room, user: identity.user, typing });
    return {};
  });

  handlers.set('rooms:list', async (socket, p) => chat.roomsList(socket.data.identity, parseRoomsList(p)));

  /** The listener of each event, shared by every socket: its result (or error) is the ack's answer. */
  const listeners = [...handlers].map(([event, handler]) => {
    const listener = function (this: ParleySocket, ...args: unknown[]): void {
      const socket = this;
      const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as (a: Answer<object>) => void) : undefined;
      handler(socket, args[0]).then(
        (result) => ack?.({ ok: true, ...result }),
        (err: unknown) => {
          const error = toErrorBody(err);
          metrics.errors.inc({ code: error.code });
          if (error.code === 'internal') logOf(socket).error({ err, event }, 'handler failed');
          else if (logger.isLevelEnabled('debug')) logOf(socket).debug({ event, code: error.code }, error.message);
          ack?.({ ok: false, error });
        },
      );
    };
    return [event, listener] as const;
  });
  // A client's DISCONNECT packet leaves the namespace but not the connection,
  // which Engine.IO would keep alive on heartbeats for nothing: this service
  // has one namespace, so the connection goes with it.
  const onDisconnect = function (this: ParleySocket, reason: string): void {
    if (reason === 'client namespace disconnect') this.conn.close();
  };

  const onDisconnecting = function (this: ParleySocket): void {
    const socket = this;
    for (const room of socket.data.rooms) {
      leaveRoom(socket, room).catch((err) => logOf(socket).warn({ err, room }, 'presence leave on disconnect failed'));
    }
  };

  return {
    attach(socket) {
      const on = (socket as unknown as { on(e: string, l: (...args: unknown[]) => void): void }).on.bind(socket);
      for (const [event, listener] of listeners) on(event, listener);
      socket.on('disconnecting', onDisconnecting);
      socket.on('disconnect', onDisconnect);
    },
  };
}
