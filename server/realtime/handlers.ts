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

/**
 * Wires the contract's client-to-server events onto a connected socket.
 * Every handler answers through its ack with `Ok` or `Err`, and never throws:
 * a missing ack, a payload of any shape or an unknown event are all harmless.
 */
export function registerHandlers(socket: ParleySocket, deps: HandlerDeps): void {
  const { io, chat, backend, recovery, guards, metrics, logger } = deps;
  const identity = socket.data.identity;
  const user = identity.user;
  // Made when first needed (a failure): a child logger per socket would cost memory on every connection.
  let childLog: Logger | undefined;
  const log = () => (childLog ??= logger.child({ socket: socket.id, user: user.id }));

  /** Registers a handler whose result (or error) is the ack's answer. */
  const on = <T extends object>(event: keyof ClientToServerEvents, handler: (payload: unknown) => Promise<T>) => {
    (socket as unknown as { on(e: string, l: (...args: unknown[]) => void): void }).on(event, (...args: unknown[]) => {
      const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as (a: Answer<T>) => void) : undefined;
      const payload = args[0];
      handler(payload).then(
        (result) => ack?.({ ok: true, ...result }),
        (err: unknown) => {
          const error = toErrorBody(err);
          metrics.errors.inc({ code: error.code });
          if (error.code === 'internal') log().error({ err, event }, 'handler failed');
          else log().debug({ event, code: error.code }, error.message);
          ack?.({ ok: false, error });
        },
      );
    });
  };

  on('room:join', async (p): Promise<JoinAnswer> => {
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
      if (!wasJoined) await leaveRoom(room, false).catch(() => {});
      throw err;
    }
  });

  on('room:leave', async (p) => {
    const { room } = parseLeave(p);
    await leaveRoom(room);
    return {};
  });

  on('message:send', async (p) => {
    const started = process.hrtime.bigint();
    let outcome = 'ok';
    try {
      const payload = parseSend(p);
      // A room the token never allows answers `forbidden` (permanent), not
      // `not_joined`, which would send the client to a join that cannot succeed.
      assertMayUse(identity, payload.room);
      mustBeJoined(payload.room, 'sending to it');
      const message = await chat.send(identity, payload);
      return { message };
    } catch (err) {
      outcome = toErrorBody(err).code;
      throw err;
    } finally {
      metrics.sendAckSeconds.observe({ outcome }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  });

  on('room:history', async (p) => chat.history(identity, parseHistory(p)));

  /** A change to a message: checked in the order of message:send (shape, the rooms claim, joined), then carried out by Chat. */
  const onChange = (event: keyof ClientToServerEvents, request: (payload: unknown) => ChangeRequest) =>
    on(event, async (p): Promise<ChangeAnswer> => {
      const change = request(p);
      assertMayUse(identity, change.room);
      mustBeJoined(change.room, 'changing its messages');
      return { message: await chat.change(identity, change) };
    });
  onChange('message:edit', (p) => editRequest(parseEdit(p)));
  onChange('message:delete', (p) => deleteRequest(parseDelete(p)));
  onChange('reaction:add', (p) => reactionRequest(parseReaction(p), true));
  onChange('reaction:remove', (p) => reactionRequest(parseReaction(p), false));

  on('room:changes', async (p) => chat.changes(identity, parseChanges(p)));

  on('typing', async (p) => {
    const { room, typing } = parseTyping(p);
    assertMayUse(identity, room);
    mustBeJoined(room, 'typing in it');
    await backend.limits.consume('typing', user.id);
    // To the room's other users: not even this user's other sockets.
    io.to(room).except(userRoom(user)).emit('typing', { room, user, typing });
    return {};
  });

  on('rooms:list', async (p) => chat.roomsList(identity, parseRoomsList(p)));

  socket.on('disconnecting', () => {
    for (const room of socket.data.rooms) {
      leaveRoom(room).catch((err) => log().warn({ err, room }, 'presence leave on disconnect failed'));
    }
  });
  // A client's DISCONNECT packet leaves the namespace but not the connection,
  // which Engine.IO would keep alive on heartbeats for nothing: this service
  // has one namespace, so the connection goes with it.
  socket.on('disconnect', (reason) => {
    if (reason === 'client namespace disconnect') socket.conn.close();
  });

  /** @throws AppError `not_joined` unless this socket joined `room`. */
  function mustBeJoined(room: string, doing: string): void {
    if (!socket.data.rooms.has(room)) throw new AppError('not_joined', `join ${room} before ${doing}`);
  }

  /** Takes the socket out of a room; `announce`: tell the room when it was the user's last socket there. */
  async function leaveRoom(room: string, announce = true): Promise<void> {
    if (!socket.data.rooms.delete(room)) return;
    await socket.leave(room);
    const { last, members, version } = await backend.presence.leave(room, user, socket.id);
    if (last && announce) io.to(room).emit('presence', { room, event: 'leave', user, members, version });
  }
}
