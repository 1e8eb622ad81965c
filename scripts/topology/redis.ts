/**
 * Starts and controls a private `redis-server` for tests and for a local
 * cluster: a free port on 127.0.0.1, data in its own folder, append-only file
 * on, and handles to stop, kill, freeze and restart it for fault tests.
 *
 * It never touches a Redis it did not start (in particular not the one on
 * 6379): it only signals the process it spawned, by its pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './instance';

export interface StartRedisOptions {
  /** Data folder (AOF lives here). @default a new temporary folder */
  dir?: string;
  /** Port to listen on. @default a free port */
  port?: number;
  /** Keep an append-only file, so that a restart keeps the data. @default true */
  appendonly?: boolean;
  /**
   * AOF fsync policy. `everysec` may lose the last second on SIGKILL; a
   * graceful stop (SIGTERM) fsyncs either way.
   * @default "everysec"
   */
  appendfsync?: 'always' | 'everysec' | 'no';
  /** Executable. @default "redis-server" from PATH */
  bin?: string;
  /** Extra command-line arguments, e.g. `['--maxmemory', '10mb']`. @default [] */
  args?: string[];
  /** How long to wait for the server to answer PING. @default 10000 */
  startTimeoutMs?: number;
}

export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Pid of the current process (it changes on restart; 0 while stopped). */
  readonly pid: number;
  /** Data folder. */
  readonly dir: string;
  /** Whether a process is running (possibly paused). */
  readonly running: boolean;
  /** SIGTERM (Redis fsyncs and exits cleanly) and waits for the exit. No-op when stopped. */
  stop(): Promise<void>;
  /** SIGKILL and waits for the exit: the crash case. No-op when stopped. */
  kill(): Promise<void>;
  /** SIGSTOP: the process stays, its socket stays open, nothing answers. */
  pause(): void;
  /** SIGCONT after `pause()`. */
  resume(): void;
  /** Starts again on the same port and folder (stopping first if running); resolves once it answers PING. */
  restart(): Promise<void>;
  /** Stops and, when the folder was a temporary one made here, removes it. */
  destroy(): Promise<void>;
}

/** Sends one PING over a raw connection; resolves true on `+PONG`. */
export async function ping(port: number, timeoutMs = 1000): Promise<boolean> {
  return (await command(port, 'PING', timeoutMs))?.startsWith('+PONG') ?? false;
}

/**
 * The pid of the redis-server answering on `port` (from `INFO server`), or
 * undefined if none answers or it is still loading its data.
 */
async function serverPid(port: number, timeoutMs: number): Promise<number | undefined> {
  const reply = await command(port, 'INFO', timeoutMs, 'server');
  const match = reply?.startsWith('$') ? /process_id:(\d+)/.exec(reply) : null;
  return match ? Number(match[1]) : undefined;
}

/**
 * One command over a raw RESP connection to 127.0.0.1:`port`; resolves with
 * the raw reply (`+OK`, `:1`, or a bulk string with its `$<length>` header),
 * or undefined on any failure.
 */
export function command(port: number, name: string, timeoutMs: number, ...args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let buffer = '';
    const done = (reply: string | undefined) => {
      socket.destroy();
      resolve(reply);
    };
    socket.setTimeout(timeoutMs, () => done(undefined));
    socket.once('error', () => done(undefined));
    socket.once('close', () => done(undefined));
    socket.once('connect', () => {
      const parts = [name, ...args];
      socket.write(`*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`);
    });
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      const eol = buffer.indexOf('\r\n');
      if (eol < 0) return;
      if (buffer[0] !== '$') return done(buffer.slice(0, eol));
      // A bulk string: wait for all of it.
      const length = Number(buffer.slice(1, eol));
      if (buffer.length >= eol + 2 + length) done(buffer);
    });
  });
}

