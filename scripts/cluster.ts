/**
 * `npm run cluster -- [--instances 3] [--port 8080] [--host 127.0.0.1] [--redis-url redis://...]
 *                     [--redis-shards N [--redis-replicas R]]`
 *
 * Runs Parley locally as a service, without Docker: redis-server from PATH
 * (append-only file in .cluster/redis), or a Redis Cluster of N shards
 * (in .cluster/redis-cluster), unless a Redis URL or cluster is given; M
 * instances, and HAProxy in front. Prints the URLs; Ctrl-C or SIGTERM stops
 * everything, instances draining first.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { findHaproxy } from './topology/balancer';
import { DEFAULT_INSTANCES, startCluster, type Cluster } from './topology/cluster';
import { repoRoot } from './topology/instance';

interface Args {
  instances: number;
  port: number;
  host: string;
  redisUrl?: string;
  redisClusterNodes?: string[];
  redisShards?: number;
  redisReplicas?: number;
  dataDir: string;
}

const USAGE = `usage: npm run cluster -- [options]

  --instances N      Parley instances to run (default ${DEFAULT_INSTANCES})
  --port P           balancer port; 0 picks a free one (default 8080)
  --host H           balancer address (default 127.0.0.1; 0.0.0.0 for the network)
  --redis-url URL    use this Redis instead of starting one (default: $REDIS_URL,
                     else redis-server from PATH with its data in <data-dir>/redis)
  --redis-shards N   start a Redis Cluster of N shards instead of one redis-server
                     (redis-server --cluster-enabled from PATH, joined with redis-cli;
                     data in <data-dir>/redis-cluster)
  --redis-replicas R replicas of each shard's master (default 0; with --redis-shards)
  --redis-cluster-nodes URL,...
                     use this Redis Cluster (default: $REDIS_CLUSTER_NODES)
  --data-dir DIR     Redis data and every process's log (default .cluster)

Every instance also takes the usual settings from the environment
(AUTH_SECRET, LIMITS, LOG_LEVEL, ALLOWED_ORIGINS, ...).`;

class UsageError extends Error {}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    instances: DEFAULT_INSTANCES,
    port: 8080,
    host: '127.0.0.1',
    dataDir: path.join(repoRoot(), '.cluster'),
  };
  const redisUrl = (url: string) => {
    if (!/^rediss?:\/\//.test(url)) throw new UsageError(`a Redis URL must start with redis:// or rediss:// (got ${url})`);
    return url;
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
      return v;
    };
    const whole = (min: number, max: number) => {
      const v = value();
      if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`${flag}: a whole number from ${min} to ${max} (got ${v})`);
      return Number(v);
    };
    switch (flag) {
      case '--instances':
      case '-n':
        args.instances = whole(1, 64);
        break;
      case '--port':
      case '-p':
        args.port = whole(0, 65535);
        break;
      case '--host':
        args.host = value();
        break;
      case '--redis-url':
        args.redisUrl = redisUrl(value());
        break;
      case '--redis-cluster-nodes':
        args.redisClusterNodes = value().split(',').filter(Boolean).map(redisUrl);
        break;
      case '--redis-shards':
        args.redisShards = whole(1, 16);
        break;
      case '--redis-replicas':
        args.redisReplicas = whole(0, 5);
        break;
      case '--data-dir':
        args.dataDir = path.resolve(value());
        break;
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
      // eslint-disable-next-line no-fallthrough
      default:
        throw new UsageError(`unknown option ${argv[i]}`);
    }
  }
  const given = [args.redisUrl && '--redis-url', args.redisClusterNodes && '--redis-cluster-nodes', args.redisShards !== undefined && '--redis-shards'].filter(Boolean);
  if (given.length > 1) throw new UsageError(`${given.join(' and ')}: one Redis at a time`);
  if (args.redisReplicas !== undefined && args.redisShards === undefined) throw new UsageError('--redis-replicas goes with --redis-shards');
  // The environment's Redis only when the command line names none.
  if (given.length === 0) {
    if (process.env.REDIS_CLUSTER_NODES) args.redisClusterNodes = process.env.REDIS_CLUSTER_NODES.split(',').filter(Boolean).map(redisUrl);
    else if (process.env.REDIS_URL) args.redisUrl = redisUrl(process.env.REDIS_URL);
  }
  return args;
}

const say = (line: string) => process.stdout.write(`${line}\n`);

/** Set in the environment of the process that runs the cluster (see `front`). */
const SUPERVISOR_ENV = 'PARLEY_CLUSTER_SUPERVISOR';

function readArgs(): Args {
  try {
    const args = parseArgs(process.argv.slice(2));
    findHaproxy();
    return args;
  } catch (err) {
    process.stderr.write(`cluster: ${(err as Error).message}\n${err instanceof UsageError ? `\n${USAGE}\n` : ''}`);
    process.exit(2);
  }
}

/**
 * Ctrl-C in a terminal signals the whole foreground process group: Redis,
 * HAProxy and every instance would stop at once and in no order (Redis going
 * first leaves the instances' presence behind in its data). So the cluster
 * runs under a supervisor in a process group of its own, and this front
 * process only passes signals on and exits with the supervisor's code.
 */
