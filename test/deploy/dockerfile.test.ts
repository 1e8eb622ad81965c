/**
 * The Dockerfile, checked without Docker: what the image runs and how it
 * stops, and its HEALTHCHECK command run for real against an instance.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startServer } from '../helpers/server';

const root = path.resolve(__dirname, '..', '..');

interface Instruction {
  keyword: string;
  args: string;
}

/** The Dockerfile's instructions, continuation lines joined, per stage. */
function stages(file: string): Instruction[][] {
  const text = fs.readFileSync(file, 'utf8').replace(/\\\n/g, ' ');
  const result: Instruction[][] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m || line.trim().startsWith('#')) continue;
    const instruction = { keyword: m[1].toUpperCase(), args: m[2].trim() };
    if (instruction.keyword === 'FROM') result.push([]);
    result[result.length - 1].push(instruction);
  }
  return result;
}

/** The exec form `["a", "b"]` of an instruction, as a list. */
function execForm(args: string): string[] {
  return JSON.parse(args.replace(/^CMD\s+/, '')) as string[];
}

/** Runs a command list with PORT set; resolves with its exit code. */
function run(argv: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const [cmd, ...args] = argv;
    const child = execFile(cmd === 'node' ? process.execPath : cmd, args, { env: { ...process.env, ...env }, timeout: 10_000 });
    child.on('exit', (code) => resolve(code ?? -1));
  });
}

describe('Dockerfile', () => {
  const [build, final] = stages(path.join(root, 'Dockerfile'));
  const find = (stage: Instruction[], keyword: string) => stage.filter((i) => i.keyword === keyword);

  it('builds on node:20-slim in two stages and keeps production dependencies only', () => {
    expect(find(build, 'FROM')[0].args).toMatch(/^node:20-slim\b/);
    expect(find(final, 'FROM')[0].args).toMatch(/^node:20-slim$/);
    const steps = find(build, 'RUN').map((i) => i.args).join('\n');
    expect(steps).toMatch(/npm ci/);
    expect(steps).toMatch(/npm run build/);
    expect(steps).toMatch(/npm prune --omit=dev/);
    expect(find(final, 'COPY').map((i) => i.args)).toEqual(expect.arrayContaining([expect.stringMatching(/--from=build .*dist/)]));
  });

  it('runs node directly as a non-root user and drains on SIGTERM', () => {
    const user = find(final, 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(find(final, 'STOPSIGNAL').at(-1)?.args).toBe('SIGTERM');
    expect(find(final, 'ENTRYPOINT')).toEqual([]);
    expect(execForm(find(final, 'CMD').at(-1)!.args)).toEqual(['node', 'dist/server/main.js']);
  });

  it('HEALTHCHECK passes while the instance is ready and fails while it drains', async () => {
    const healthcheck = find(final, 'HEALTHCHECK').at(-1)!.args;
    const argv = execForm(healthcheck.slice(healthcheck.indexOf('CMD ')));
    expect(argv[0]).toBe('node');

    const server = await startServer();
    expect(await run(argv, { PORT: String(server.port) })).toBe(0);
    await server.app.drain();
    expect(await run(argv, { PORT: String(server.port) })).toBe(1);
    await server.app.close();
    expect(await run(argv, { PORT: String(server.port) })).toBe(1);
  });

  it('sends the sources to the build, without node_modules, dist or the local cluster data', () => {
    const ignored = fs.readFileSync(path.join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git', '.cluster']));
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'server', 'protocol', 'client', 'scripts']) {
      expect(ignored).not.toContain(needed);
      expect(fs.existsSync(path.join(root, needed))).toBe(true);
    }
  });
});
