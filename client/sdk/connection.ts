import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import {
  ERROR_CODES,
  HANDSHAKE_ERRORS,
  type Ack,
  type Answer,
  type ClientToServerEvents,
  type HandshakeAuth,
  type ServerToClientEvents,
  type SessionEvent,
} from '../../protocol';
import { backoffDelay, type BackoffOptions } from '../../common/backoff';
import { Emitter } from './emitter';
import { ParleyError, type ParleyErrorCode } from './errors';
import type { ConnectionStatus, ParleyClientOptions } from './types';

type ParleySocket = Socket<ServerToClientEvents, ClientToServerEvents>;
/** The client-to-server events that the SDK sends without waiting for an answer. */
export type NoticeEvent = 'typing';
/** The client-to-server events that the SDK sends with an ack, waiting for the answer. */
export type RequestEvent = Exclude<keyof ClientToServerEvents, NoticeEvent>;
export type PayloadOf<E extends keyof ClientToServerEvents> = Parameters<ClientToServerEvents[E]>[0];
export type AnswerOf<E extends RequestEvent> = NonNullable<Parameters<ClientToServerEvents[E]>[1]> extends Ack<infer T> ? T : never;

/**
 * What a `Connection` tells the SDK on top of it: its own events, and the
 * server's events passed on as they come (typed by the protocol).
 */
export type ConnectionEvents = Pick<ServerToClientEvents, 'session' | 'message' | 'message:update' | 'presence' | 'typing'> & {
  status: (status: ConnectionStatus) => void;
  /** Connected, the first time or again: rooms must be (re-)joined. */
  connected: () => void;
  /** The connection dropped (or was closed): whatever was joined on it is gone. */
  disconnected: () => void;
  /** The server refused the handshake, or ended the session, and socket.io will not retry by itself. */
  refused: (error: ParleyError) => void;
};

export type ConnectionOptions = Pick<ParleyClientOptions, 'url' | 'auth' | 'socket'> & {
  ackTimeoutMs: number;
  backoff: BackoffOptions;
};

/**
 * The SDK's one way to the socket: one socket.io-client socket and what the
 * SDK needs around it: a status for the UI, the server's events, requests
 * that never sit in socket.io's send buffer, notices that are dropped while
 * disconnected, and delays that end early when the connection drops (so no
 * retry loop outlives the connection it was for).
 */
export class Connection extends Emitter<ConnectionEvents> {
  private readonly socket: ParleySocket;
  private currentStatus: ConnectionStatus = 'connecting';
  private currentSession: SessionEvent | undefined;
  private everConnected = false;
  /** The server refused or ended the session, or reconnection gave up: socket.io will not retry. */
  private gaveUp = false;
  private browserOffline = false;
  private closed = false;
  /** Handshakes refused with `rate_limited` in a row, for the backoff. */
  private refusals = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Why the server said it ends the session (`session:ended`), until the disconnect that follows. */
  private ending: ParleyError | undefined;
  /** The `auth` option when it is a function: asked again at every (re)connection. */
  private readonly authFn: (() => HandshakeAuth | Promise<HandshakeAuth>) | undefined;
  /** Stops listening to the browser's online/offline events. */
  private unwatchNetwork: (() => void) | undefined;

  constructor(private readonly options: ConnectionOptions) {
    super();
    const { auth } = options;
    const authFn = typeof auth === 'function' ? (auth as () => HandshakeAuth | Promise<HandshakeAuth>) : undefined;
    this.authFn = authFn;
    const socketOptions: Partial<ManagerOptions & SocketOptions> = {
      transports: ['websocket', 'polling'],
      tryAllTransports: true,
      // Several clients in one page or process each get their own connection.
      forceNew: true,
      ...options.socket,
      autoConnect: false,
      auth: authFn
        ? (cb: (data: object) => void) => {
            Promise.resolve()
              .then(authFn)
              // The server then answers `unauthorized`, which reaches `refused`.
              .then(cb, () => cb({}));
          }
        : (auth as HandshakeAuth),
    };
    this.socket = options.url === undefined ? io(socketOptions) : io(options.url, socketOptions);
    this.listen();
    // socket.io's events come asynchronously: listeners added after `new` hear them all.
    this.socket.connect();
  }

  get status(): ConnectionStatus {
    return this.currentStatus;
  }

