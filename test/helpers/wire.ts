import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { defer } from './cleanup';

/** A frame as it came off the WebSocket: text, or the bytes of a binary frame. */
export type Frame = string | Buffer;

/**
 * A raw Engine.IO v4 client over one WebSocket, for sending what no honest
 * socket.io-client would. It answers the server's pings (so that a slow test
 * is not dropped by the heartbeat) and records every other frame; `next`
 * waits for the first unread frame that matches. Closed after the test.
 */
export class WireClient {
  /** Every frame received, pings excepted, in order. */
  readonly frames: Frame[] = [];
  /** Resolves when the WebSocket closes, with its close code. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Indexes of the frames a `next` already handed out. */
  private readonly taken = new Set<number>();
  private readonly waiters = new Set<() => void>();
  private isClosed = false;
  /** The TCP socket under the WebSocket, from the upgrade's response. */
  private tcp: Socket | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.once('upgrade', (res: IncomingMessage) => (this.tcp = res.socket));
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const frame: Frame = isBinary ? data : data.toString('utf8');
      if (frame === '2') {
        if (ws.readyState === WebSocket.OPEN) ws.send('3');
        return;
      }
      this.frames.push(frame);
      this.wake();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code: number, reason: Buffer) => {
        this.isClosed = true;
        this.wake();
        resolve({ code, reason: reason.toString() });
      });
    });
    // An 'error' (e.g. a refused upgrade) is followed by 'close'; tests look at that.
    ws.on('error', () => {});
  }

  /**
   * Opens an Engine.IO WebSocket session on `url` (`http://host:port`) and
   * resolves once the server's open packet (`0{...}`) arrived.
   */
  static async open(url: string, headers: Record<string, string> = {}): Promise<WireClient> {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`, { headers });
    const client = new WireClient(ws);
    defer(() => client.close());
    const open = await client.next((f) => typeof f === 'string' && f.startsWith('0'));
    if (typeof open !== 'string') throw new Error('no Engine.IO open packet');
    return client;
  }

  /**
   * Opens a session and sends the Socket.IO CONNECT packet with `auth`;
   * resolves once the server answered it (`40{"sid":...}`) and sent `session`.
   */
  static async connect(url: string, auth: unknown = { name: 'wire' }): Promise<WireClient> {
    const client = await WireClient.open(url);
    client.send(`40${JSON.stringify(auth)}`);
    await client.next((f) => typeof f === 'string' && f.startsWith('40'));
    await client.next((f) => typeof f === 'string' && f.startsWith('42["session"'));
    return client;
  }

  /** Resolves with the close code once the server closed the connection; rejects after `timeoutMs`. */
  waitClosed(timeoutMs = 5000): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`still open after ${timeoutMs} ms; last frames: ${JSON.stringify(this.frames.slice(-5))}`)), timeoutMs);
    });
    return Promise.race([this.closed.then(({ code }) => code), timeout]).finally(() => clearTimeout(timer));
  }

  send(frame: Frame): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(frame);
  }

  /** Sends `42[event, ...args]`-style frames: a Socket.IO EVENT, with an ack id when given. */
  emit(event: string, payload: unknown, ackId?: number): void {
    this.send(`42${ackId ?? ''}${JSON.stringify([event, payload])}`);
  }

  /** Resolves with the ack (`43<id>[answer]`) of `ackId`, parsed. */
  async ack<T = any>(ackId: number, timeoutMs = 5000): Promise<T> {
    const prefix = `43${ackId}[`;
    const frame = (await this.next((f) => typeof f === 'string' && f.startsWith(prefix), timeoutMs)) as string;
    return (JSON.parse(frame.slice(prefix.length - 1)) as T[])[0];
  }

  /** Emits with an ack id and resolves with the answer. */
  async call<T = any>(event: string, payload: unknown, ackId: number): Promise<T> {
    this.emit(event, payload, ackId);
    return this.ack<T>(ackId);
  }

  /**
   * Resolves with the first frame not taken yet that passes `match` (frames
   * before it that do not match stay for a later `next`); rejects on close or
   * timeout.
   */
  next(match: (frame: Frame) => boolean = () => true, timeoutMs = 5000): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = 0; i < this.frames.length; i++) {
          if (!this.taken.has(i) && match(this.frames[i])) {
            this.taken.add(i);
            const frame = this.frames[i];
            done();
            resolve(frame);
            return;
          }
        }
        if (this.isClosed) {
          done();
          reject(new Error(`connection closed while waiting; frames: ${JSON.stringify(this.frames.slice(-5))}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms; last frames: ${JSON.stringify(this.frames.slice(-5))}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /**
   * Stops reading the TCP socket (a client that no longer takes what the
   * server sends: the kernel's buffers fill, then the server's); frames
   * can still be sent. `resumeReading` reads again.
   */
  stopReading(): void {
    this.tcp?.pause();
  }

  resumeReading(): void {
    this.tcp?.resume();
  }

  close(): void {
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.terminate();
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
