/**
 * `npm run loadtest -- [profile] [options]`: Parley under load, counted by
 * what every client received, against a cluster started here or a running
 * service, alone or alternating with the bare relay (bench/relay).
 *
 * Module map (bench/loadtest/): options (flags, profiles), target (start or
 * reach the service), fleet (clients connect and join), drive (a phase of
 * traffic), tally (counting per receiver and sender), search (--find-max),
 * resources (CPU, memory), heap (after a full GC, over the inspector),
 * redis-traffic (bytes each instance receives from Redis), report (figures,
 * table, JSON), progress (bar or lines). Clients speak the wire protocol
 * over `ws` (bench/wire.ts) so that the generator stays cheap.
 */
import fs from 'node:fs';
import { parseOptions, USAGE, UsageError, type Options } from './loadtest/options';
import { createProgress, type Progress } from './loadtest/progress';
import { compare, jsonReport, notes, table } from './loadtest/report';
import { runOnce, running, starting, type RunResult } from './loadtest/run';

async function main(argv: string[]): Promise<number> {
  let options: Options;
  try {
    const parsed = parseOptions(argv);
    if (parsed === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    options = parsed;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`loadtest: ${err.message}\n\n${USAGE}\n`);
    return 2;
  }
  const progress = createProgress(process.stderr, !options.progress || !process.stderr.isTTY);
  stopOnSignals(progress);
  warnAboutFileLimit(options, progress);

  const parley: RunResult[] = [];
  const relay: RunResult[] = [];
  const first = options.target;
  // Alternating, so that both see the same noise of a shared machine.
  for (let run = 1; run <= options.runs; run++) {
    (first === 'parley' ? parley : relay).push(await runOnce(first, options, progress, run));
    if (options.compare) relay.push(await runOnce('relay', options, progress, run));
  }
  progress.stop();

  const results = [...parley, ...relay];
  const problems = results.flatMap((r) => r.problems.map((p) => `${r.target} run ${r.run}: ${p}`));
  process.stdout.write(`\n${profileLine(options)}\n\n${table(compare(parley, relay.length ? relay : undefined), options.runs)}\n\n`);
  for (const line of notes(results)) process.stdout.write(`${line}\n`);
  if (options.json) {
    fs.writeFileSync(options.json, `${JSON.stringify(jsonReport(options, argv, parley, relay.length ? relay : undefined, problems), null, 2)}\n`);
    process.stdout.write(`\nJSON written to ${options.json}\n`);
  }
  if (problems.length > 0) {
    process.stdout.write(`\nFAILED:\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
    return 1;
  }
  process.stdout.write('\nOK: nothing lost, repeated, refused or unanswered.\n');
  return 0;
}

function profileLine(o: Options): string {
  const load = o.rate > 0 ? `${o.senders === 'all' ? 'every member' : `${o.senders} per room`} sending ${o.rate} msg/s, warm-up ${o.warmup} s, ${o.duration} s measured` : 'nothing sent';
  return `${o.profile}${o.findMax ? ' --find-max' : ''}: ${o.clients} clients in ${o.rooms} rooms, ${load}${o.compare ? ', alternating with the relay' : ''}`;
}

/**
 * Ctrl-C or SIGTERM: stop every process started here (instances drain, then
 * HAProxy, then Redis) and exit 130; a second signal kills them at once.
 * Whatever way the process exits, nothing it started outlives it.
 */
function stopOnSignals(progress: Progress): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    progress.stop();
    if (stopping) {
      for (const target of running) target.kill();
      process.exit(130);
    }
    stopping = true;
    process.stderr.write(`\nloadtest: ${signal}: stopping what was started ...\n`);
    // A cluster still starting is stopped once it has started (a failed start stops itself).
    const started = [...starting].map((p) => p.then((t) => t.stop(), () => {}));
    void Promise.allSettled([...[...running].map((t) => t.stop()), ...started]).then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => {
    for (const target of running) target.kill();
  });
}

/** Every client is a socket of this process: say so before connecting past the open-files limit. */
function warnAboutFileLimit(options: Options, progress: Progress): void {
  try {
    const limit = Number(/Max open files\s+(\d+)/.exec(fs.readFileSync('/proc/self/limits', 'utf8'))?.[1]);
    if (limit && options.clients + 100 > limit) {
      progress.line(`warning: ${options.clients} clients need more open files than this shell allows (ulimit -n ${limit}): raise it (ulimit -n ${options.clients * 2 + 1000})`);
    }
  } catch {
    // Not Linux: nothing to read.
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`loadtest: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
