import WebSocket from 'ws';
import type { Answer, ClientToServerEvents, SessionEvent } from '../protocol';

/**
 * A lean Socket.IO client for load generation: Engine.IO v4 / Socket.IO v5
 * text frames over one `ws` WebSocket, without socket.io-client's per-packet
 * machinery. On two cores a generator built on socket.io-client spends about
 * as much CPU per delivery as the server does and ends up measuring itself.
 *
 * It speaks only what the load tester needs: connect with `auth`, emit with
 * an ack, learn its instance from `session`, and hand `message` events over
 * as raw frames (the tester reads one field of them; parsing the whole JSON
 * of every delivery would be most of the generator's work).
 */
export class WireSocket {
  private nextAck = 1;
  private readonly acks = new Map<number, (answer: WireAnswer) => void>();
  private connected?: (err?: ConnectError) => void;
  private closed = false;

  /** The instance that took this client, from its `session` event (undefined until it came, or if the server sends none). */
  instanceId?: string;
  /** Called with every `message` event's frame, as received: `42["message",{...}]`. */
  onMessageFrame: (frame: string) => void = () => {};
  /** Called once when the WebSocket closes, with its close code. */
  onClose: (code: number) => void = () => {};

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => this.onFrame(data.toString()));
    ws.on('close', (code) => {
      this.closed = true;
      for (const ack of this.acks.values()) ack({ ok: false, error: { code: 'disconnected', message: 'connection closed' } });
      this.acks.clear();
      this.connected?.(new ConnectError('closed', `closed (${code}) before connecting`));
      this.onClose(code);
    });
    ws.on('unexpected-response', (_req, res) => {
      // A balancer or a draining instance refusing the upgrade (503, 403, ...).
      this.connected?.(new ConnectError(`http_${res.statusCode}`, `upgrade refused with HTTP ${res.statusCode}`));
      res.resume();
      ws.terminate();
    });
    ws.on('error', (err: NodeJS.ErrnoException) => {
      this.connected?.(new ConnectError(err.code?.toLowerCase() ?? 'error', err.message));
    });
  }

  /**
   * Connects to `url` (`http://host:port`) and resolves once the server
   * answered CONNECT; rejects with a `ConnectError` naming why not.
   * `headers` go with the upgrade request (e.g. a balancer's sticky cookie).
   */
  static connect(url: string, auth: unknown, { timeoutMs = 10_000, headers }: { timeoutMs?: number; headers?: Record<string, string> } = {}): Promise<WireSocket> {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`, {
      perMessageDeflate: false,
      // Frames come from the server under test; checking their UTF-8 is the generator's CPU spent on nothing.
      skipUTF8Validation: true,
      headers,
    });
    const socket = new WireSocket(ws);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.connected?.(new ConnectError('timeout', `no CONNECT answer from ${url} in ${timeoutMs} ms`));
        ws.terminate();
      }, timeoutMs);
      socket.connected = (err) => {
        clearTimeout(timer);
        socket.connected = undefined;
        if (err) {
          ws.terminate();
          reject(err);
        } else resolve(socket);
      };
      ws.on('open', () => ws.send(`40${JSON.stringify(auth)}`));
    });
  }

  /** Emits `event` with an ack and resolves with the answer (`disconnected` if the connection closes first). */
  emit<E extends keyof ClientToServerEvents>(event: E, payload: Parameters<ClientToServerEvents[E]>[0]): Promise<WireAnswer> {
    if (this.closed) return Promise.resolve({ ok: false, error: { code: 'disconnected', message: 'connection closed' } });
    const id = this.nextAck++;
    return new Promise((resolve) => {
      this.acks.set(id, resolve);
      this.ws.send(`42${id}${JSON.stringify([event, payload])}`);
    });
  }

  /** Whether the WebSocket is still open. */
  get open(): boolean {
    return !this.closed;
  }

  close(): void {
    this.ws.close();
  }

  /** Drops the TCP connection at once, without a closing handshake. */
  terminate(): void {
    this.ws.terminate();
  }

  private onFrame(frame: string): void {
    switch (frame[0]) {
      case '2': // Engine.IO ping: answer, or the server drops us.
        this.ws.send('3');
        return;
      case '4':
        break;
      default:
        return; // Engine.IO open, noop and others.
    }
    const type = frame[1];
    if (type === '2' && frame.startsWith('42["message",')) {
      this.onMessageFrame(frame);
      return;
    }
    if (type === '0') {
      this.connected?.();
      return;
    }
    if (type === '4') {
      let reason = 'connect_error';
      try {
        reason = String((JSON.parse(frame.slice(2)) as { message?: unknown }).message ?? reason);
      } catch {
        // Not JSON: keep the generic reason.
      }
      this.connected?.(new ConnectError(`refused_${reason}`, `connect refused: ${frame.slice(2)}`));
      return;
    }
    // EVENT `42[...]` or ACK `43<id>[...]`.
    let i = 2;
    while (i < frame.length && frame.charCodeAt(i) >= 48 && frame.charCodeAt(i) <= 57) i++;
    if (type === '3') {
      const id = Number(frame.slice(2, i));
      const ack = this.acks.get(id);
      if (!ack) return;
      this.acks.delete(id);
      ack((JSON.parse(frame.slice(i)) as unknown[])[0] as Answer<any>);
    } else if (type === '2' && frame.startsWith('42["session",')) {
      this.instanceId = (JSON.parse(frame.slice(2)) as [string, SessionEvent])[1]?.instanceId;
    }
  }
}

/** The server's answer, or `disconnected` when the connection closed before it came (a code of this client, not of the contract). */
export type WireAnswer = Answer<any> | { ok: false; error: { code: 'disconnected'; message: string } };

/** Why a connection did not open: `reason` is short and stable, for counting (`timeout`, `http_503`, `econnrefused`, `refused_unauthorized`, ...). */
export class ConnectError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}
