/**
 * Spawns and controls one Parley instance process (`node dist/server/main.js`)
 * for the local cluster and the process-level tests.
 *
 * The instance runs under node directly, never under npm: npm does not
 * forward SIGTERM, and draining needs the signal to reach the server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

export interface InstanceOptions {
  /** Port to listen on. @default 0 (the system picks a free one; read back from the banner) */
  port?: number;
  /** Bind address. @default "127.0.0.1" */
  host?: string;
  /**
   * Settings for the instance (`REDIS_URL`, `INSTANCE_ID`, `LIMITS`,
   * `LOG_LEVEL`, ...), laid over the inherited environment. A variable set
   * to `undefined` is removed from what the child inherits.
   */
  env?: Record<string, string | undefined>;
  /**
   * Whether the child inherits this process's environment (true: a cluster
   * started from a shell takes its AUTH_SECRET, LIMITS, ...). Tests pass
   * false so that nothing set on the machine changes what they see: the child
   * then gets `env` plus PATH and HOME only.
   * @default true
   */
  inheritEnv?: boolean;
  /** How long to wait for `/readyz` to answer 200. @default 20000 */
  readyTimeoutMs?: number;
  /** Whether to wait for `/readyz` 200 at all (false: only for the port). @default true */
  waitReady?: boolean;
  /** Also append the instance's output (pino JSON lines) to this file. */
  logFile?: string;
  /** Called with every line the instance writes, stdout and stderr. */
  onLine?: (line: string) => void;
  /**
   * The script to run instead of the Parley server (the load tester's relay
   * uses the same launcher). It must print `<Name> is running at
   * http://host:port` once it listens and answer `/readyz`.
   * @default serverEntry()
   */
  entry?: string;
  /** Options for node before the script, e.g. `['--inspect=127.0.0.1:0']`. @default [] */
  nodeArgs?: string[];
}

/** A running instance process. */
export interface Instance {
  /** `http://host:port`, for clients and HTTP calls. */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** What the instance reports in `session` and its logs. */
  readonly instanceId: string;
  /** Resolves with the exit code once the process has exited (null when a signal ended it). */
  readonly exited: Promise<number | null>;
  /** Whether the process has exited. */
  hasExited(): boolean;
  /** Sends a signal; a no-op once the process has exited. */
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM (the instance drains, then exits); resolves with the exit code. Idempotent. */
  stop(): Promise<number | null>;
  /** SIGKILL: dies at once, as on a crash; resolves once it is gone. */
  kill(): Promise<number | null>;
  /** SIGSTOP: frozen, sockets open but silent (a hung process). */
  pause(): void;
  /** SIGCONT after `pause()`. */
  resume(): void;
  /** Everything the instance wrote so far (the last 1 MiB), for diagnosis. */
  output(): string;
}

/** Bytes of output kept in memory per instance. */
const OUTPUT_LIMIT = 1 << 20;

/** The repository root: the nearest folder above this file with a package.json (works from `scripts/` and `dist/scripts/`). */
export function repoRoot(from: string = __dirname): string {
  let dir = from;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
  return dir;
}

/** The built server entry point; `npm run build` makes it. */
export function serverEntry(): string {
  return path.join(repoRoot(), 'dist', 'server', 'main.js');
}

/**
 * Asks the system for a free TCP port. Another process may take it before
 * it is used, so callers that bind it themselves should retry on EADDRINUSE.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** GET `url` and resolve with the status code (0 when nothing answered within `timeoutMs`). */
export function httpStatus(url: string, timeoutMs = 1000): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/**
 * Polls until `check` resolves true, every `intervalMs`, and throws `what`
 * after `timeoutMs`. For conditions that emit no event (a port opening,
 * `/readyz` turning 200). `abort` ends the wait early with its error.
 */
