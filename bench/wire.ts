import WebSocket from 'ws';
import type { Answer, ClientToServerEvents, Message } from '../protocol';

/**
 * A lean Socket.IO client for load generation: Engine.IO v4 / Socket.IO v5
 * text frames over one `ws` WebSocket, without socket.io-client's per-packet
 * machinery. On two cores a generator built on socket.io-client spends about
 * as much CPU per delivery as the server does and ends up measuring itself.
 *
 * It speaks only what the load test needs: connect with `auth`, emit with an
 * ack, and hand `message` events to a callback.
 */
export class WireSocket {
  private nextAck = 1;
  private readonly acks = new Map<number, (answer: Answer<any>) => void>();
  private connected?: (err?: Error) => void;

  /** Called for every `message` event. */
  onMessage: (message: Message) => void = () => {};
  /** Called when the WebSocket closes. */
  onClose: (code: number) => void = () => {};

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => this.onFrame(data.toString()));
    ws.on('close', (code) => {
      for (const ack of this.acks.values()) ack({ ok: false, error: { code: 'unavailable', message: 'closed' } });
      this.acks.clear();
      this.connected?.(new Error(`closed (${code}) before connecting`));
      this.onClose(code);
    });
    ws.on('error', () => {});
  }

  /** Connects to `url` (`http://host:port`) and resolves once the server answered CONNECT. */
  static connect(url: string, auth: unknown, timeoutMs = 10_000): Promise<WireSocket> {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`, {
      perMessageDeflate: false,
    });
    const socket = new WireSocket(ws);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no CONNECT answer from ${url} in ${timeoutMs} ms`)), timeoutMs);
      socket.connected = (err) => {
        clearTimeout(timer);
        socket.connected = undefined;
        if (err) reject(err);
        else resolve(socket);
      };
      ws.on('open', () => ws.send(`40${JSON.stringify(auth)}`));
    });
  }

  /** Emits `event` with an ack and resolves with the answer. */
  emit<E extends keyof ClientToServerEvents>(event: E, payload: Parameters<ClientToServerEvents[E]>[0]): Promise<Answer<any>> {
    const id = this.nextAck++;
    return new Promise((resolve) => {
      this.acks.set(id, resolve);
      this.ws.send(`42${id}${JSON.stringify([event, payload])}`);
    });
  }

  close(): void {
    this.ws.close();
  }

  private onFrame(frame: string): void {
    switch (frame[0]) {
      case '2': // Engine.IO ping: answer, or the server drops us.
        this.ws.send('3');
        return;
      case '4':
        break;
      default:
        return; // Engine.IO open and others.
    }
    const type = frame[1];
    if (type === '0') {
      this.connected?.();
      return;
    }
    if (type === '4') {
      this.connected?.(new Error(`connect refused: ${frame.slice(2)}`));
      return;
    }
    // EVENT `42[...]` or ACK `43<id>[...]`.
    let i = 2;
    while (i < frame.length && frame.charCodeAt(i) >= 48 && frame.charCodeAt(i) <= 57) i++;
    const args = JSON.parse(frame.slice(i)) as unknown[];
    if (type === '3') {
      const id = Number(frame.slice(2, i));
      const ack = this.acks.get(id);
      this.acks.delete(id);
      ack?.(args[0] as Answer<any>);
    } else if (type === '2' && args[0] === 'message') {
      this.onMessage(args[1] as Message);
    }
  }
}
