/**
 * The tester's clients: placed on the instances (through the balancer, round
 * robin, or a room per instance), connected and joined with a bounded number
 * in flight (all at once for connect-storm), with the time each took and why
 * any failed.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ConnectError, WireSocket } from '../wire';
import type { Options } from './options';
import type { Progress } from './progress';
import { round, Samples, type Percentiles } from './samples';
import type { Target } from './target';

/** Who is where: rooms, members, senders. */
export interface Layout {
  /** Room names, by index. */
  rooms: string[];
  /** The room index of every client. */
  roomOf: number[];
  /** Members per room. */
  membersOf: number[];
  /** Senders: the client index of each, and its room. */
  senderClients: number[];
  senderRooms: number[];
}

/** Spreads `clients` evenly over `rooms` (room r takes clients r, r + rooms, ...) and picks each room's senders. */
export function layout(options: Pick<Options, 'clients' | 'rooms' | 'senders'>, nonce = randomBytes(3).toString('hex')): Layout {
  const rooms = Array.from({ length: options.rooms }, (_, r) => `lt-${nonce}-${r}`);
  const roomOf = Array.from({ length: options.clients }, (_, i) => i % options.rooms);
  const membersOf = rooms.map(() => 0);
  const senderClients: number[] = [];
  const senderRooms: number[] = [];
  for (const [i, r] of roomOf.entries()) {
    if (options.senders === 'all' || membersOf[r] < options.senders) {
      senderClients.push(i);
      senderRooms.push(r);
    }
    membersOf[r]++;
  }
  return { rooms, roomOf, membersOf, senderClients, senderRooms };
}

export interface ConnectFigures {
  attempted: number;
  connected: number;
  /** Connections that did not open, by reason (`timeout`, `http_503`, `econnrefused`, ...). */
  connectFailed: Record<string, number>;
  joined: number;
  /** Joins refused or unanswered, by error code. */
  joinFailed: Record<string, number>;
  /** From the first attempt until the last connection opened / the last join was answered. */
  timeToConnectAllMs: number;
  timeToJoinAllMs: number;
  /** Per client: connect (upgrade to CONNECT answer), and join (sent to answered). */
  connectMs: Percentiles;
  joinMs: Percentiles;
  /** Connections per instance, by the instance id each client's `session` named. */
  spread: Record<string, number>;
}

export class Fleet {
  /** Sockets by client index (undefined: not connected). */
  readonly sockets: Array<WireSocket | undefined>;
  /** Connections the server closed after they were joined. */
  dropped = 0;
  /** The instance id behind each URL clients connected to directly, from their sessions. */
  readonly idOfUrl = new Map<string, string>();
  private closing = false;

  constructor(
    readonly layout: Layout,
    private readonly target: Target,
    private readonly options: Options,
    /** Called with every `message` frame a client receives. */
    private readonly onMessage: (client: number, frame: string) => void,
  ) {
    this.sockets = layout.roomOf.map(() => undefined);
  }

  /** Where client `i` connects, and with which headers. */
  private endpoint(i: number): { url: string; headers?: Record<string, string> } {
    const { placement } = this.options;
    // Without a balancer, clients go round robin to the instances.
    if (placement === 'balancer' && this.target.balancerUrl) return { url: this.target.balancerUrl };
    return this.direct(placement === 'room' ? this.layout.roomOf[i] : i);
  }

  /** Instance `n mod K`: by its own URL, or through the balancer naming it in the sticky cookie. */
  private direct(n: number): { url: string; headers?: Record<string, string> } {
    const { instances, balancerUrl, stickyCookie } = this.target;
    const withUrl = instances.filter((i) => i.url);
    if (withUrl.length > 0) return { url: withUrl[n % withUrl.length].url! };
    if (balancerUrl && stickyCookie && instances.length > 0) {
      return { url: balancerUrl, headers: { cookie: `SERVERID=${instances[n % instances.length].id}` } };
    }
    if (this.options.placement === 'room') throw new Error('--placement room needs the instances\' own URLs in --url (or a cluster started here)');
    if (balancerUrl) return { url: balancerUrl };
    throw new Error('no instance URL to place clients on');
  }

  /** Connects every client and joins its room; resolves with what it took. */
  async connect(progress: Progress, nonce: string): Promise<ConnectFigures> {
    const { roomOf, rooms } = this.layout;
    const total = roomOf.length;
    const connectMs = new Samples();
    const joinMs = new Samples();
    const connectFailed: Record<string, number> = {};
    const joinFailed: Record<string, number> = {};
    let connected = 0;
    let joined = 0;
    let lastConnect = 0;
    let lastJoin = 0;
    const t0 = performance.now();
    progress.stage('connect', total);

    const one = async (i: number) => {
      const { url, headers } = this.endpoint(i);
      const started = performance.now();
      let socket: WireSocket;
      try {
        socket = await WireSocket.connect(url, { name: `lt-${nonce}-${i}` }, { headers, timeoutMs: 30_000 });
      } catch (err) {
        const reason = err instanceof ConnectError ? err.reason : 'error';
        connectFailed[reason] = (connectFailed[reason] ?? 0) + 1;
        return;
      }
      lastConnect = performance.now();
      connectMs.add(lastConnect - started);
      connected++;
      this.sockets[i] = socket;
      socket.onMessageFrame = (frame) => this.onMessage(i, frame);
      const joining = performance.now();
      const answer = await Promise.race([
        socket.emit('room:join', { room: rooms[roomOf[i]] }),
        timeout(this.options.ackTimeoutMs),
      ]);
      if (answer !== 'timeout' && answer.ok) {
        lastJoin = performance.now();
        joinMs.add(lastJoin - joining);
        joined++;
        // `session` comes before the join's answer on the same connection.
        if (!headers && socket.instanceId) this.idOfUrl.set(url, socket.instanceId);
        socket.onClose = () => {
          if (!this.closing) this.dropped++;
        };
      } else {
        const code = answer === 'timeout' ? 'unanswered' : answer.error.code;
        joinFailed[code] = (joinFailed[code] ?? 0) + 1;
        this.sockets[i] = undefined;
        socket.close();
      }
      progress.update(joined, `${connected} connected, ${joined} joined`);
    };

    let next = 0;
    const workers = Array.from({ length: Math.min(this.options.connectConcurrency, total) }, async () => {
      while (next < total) await one(next++);
    });
    await Promise.all(workers);
    progress.done(`${connected}/${total} connected in ${ms(lastConnect - t0)}, ${joined} joined in ${ms(lastJoin - t0)}`);

    const spread: Record<string, number> = {};
    for (const socket of this.sockets) {
      if (!socket) continue;
      const id = socket.instanceId ?? 'unknown';
      spread[id] = (spread[id] ?? 0) + 1;
    }
    return {
      attempted: total,
      connected,
      connectFailed,
      joined,
      joinFailed,
      timeToConnectAllMs: round(connected ? lastConnect - t0 : 0),
      timeToJoinAllMs: round(joined ? lastJoin - t0 : 0),
      connectMs: connectMs.percentiles(),
      joinMs: joinMs.percentiles(),
      spread,
    };
  }

  /** Closes every connection (expected: not counted as dropped). */
  close(): void {
    this.closing = true;
    for (const socket of this.sockets) socket?.terminate();
  }
}

/** Resolves with 'timeout' after `ms`, without keeping the process alive. */
export function timeout(ms: number): Promise<'timeout'> {
  return new Promise((resolve) => setTimeout(() => resolve('timeout'), ms).unref());
}

function ms(value: number): string {
  return `${Math.round(Math.max(0, value))} ms`;
}
