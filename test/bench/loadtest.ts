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

/** A process as /proc shows it: its parent, its state and its start time (so that a reused pid is not taken for it). */
function procStat(pid: number): { ppid: number; start: string; state: string } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], ppid: Number(fields[1]), start: fields[19] };
  } catch {
    return undefined;
  }
}

/** Every process descended from `root` now, with its start time. */
function descendants(root: number): Map<number, string> {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), Number(entry)]);
  }
  const found = new Map<number, string>();
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      const stat = procStat(child);
      if (stat) found.set(child, stat.start);
      queue.push(child);
    }
  }
  return found;
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
  const alive = () =>
    [...seen].filter(([pid, start]) => {
      const stat = procStat(pid);
      return stat !== undefined && stat.start === start && stat.state !== 'Z';
    }).map(([pid]) => pid);
  defer(() => {
    child.kill('SIGKILL');
    for (const pid of alive()) process.kill(pid, 'SIGKILL');
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
  return { code, signal, stdout, stderr, json, leftovers: alive() };
}