  get session(): SessionEvent | undefined {
    return this.currentSession;
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** Connects again after the connection went `offline`; does nothing while connected. */
  reconnect(): void {
    if (this.closed || this.socket.connected) return;
    this.gaveUp = false;
    // Starting over skips whatever is left of socket.io's reconnection delay.
    this.socket.disconnect();
    this.socket.connect();
    this.updateStatus();
  }

  /** Disconnects for good; stops every timer. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.unwatchNetwork?.();
    // A connected socket says `disconnect` at once, which wakes every `sleep`.
    this.socket.disconnect();
    this.updateStatus();
  }

  /**
   * Emits a request and resolves with its answer; rejects with `timeout` when
   * none comes in time, and with `disconnected` when the connection is down
   * or drops first. Never emits while disconnected: socket.io would buffer
   * the packet and send it on reconnect, behind the SDK's own resend.
   */
  request<E extends RequestEvent>(event: E, payload: PayloadOf<E>): Promise<Answer<AnswerOf<E>>> {
    return new Promise((resolve, reject) => {
      if (!this.socket.connected) return reject(new ParleyError('disconnected', 'not connected'));
      const timed = this.socket.timeout(this.options.ackTimeoutMs) as unknown as {
        emit(event: string, payload: unknown, ack: (err: Error | null, answer: Answer<AnswerOf<E>>) => void): void;
      };
      timed.emit(event, payload, (err, answer) => {
        if (err) reject(new ParleyError(this.socket.connected ? 'timeout' : 'disconnected', `${event}: ${err.message}`));
        else if (typeof answer !== 'object' || answer === null) reject(new ParleyError('internal', `${event}: malformed answer`));
        else resolve(answer);
      });
    });
  }

  /**
   * Emits an event that wants no answer. Dropped while disconnected, like a
   * request: what it says (typing) is stale by the reconnect.
   */
  notify<E extends NoticeEvent>(event: E, payload: PayloadOf<E>): void {
    if (!this.socket.connected) return;
    (this.socket as unknown as { emit(event: string, payload: unknown): void }).emit(event, payload);
  }

  /** Resolves after `ms`, or at once when the connection drops or closes (or is down already). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (!this.socket.connected) return resolve();
      const wake = () => {
        clearTimeout(timer);
        this.off('disconnected', wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.on('disconnected', wake);
    });
  }

  private listen(): void {
    const { socket } = this;
    socket.on('connect', () => {
      this.gaveUp = false;
      this.everConnected = true;
      this.refusals = 0;
      this.updateStatus();
      this.emit('connected');
    });
    socket.on('session:ended', (error) => {
      const code = refusalCode(new Error(error?.code));
      this.ending = new ParleyError(code, `session ended: ${error?.message ?? code}`);
    });
    socket.on('disconnect', (reason) => {
      const ending = reason === 'io server disconnect' ? this.ending : undefined;
      this.ending = undefined;
      // An expired token: a function gives a fresh one at the next handshake;
      // the same token again would be refused.
      if (ending?.code === 'unauthorized' && this.authFn && !this.closed) socket.connect();
      // socket.io-client does not reconnect after the server ended the session.
      if (!socket.active && reason !== 'io client disconnect') this.gaveUp = true;
      this.updateStatus();
      this.emit('disconnected');
      if (ending && this.gaveUp) this.emit('refused', ending);
    });
    socket.on('connect_error', (err) => this.onConnectError(err));
    socket.io.on('reconnect_attempt', () => this.updateStatus());
    socket.io.on('reconnect_failed', () => {
      this.gaveUp = true;
      this.updateStatus();
    });
    socket.on('session', (session) => {
      this.currentSession = session;
      this.emit('session', session);
    });
    socket.on('message', (message) => this.emit('message', message));
    socket.on('message:update', (event) => this.emit('message:update', event));
    socket.on('presence', (event) => this.emit('presence', event));
    socket.on('typing', (event) => this.emit('typing', event));
    this.watchNetwork();
  }

  /** Browsers say when the network goes away; socket.io would take a heartbeat to notice. */
  private watchNetwork(): void {
    const g = globalThis as {
      addEventListener?: typeof addEventListener;
      removeEventListener?: typeof removeEventListener;
      navigator?: { onLine?: boolean };
    };
    if (typeof g.addEventListener !== 'function' || typeof g.navigator?.onLine !== 'boolean') return;
    this.browserOffline = !g.navigator.onLine;
    const offline = () => {
      this.browserOffline = true;
      this.updateStatus();
    };
    const online = () => {
      this.browserOffline = false;
      this.reconnect();
      this.updateStatus();
    };
    g.addEventListener('offline', offline);
    g.addEventListener('online', online);
    this.unwatchNetwork = () => {
      g.removeEventListener?.('offline', offline);
      g.removeEventListener?.('online', online);
    };
  }

  private onConnectError(err: Error): void {
    // A transport failure: socket.io keeps trying on its own.
    if (this.socket.active || this.closed) return this.updateStatus();
    const code = refusalCode(err);
    // Refused by the server's middleware: socket.io will not retry, but a
    // rate limit passes.
    if (code === 'rate_limited') {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        if (!this.closed) this.socket.connect();
      }, backoffDelay(++this.refusals, this.options.backoff));
      return this.updateStatus();
    }
    this.gaveUp = true;
    this.updateStatus();
    this.emit('refused', new ParleyError(code, `connection refused: ${err.message}`));
  }

  private updateStatus(): void {
    const status: ConnectionStatus =
      this.closed || this.gaveUp || this.browserOffline
        ? 'offline'
        : this.socket.connected
          ? 'connected'
          : this.everConnected
            ? 'reconnecting'
            : 'connecting';
    if (status === this.currentStatus) return;
    this.currentStatus = status;
    this.emit('status', status);
  }
}

/**
 * The code of a handshake refused by the server: the contract carries it as
 * `connect_error`'s message (`unauthorized`, `forbidden_origin`,
 * `rate_limited`); anything else is `internal`.
 */
function refusalCode(err: Error): ParleyErrorCode {
  const codes: readonly string[] = [...HANDSHAKE_ERRORS, ...ERROR_CODES];
  return codes.includes(err.message) ? (err.message as ParleyErrorCode) : 'internal';
}
