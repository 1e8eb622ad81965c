/**
 * A bound on the output an instance holds for one connection: a client that
 * stops reading its socket (while still answering heartbeats, or before
 * they time out) would otherwise make the instance keep every message sent
 * to it. Once more than `maxOutputBytes` wait behind what the transport is
 * still writing out, the connection is ended and its TCP socket destroyed
 * at once, rather than sent a close frame that a stalled reader never
 * reads; the client reconnects and catches up with `since`.
 *
 * What waits is counted, not what is being written: Engine.IO hands the
 * transport everything queued whenever the transport is free, so a reader
 * that keeps up never has anything waiting, however large one answer is (a
 * join with `since` may answer a megabyte). A reader that stopped leaves
 * the transport busy for good, and what is sent to it piles up here. So an
 * instance holds, per connection, at most the bound, plus the batch being
 * written, plus the kernel's socket buffers.
 *
 * Only public surfaces of Engine.IO and Node are used, so an upgrade of
 * either cannot silently break this (test/contract/slow-reader.test.ts
 * fails loudly if it stops holding):
 * - an Engine.IO socket's events `packetCreate` (a packet queued for the
 *   peer), `flush` (the queue handed to the transport, which happens only
 *   while the transport is free) and `upgrade` (the transport changed), its
 *   `request` and `transport`, and its `close(discard)`;
 * - the transport's `name` and `sid`;
 * - Node's `upgrade` event on the HTTP server and `IncomingMessage.socket`,
 *   to know each WebSocket's TCP socket, and `Socket.resetAndDestroy()`.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket as TcpSocket } from 'node:net';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { HttpServer } from '../http/server';
import type { ParleySocket } from '../sockets';

/** What Engine.IO queues: a packet whose data is text or bytes. */
interface EnginePacket {
  data?: unknown;
}

/** The part of an Engine.IO transport used here. */
interface EngineTransport {
  readonly name: string;
  /** The session id (set on the transport a session opened with). */
  readonly sid: string;
}

export interface OutputBoundOptions {
  maxOutputBytes: number;
  logger: Logger;
  metrics: Metrics;
}

/** Bytes a queued packet holds (its text's length: one or two bytes a character, near enough for a bound). */
function packetBytes(packet: EnginePacket): number {
  const { data } = packet;
  if (typeof data === 'string') return data.length;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  return 0;
}

/** The `sid` of an Engine.IO request (`/socket.io/?EIO=4&transport=websocket&sid=...`), if any. */
function sidOf(req: IncomingMessage): string | undefined {
  const query = req.url?.split('?')[1];
  return query ? new URLSearchParams(query).get('sid') ?? undefined : undefined;
}

/** What the bound keeps of one connection. */
interface Watched {
  socket: ParleySocket;
  /** Bytes queued since the transport last took the queue. */
  waiting: number;
  checking: boolean;
  ended: boolean;
  transport: EngineTransport;
  readonly sid: string;
  /** Its TCP socket, once known (a WebSocket's). */
  tcp?: TcpSocket;
}

/** The Engine.IO socket's events the bound listens to; `this` is that socket. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ConnListener = (this: ParleySocket['conn'], arg?: any) => void;

/**
 * Ends the connections whose peer does not take what is sent to it. Its
 * listeners are the same functions for every connection (each finds its
 * state by its Engine.IO socket): a connection costs one small object here.
 */
export class OutputBound {
  /** The TCP socket of each WebSocket upgrade of an existing session, by session id, until the upgrade is taken. */
  private readonly upgrades = new Map<string, TcpSocket>();
  private readonly watched = new WeakMap<object, Watched>();
  private readonly listeners: Record<'packetCreate' | 'flush' | 'upgrade' | 'close', ConnListener>;

  constructor(
    httpServer: HttpServer,
    private readonly options: OutputBoundOptions,
  ) {
    // Beside Engine.IO's own listener: it only records which TCP socket a
    // session's upgrade came on (an upgrade of a long-polling session).
    httpServer.on('upgrade', (req: IncomingMessage, socket: TcpSocket) => {
      const sid = sidOf(req);
      if (sid === undefined) return;
      this.upgrades.set(sid, socket);
      socket.once('close', () => {
        if (this.upgrades.get(sid) === socket) this.upgrades.delete(sid);
      });
    });
    const bound = this;
    const max = options.maxOutputBytes;
    this.listeners = {
      packetCreate(packet: EnginePacket) {
        const w = bound.watched.get(this);
        if (!w) return;
        w.waiting += packetBytes(packet);
        if (w.waiting > max && !w.checking) {
          w.checking = true;
          // Looked at once Engine.IO is done with the packet: if the transport
          // was free, it has taken the queue by then.
          process.nextTick(() => {
            w.checking = false;
            if (w.waiting > max && !w.ended) bound.end(w);
          });
        }
      },
      flush() {
        const w = bound.watched.get(this);
        if (w) w.waiting = 0;
      },
      upgrade(next: EngineTransport) {
        const w = bound.watched.get(this);
        if (!w) return;
        w.transport = next;
        if (next.name === 'websocket') {
          w.tcp = bound.upgrades.get(w.sid);
          bound.upgrades.delete(w.sid);
        }
      },
      close() {
        bound.watched.delete(this);
        this.off('packetCreate', bound.listeners.packetCreate);
        this.off('flush', bound.listeners.flush);
        this.off('upgrade', bound.listeners.upgrade);
      },
    };
  }

  /** Holds a newly connected socket's output to the bound. */
  watch(socket: ParleySocket): void {
    const conn = socket.conn;
    const transport = conn.transport as unknown as EngineTransport;
    this.watched.set(conn, {
      socket,
      waiting: 0,
      checking: false,
      ended: false,
      transport,
      sid: transport.sid,
      // A WebSocket opened directly arrived on its own upgrade request.
      tcp: transport.name === 'websocket' ? conn.request.socket : undefined,
    });
    conn.on('packetCreate', this.listeners.packetCreate);
    conn.on('flush', this.listeners.flush);
    conn.on('upgrade', this.listeners.upgrade);
    conn.once('close', this.listeners.close);
  }

  private end(w: Watched): void {
    const max = this.options.maxOutputBytes;
    w.ended = true;
    this.options.metrics.slowConsumers.inc();
    this.options.logger.warn(
      { socket: w.socket.id, user: w.socket.data.identity.user.id, transport: w.transport.name, waitingBytes: w.waiting, maxOutputBytes: max },
      'peer is not reading: connection ended',
    );
    // Reset (RST), so that neither the kernel nor Node keeps the unsent
    // bytes for a peer that is not taking them; the close that follows
    // frees what Engine.IO and Socket.IO hold.
    if (w.tcp && !w.tcp.destroyed) w.tcp.resetAndDestroy();
    w.socket.conn.close(true);
  }
}
