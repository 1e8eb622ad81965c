import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pollUntil } from '../../scripts/topology/instance';
import { defer } from './cleanup';

/** The built server: process tests need `npm run build` first. */
export const MAIN = path.join(__dirname, '..', '..', 'dist', 'server', 'main.js');

export interface ServerProcess {
  child: ChildProcess;
  /** Kills the process (SIGKILL) unless it already ended, and waits for it. */
  kill(): Promise<void>;
  /** Everything written so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with how the process ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface RunningServer extends ServerProcess {
  /** As printed by the process: `http://HOST:PORT`. */
  url: string;
  port: number;
}

/**
 * Spawns `node dist/server/main.js` with exactly `env` (plus PATH): nothing
 * leaks in from the caller's environment, so a REDIS_URL or AUTH_SECRET set
 * on the machine cannot change what a test sees. Killed after the test if it
 * is still running, or, with `{ perSuite: true }`, left to the caller's
 * `afterAll(() => proc.kill())` so that several tests can share it.
 */
export function spawnServer(env: Record<string, string>, options: { perSuite?: boolean } = {}): ServerProcess {
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  if (!options.perSuite) defer(kill);
  return { child, kill, stdout: () => out, stderr: () => err, exited };
}

/**
 * Spawns the server and resolves once it printed "Parley is running at
 * http://HOST:PORT"; rejects if it exits or stays silent for 10 s. Options as
 * for `spawnServer`.
 */
export async function startServerProcess(env: Record<string, string> = {}, options: { perSuite?: boolean } = {}): Promise<RunningServer> {
  const proc = spawnServer({ PORT: '0', HOST: '127.0.0.1', ...env }, options);
  try {
    const url = await printedUrl(proc);
    return { ...proc, url, port: Number(new URL(url).port) };
  } catch (err) {
    // A per-suite process that never started would be nobody's to kill.
    await proc.kill();
    throw err;
  }
}

function printedUrl(proc: ServerProcess): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL within 10 s; stderr: ${proc.stderr()}`)), 10_000);
    const onData = () => {
      const match = /Parley is running at (http:\/\/\S+)/.exec(proc.stdout());
      if (!match) return;
      clearTimeout(timer);
      proc.child.stdout!.off('data', onData);
      resolve(match[1]);
    };
    proc.child.stdout!.on('data', onData);
    proc.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code ?? signal}) before listening; stderr: ${proc.stderr()}`));
    });
    onData();
  });
}

export { freePort } from '../../scripts/topology/instance';

/**
 * Polls `check` until it returns true, for conditions that announce
 * themselves with no event (an HTTP probe); rejects at the deadline. A check
 * that throws counts as false.
 */
export function until(what: string, check: () => Promise<boolean>, timeoutMs = 5000, everyMs = 25): Promise<void> {
  return pollUntil(what, () => check().catch(() => false), { timeoutMs, intervalMs: everyMs });
}
