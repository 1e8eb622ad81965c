/**
 * Runs the built load tester (node dist/bench/loadtest.js) as a user would,
 * and keeps track of every process it starts, so that a test can tell that
 * none outlives it.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../scripts/topology/instance';
import { defer } from '../helpers/cleanup';
import { alive, descendants } from '../helpers/processes';

export const LOADTEST = path.join(repoRoot(), 'dist', 'bench', 'loadtest.js');

export interface LoadtestRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The `--json` document (undefined when none was written). */
  json?: any;
  /** Processes that were seen under the tester and still run after it exited. */
  leftovers: number[];
}

/**
 * Runs the load tester with `args` (plus `--json` to a temp file and
 * `--no-progress`) and resolves once it exited. `interruptWhen` sends SIGINT
 * as soon as its output matches.
 */
export async function runLoadtest(args: string[], { interruptWhen }: { interruptWhen?: RegExp } = {}): Promise<LoadtestRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-loadtest-'));
  const jsonFile = path.join(dir, 'result.json');
  const child = spawn(process.execPath, [LOADTEST, ...args, '--json', jsonFile, '--no-progress'], {
    cwd: repoRoot(),
    env: { PATH: `${process.env.PATH}:/usr/sbin`, HOME: process.env.HOME },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const seen = new Map<number, string>();
  const look = () => {
    for (const [pid, start] of descendants(child.pid!)) seen.set(pid, start);
  };
  defer(() => {
    child.kill('SIGKILL');
    for (const pid of alive(seen)) process.kill(pid, 'SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  let stdout = '';
  let stderr = '';
  let interrupted = false;
  const onOutput = () => {
    look();
    if (interruptWhen && !interrupted && interruptWhen.test(stdout + stderr)) {
      interrupted = true;
      child.kill('SIGINT');
    }
  };
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    onOutput();
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    onOutput();
  });
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (c, s) => resolve({ code: c, signal: s })),
  );
  const json = fs.existsSync(jsonFile) ? JSON.parse(fs.readFileSync(jsonFile, 'utf8')) : undefined;
  return { code, signal, stdout, stderr, json, leftovers: alive(seen) };
}
