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
import { backoffDelay, type BackoffOptions } from './backoff';
import { ParleyError, type ParleyErrorCode } from './errors';
import type { ConnectionStatus, ParleyClientOptions } from './types';

export type ParleySocket = Socket<ServerToClientEvents, ClientToServerEvents>;
/** The client-to-server events that answer through an ack. */
export type RequestEvent = 'room:join' | 'room:leave' | 'message:send' | 'room:history';
export type PayloadOf<E extends RequestEvent> = Parameters<ClientToServerEvents[E]>[0];
export type AnswerOf<E extends RequestEvent> = NonNullable<Parameters<ClientToServerEvents[E]>[1]> extends Ack<infer T> ? T : never;

/** What the connection tells the client on top of it. */
export interface ConnectionHooks {
  status(status: ConnectionStatus): void;
  session(session: SessionEvent): void;
  /** Connected, the first time or again: rooms must be (re-)joined. */
  connected(): void;
  /** The connection dropped: whatever was joined on it is gone. */
  disconnected(): void;
  /** The server refused the handshake and socket.io will not retry by itself. */
  refused(error: ParleyError): void;
}

export type ConnectionOptions = Pick<ParleyClientOptions, 'url' | 'auth' | 'socket'> & {
  ackTimeoutMs: number;
  backoff: BackoffOptions;
};

/**
 * One socket.io-client socket and what the SDK needs around it: a status
 * for the UI, requests that never sit in socket.io's send buffer, and
 * delays that end early when the connection drops (so no retry loop
 * outlives the connection it was for).
 */
export class Connection {
  readonly socket: ParleySocket;
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
  private readonly sleepers = new Set<() => void>();
  private readonly unlisten: Array<() => void> = [];

  constructor(
    private readonly options: ConnectionOptions,
    private readonly hooks: ConnectionHooks,
  ) {
    const { auth } = options;
    const authFn = typeof auth === 'function' ? (auth as () => HandshakeAuth | Promise<HandshakeAuth>) : undefined;
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
    this.wakeSleepers();
    for (const off of this.unlisten.splice(0)) off();
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

  /** Resolves after `ms`, or at once when the connection drops or closes. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  private listen(): void {
    const { socket } = this;
    socket.on('connect', () => {
      this.gaveUp = false;
      this.everConnected = true;
      this.refusals = 0;
      this.updateStatus();
      this.hooks.connected();
    });
    socket.on('disconnect', (reason) => {
      this.wakeSleepers();
      // socket.io-client does not reconnect after the server ended the session.
      if (!socket.active && reason !== 'io client disconnect') this.gaveUp = true;
      this.updateStatus();
      this.hooks.disconnected();
    });
    socket.on('connect_error', (err) => this.onConnectError(err));
    socket.io.on('reconnect_attempt', () => this.updateStatus());
    socket.io.on('reconnect_failed', () => {
      this.gaveUp = true;
      this.updateStatus();
    });
    socket.on('session', (session) => {
      this.currentSession = session;
      this.hooks.session(session);
    });

    // Browsers say when the network goes away; socket.io would take a heartbeat to notice.
    const g = globalThis as {
      addEventListener?: typeof addEventListener;
      removeEventListener?: typeof removeEventListener;
      navigator?: { onLine?: boolean };
    };
    if (typeof g.addEventListener === 'function' && typeof g.navigator?.onLine === 'boolean') {
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
      this.unlisten.push(() => {
        g.removeEventListener?.('offline', offline);
        g.removeEventListener?.('online', online);
      });
    }
  }

  private onConnectError(err: Error): void {
    // A transport failure: socket.io keeps trying on its own.
    if (this.socket.active || this.closed) return this.updateStatus();
    // Refused by the server's middleware: socket.io will not retry, but a
    // rate limit passes.
    if (err.message === 'rate_limited') {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        if (!this.closed) this.socket.connect();
      }, backoffDelay(++this.refusals, this.options.backoff));
      return this.updateStatus();
    }
    const known = (HANDSHAKE_ERRORS as readonly string[]).concat(ERROR_CODES).includes(err.message);
    this.gaveUp = true;
    this.updateStatus();
    this.hooks.refused(new ParleyError(known ? (err.message as ParleyErrorCode) : 'internal', `connection refused: ${err.message}`));
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
    this.hooks.status(status);
  }

  private wakeSleepers(): void {
    for (const wake of [...this.sleepers]) wake();
  }
}

