/**
 * The process tree as /proc shows it, for tests that check a launcher leaves
 * nothing running behind it. A pid is remembered with its start time, so
 * that a pid reused by another process is not taken for it.
 */
import fs from 'node:fs';

/** A process's parent, state and start time; undefined once it is gone. */
function procStat(pid: number): { ppid: number; start: string; state: string } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name, in parentheses, may hold spaces: count fields after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], ppid: Number(fields[1]), start: fields[19] };
  } catch {
    return undefined;
  }
}

/** Every process descended from `root` now, with its start time. */
export function descendants(root: number): Map<number, string> {
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

/** Those of `processes` (pid → start time) still running; a zombie has ended. */
export function alive(processes: Map<number, string>): number[] {
  return [...processes]
    .filter(([pid, start]) => {
      const stat = procStat(pid);
      return stat !== undefined && stat.start === start && stat.state !== 'Z';
    })
    .map(([pid]) => pid);
}