function front(): void {
  readArgs();
  const supervisor = spawn(process.execPath, [__filename, ...process.argv.slice(2)], {
    detached: true,
    stdio: 'inherit',
    env: { ...process.env, [SUPERVISOR_ENV]: '1' },
  });
  const forward = () => {
    try {
      supervisor.kill('SIGTERM');
    } catch {
      // Already gone; its exit ends this process.
    }
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, forward);
  supervisor.on('error', (err) => {
    process.stderr.write(`cluster: ${err.message}\n`);
    process.exit(1);
  });
  supervisor.on('exit', (code) => process.exit(code ?? 1));
}

/** Starts the cluster, prints where it is, and stops it on a signal or when the front process is gone. */
async function supervise(): Promise<void> {
  const args = readArgs();
  // A closed terminal must not turn a status line into a crash.
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});

  const { dataDir } = args;
  const logDir = path.join(dataDir, 'logs');
  let cluster: Cluster | undefined;
  let starting: Promise<Cluster> | undefined;
  let shuttingDown: Promise<void> | undefined;

  const shutdown = (why: string, code: number) => {
    shuttingDown ??= (async () => {
      say(`\n${why}: stopping (instances drain first) ...`);
      // A signal during start-up waits for the start to end (it stops what
      // it started itself when it fails), then stops the whole cluster.
      await starting?.then((c) => c.stop(), () => {});
      say('stopped.');
      process.exit(code);
    })();
    return shuttingDown;
  };
  process.on('SIGINT', () => void shutdown('SIGINT', 0));
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.on('SIGHUP', () => void shutdown('SIGHUP', 0));
  // The front process may die without passing a signal on (SIGKILL): when
  // our parent changes, nobody is watching any more.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) void shutdown('parent process gone', 1);
  }, 500).unref();
  // Last resort on any other way out: no child outlives the launcher.
  process.on('exit', () => {
    for (const instance of cluster?.instances ?? []) instance.signal('SIGKILL');
    cluster?.balancer?.signal('SIGKILL');
  });

  const redisWhat = args.redisUrl
    ? ` on ${args.redisUrl}`
    : args.redisClusterNodes
      ? ` on the Redis Cluster at ${args.redisClusterNodes.join(',')}`
      : args.redisShards !== undefined
        ? ` and a Redis Cluster of ${args.redisShards} shard(s)${args.redisReplicas ? ` with ${args.redisReplicas} replica(s) each` : ''}`
        : ' and redis-server';
  say(`starting ${args.instances} instance(s)${redisWhat} ...`);
  starting = startCluster({
    instances: args.instances,
    redisUrl: args.redisUrl,
    redisClusterNodes: args.redisClusterNodes,
    redisShards: args.redisShards,
    redisReplicas: args.redisReplicas,
    redisDir: path.join(dataDir, args.redisShards !== undefined ? 'redis-cluster' : 'redis'),
    balancerPort: args.port,
    balancerHost: args.host,
    logDir,
  });
  try {
    cluster = await starting;
  } catch (err) {
    process.stderr.write(`cluster: could not start: ${(err as Error).message}\n`);
    if (!shuttingDown) process.exit(1);
    return;
  }
  if (shuttingDown) return;

  const shown = (url: string) => url.replace('//0.0.0.0:', '//localhost:');
  say('');
  say(`balancer  ${shown(cluster.balancer!.url)}   pid ${cluster.balancer!.pid}   <- open this; clients connect here`);
  for (const i of cluster.instances) say(`${i.instanceId.padEnd(9)} ${i.url}   pid ${i.pid}`);
  const shownDir = (dir: string) => path.relative(process.cwd(), dir) || '.';
  if (cluster.redisCluster) {
    const roles = await cluster.redisCluster.roles().catch(() => []);
    const ids = new Map(roles.map((r) => [r.id, r.server.port]));
    for (const node of cluster.redisCluster.nodes) {
      const role = roles.find((r) => r.server === node);
      const what = !role
        ? ''
        : role.role === 'master'
          ? `master of slots ${role.slots.map(([from, to]) => (from === to ? from : `${from}-${to}`)).join(',')}`
          : `replica of ${ids.get(role.masterId ?? '') ?? '?'}`;
      say(`redis     ${node.url}   pid ${node.pid}   ${what}`);
    }
    say(`          data ${shownDir(cluster.redisCluster.dir)} (append-only${cluster.redisCluster.reused ? ', from the last run' : ''})`);
  } else if (cluster.redis) {
    say(`redis     ${cluster.redisUrl}   pid ${cluster.redis.pid}   data ${shownDir(cluster.redis.dir)} (append-only)`);
  } else {
    say(`redis     ${cluster.redisUrl ?? cluster.redisNodes?.join(',')}`);
  }
  say(`logs      ${path.relative(process.cwd(), logDir)}/`);
  say('');
  say('Ctrl-C stops everything.');

  for (const instance of cluster.instances) {
    void instance.exited.then((code) => {
      if (!shuttingDown) say(`${instance.instanceId} exited (code ${code ?? 'signal'}); the others keep serving`);
    });
  }
  void cluster.balancer!.exited.then((code) => {
    if (!shuttingDown) void shutdown(`the balancer exited (code ${code ?? 'signal'})`, 1);
  });
}

if (process.env[SUPERVISOR_ENV]) void supervise();
else front();