export async function pollUntil(
  what: string,
  check: () => Promise<boolean>,
  { timeoutMs = 10_000, intervalMs = 50, abort }: { timeoutMs?: number; intervalMs?: number; abort?: () => Error | undefined } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const aborted = abort?.();
    if (aborted) throw aborted;
    if (await check()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Keeps the last `limit` characters of a stream of text, and splits it into lines for `onLine`. */
class OutputBuffer {
  private text = '';
  private partial = '';

  constructor(private readonly onLine?: (line: string) => void, private readonly limit = OUTPUT_LIMIT) {}

  push(chunk: string): void {
    this.text += chunk;
    if (this.text.length > this.limit) this.text = this.text.slice(-this.limit);
    if (!this.onLine) return;
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) if (line) this.onLine(line);
  }

  toString(): string {
    return this.text;
  }
}

/** The last lines of some output, to put in an error message. */
export function tail(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Wraps a spawned child: its output kept in a buffer (and a file), its exit
 * as a promise, signals that are no-ops once it is gone. Shared by the
 * instance and the balancer launchers.
 */
export function superviseChild(
  child: ChildProcess,
  { logFile, onLine }: { logFile?: string; onLine?: (line: string) => void } = {},
) {
  const output = new OutputBuffer(onLine);
  const file = logFile ? fs.createWriteStream(logFile, { flags: 'a' }) : undefined;
  // A log file that cannot be written must not take the launcher down.
  file?.on('error', () => {});
  const take = (chunk: Buffer) => {
    output.push(chunk.toString('utf8'));
    file?.write(chunk);
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);

  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    // 'close' (not 'exit'): the output has been read to its end by then.
    child.once('close', (code) => {
      exitCode = code;
      file?.end();
      resolve(code);
    });
    // A spawn failure (missing binary) emits 'error' and may never 'close'.
    child.once('error', (err) => {
      output.push(`spawn failed: ${err.message}\n`);
      if (child.pid === undefined) {
        exitCode = null;
        resolve(null);
      }
    });
  });
  const hasExited = () => exitCode !== undefined;
  const signal = (sig: NodeJS.Signals) => {
    if (hasExited()) return;
    try {
      child.kill(sig);
    } catch {
      // Gone between the check and the signal.
    }
  };
  return { output, exited, hasExited, signal };
}

let counter = 0;

/**
 * Starts `node dist/server/main.js` and resolves once `/readyz` answers 200.
 * Rejects, with the end of the instance's output, when it exits or is not
 * ready in time (and kills it then).
 */
export async function startInstance(options: InstanceOptions = {}): Promise<Instance> {
  const entry = options.entry ?? serverEntry();
  if (!fs.existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first`);
  const host = options.host ?? '127.0.0.1';
  const instanceId = options.env?.INSTANCE_ID ?? `parley-${process.pid}-${++counter}`;

  const env: NodeJS.ProcessEnv =
    options.inheritEnv === false ? { PATH: process.env.PATH, HOME: process.env.HOME } : { ...process.env };
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  Object.assign(env, { PORT: String(options.port ?? 0), HOST: host, INSTANCE_ID: instanceId });

  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), entry], {
    cwd: repoRoot(),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { output, exited, hasExited, signal } = superviseChild(child, options);

  const failed = (why: string) =>
    new Error(`instance ${instanceId} ${why}; its output:\n${tail(output.toString())}`);
  const abort = () => (hasExited() ? new Error('exited during start-up') : undefined);

  try {
    // With port 0 the system picks the port; the banner line tells which.
    let port = options.port ?? 0;
    let scheme = 'http';
    await pollUntil(
      `instance ${instanceId} to listen`,
      async () => {
        const banner = /\b[A-Z]\w* is running at (https?):\/\/[^\s:]+:(\d+)/.exec(output.toString());
        if (banner) [, scheme, port] = [banner[0], banner[1], Number(banner[2])];
        return banner !== null;
      },
      { timeoutMs: options.readyTimeoutMs ?? 20_000, abort },
    );
    // An https instance (TLS_CERT) is checked by its caller, who holds the CA: waitReady false.
    const url = `${scheme}://${host}:${port}`;
    if (options.waitReady ?? true) {
      await pollUntil(`${url}/readyz to answer 200`, async () => (await httpStatus(`${url}/readyz`)) === 200, {
        timeoutMs: options.readyTimeoutMs ?? 20_000,
        abort,
      });
    }

    let stopping: Promise<number | null> | undefined;
    return {
      url,
      port,
      pid: child.pid!,
      instanceId,
      exited,
      hasExited,
      signal,
      stop() {
        signal('SIGTERM');
        return (stopping ??= exited);
      },
      kill() {
        signal('SIGKILL');
        return exited;
      },
      pause: () => signal('SIGSTOP'),
      resume: () => signal('SIGCONT'),
      output: () => output.toString(),
    };
  } catch (err) {
    signal('SIGKILL');
    await exited;
    throw failed(`did not start: ${(err as Error).message}`);
  }
}