/** Live children, killed if this process exits without stopping them. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

class StartError extends Error {
  constructor(
    message: string,
    readonly addressInUse: boolean,
  ) {
    super(message);
  }
}

/**
 * Starts a `redis-server` and resolves once it answers PING.
 *
 * @example
 * const redis = await startRedis();
 * // ... REDIS_URL=redis.url ...
 * await redis.stop(); await redis.restart(); await redis.destroy();
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  installExitHook();
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'parley-redis-'));
  fs.mkdirSync(dir, { recursive: true });
  const bin = options.bin ?? 'redis-server';
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;

  const argsFor = (port: number): string[] => [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--appendonly', options.appendonly === false ? 'no' : 'yes',
    '--appendfsync', options.appendfsync ?? 'everysec',
    '--save', '',
    '--daemonize', 'no',
    '--logfile', '',
    ...(options.args ?? []),
  ];

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let paused = false;

  /** Spawns on `port` and waits until it answers; rejects (having reaped the process) if it exits first. */
  async function launch(port: number): Promise<void> {
    const proc = spawn(bin, argsFor(port), { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    // Keep the tail of the log for error messages; reading also keeps the pipe from filling.
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    let hasExited = false;
    const exitPromise = new Promise<void>((resolve) => {
      proc.once('exit', () => {
        hasExited = true;
        live.delete(proc);
        resolve();
      });
    });
    const spawnError = new Promise<Error>((resolve) => proc.once('error', resolve));
    live.add(proc);

    const deadline = Date.now() + startTimeoutMs;
    let delay = 10;
    for (;;) {
      const failure = await Promise.race([
        spawnError,
        exitPromise.then(() => new Error('exited')),
        // Our process, not another server that already held the port.
        serverPid(port, 500).then((pid) => (pid === proc.pid ? null : undefined)),
      ]);
      if (failure === null) break;
      if (failure instanceof Error || hasExited) {
        // A spawn error (no such executable) may come without an 'exit'.
        if (failure instanceof Error && failure.message !== 'exited') live.delete(proc);
        else await exitPromise;
        const inUse = /address already in use/i.test(output);
        throw new StartError(
          `redis-server on port ${port} did not start: ${failure instanceof Error && failure.message !== 'exited' ? failure.message : output.trim().split('\n').slice(-3).join(' | ')}`,
          inUse,
        );
      }
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        await exitPromise;
        throw new StartError(`redis-server on port ${port} did not answer PING within ${startTimeoutMs} ms`, false);
      }
      // Polling PING with a deadline: redis-server has no readiness event we can wait on portably.
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 100);
    }
    child = proc;
    exited = exitPromise;
    paused = false;
  }

  let port = options.port ?? 0;
  for (let attempt = 0; ; attempt++) {
    const tryPort = options.port ?? (await freePort());
    try {
      await launch(tryPort);
      port = tryPort;
      break;
    } catch (err) {
      // Another process took the free port between our probe and the bind: pick another.
      if (err instanceof StartError && err.addressInUse && options.port === undefined && attempt < 5) continue;
      if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  async function signalAndWait(signal: NodeJS.Signals): Promise<void> {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) {
      await exited;
      child = undefined;
      return;
    }
    proc.kill(signal);
    // A stopped process handles SIGTERM only once it runs again.
    if (paused) proc.kill('SIGCONT');
    paused = false;
    if (signal !== 'SIGKILL') {
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    } else {
      await exited;
    }
    child = undefined;
  }

  const server: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    get pid() {
      return child?.pid ?? 0;
    },
    get running() {
      return child !== undefined;
    },
    stop: () => signalAndWait('SIGTERM'),
    kill: () => signalAndWait('SIGKILL'),
    pause() {
      if (!child) throw new Error('redis-server is not running');
      child.kill('SIGSTOP');
      paused = true;
    },
    resume() {
      if (!child) throw new Error('redis-server is not running');
      child.kill('SIGCONT');
      paused = false;
    },
    async restart() {
      await signalAndWait('SIGTERM');
      // The port was ours a moment ago; if something grabbed it meanwhile, give it a few tries.
      for (let attempt = 0; ; attempt++) {
        try {
          await launch(port);
          return;
        } catch (err) {
          if (!(err instanceof StartError && err.addressInUse) || attempt >= 20) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    async destroy() {
      await signalAndWait('SIGTERM');
      if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
