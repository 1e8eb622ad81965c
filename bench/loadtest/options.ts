/**
 * The load tester's command line: the profiles, every option with its
 * default, and the checks that turn a bad value into one clear line.
 */
import { parseArgs } from 'node:util';

/** The shapes of load people ask about most. */
export const PROFILES = {
  /** A few big rooms: one sender each, every message fans out to hundreds. */
  fanout: { clients: 1000, rooms: 4, senders: 1, rate: 40, duration: 10, warmup: 5, instances: 2, placement: 'balancer', inspect: false },
  /** Many small rooms where everyone sends. */
  'many-rooms': { clients: 2000, rooms: 400, senders: 'all', rate: 2000, duration: 10, warmup: 5, instances: 2, placement: 'balancer', inspect: false },
  /** Thousands of clients connecting and joining at once through the balancer. */
  'connect-storm': { clients: 5000, rooms: 500, senders: 1, rate: 0, duration: 0, warmup: 0, instances: 2, placement: 'balancer', inspect: false },
  /** Idle connections, each joined to a room: memory per connection on each instance. */
  idle: { clients: 10000, rooms: 1000, senders: 1, rate: 0, duration: 5, warmup: 0, instances: 1, placement: 'spread', inspect: true },
} as const satisfies Record<string, ProfileDefaults>;

export type ProfileName = keyof typeof PROFILES;
export type Placement = 'balancer' | 'spread' | 'room';
export type TargetKind = 'parley' | 'relay';

/** What a profile sets, and the flags of the same names override. */
interface ProfileDefaults {
  /** Clients in all, spread evenly over the rooms. */
  clients: number;
  rooms: number;
  /** Senders per room (at most its members). */
  senders: number | 'all';
  /** Messages per second, all senders together (0: none). */
  rate: number;
  /** Seconds measured (connect-storm: 0, nothing sent). */
  duration: number;
  /** Seconds of the same load before measuring. */
  warmup: number;
  /** Instances of the cluster started here. */
  instances: number;
  placement: Placement;
  /** Start the instances with the inspector, for heap after a full GC. */
  inspect: boolean;
}

/** Everything a run needs to know, resolved from the profile and the flags. */
export interface Options extends ProfileDefaults {
  profile: ProfileName;
  /** What is measured alone, or first when comparing. */
  target: TargetKind;
  /** Also run the relay, alternating, and give ratios. */
  compare?: 'relay';
  runs: number;
  /** A running service instead of a cluster started here. */
  urls?: string[];
  /** The relay's URLs for `--compare relay` with `--url`. */
  relayUrls?: string[];
  redisUrl?: string;
  /** A Redis Cluster of this many shards for the cluster started here, instead of one Redis. */
  redisShards?: number;
  /** Replicas of each of its masters. */
  redisReplicas?: number;
  /** The instances' REDIS_WAIT_REPLICAS: a send is acknowledged once that many replicas have it. */
  redisWait?: number;
  /** Instances' own URLs to read /metrics from (default: `--url` unless it is a balancer). */
  metricsUrls?: string[];
  findMax: boolean;
  /** p99 delivery latency above which a rate is not sustainable, ms. */
  p99LimitMs: number;
  /** Most rates tried by `--find-max`. */
  maxSteps: number;
  /** How long a send may wait for its answer, ms. */
  ackTimeoutMs: number;
  /** Connections opening at once (connect-storm: all of them). */
  connectConcurrency: number;
  json?: string;
  logDir?: string;
  relayDropEvery: number;
  relayRepeatEvery: number;
  progress: boolean;
}

export class UsageError extends Error {}

export const USAGE = `usage: npm run loadtest -- [profile] [options]

profiles (each option below overrides them):
  fanout          ${describe('fanout')}  (the default)
  many-rooms      ${describe('many-rooms')}
  connect-storm   ${describe('connect-storm')}
  idle            ${describe('idle')}

target (default: a cluster started here: Redis, --instances, HAProxy; stopped at the end)
  --instances K         instances of the cluster started here
  --url URL[,URL...]    a running service instead: its balancer, or instances started with LIMITS=off
  --redis-url URL       its Redis, for Redis's CPU, memory and traffic figures
  --metrics URL[,...]   instances' own URLs for /metrics (CPU, memory) when --url is a balancer
  --target parley|relay what to measure (default parley)
  --compare relay       alternate Parley and the relay (bench/relay) under the same load; ratios beside
  --relay-url URL[,...] the relay's URLs, for --compare with --url
  --runs N              runs of each target; figures are medians (default 1)
  --redis-shards N      a Redis Cluster of N shards instead of one Redis (Parley only); CPU per node
  --redis-replicas R    replicas of each shard's master (with --redis-shards)
  --redis-wait N        the instances acknowledge a send once N replicas have it (REDIS_WAIT_REPLICAS)

load
  --clients N  --rooms N  --senders N|all (per room)  --rate MSG/S  --duration S  --warmup S
  --placement balancer|spread|room
                        balancer: through HAProxy; spread: clients round-robin over the instances,
                        directly; room: each room's members all on one instance
  --find-max            raise the rate until p99 passes --p99-limit or anything is lost;
                        reports the highest sustainable deliveries/s
  --p99-limit MS        (default 250)   --max-steps N (default 10)
  --ack-timeout S       a send unanswered by then counts as unanswered (default 10)
  --connect-concurrency N   connections opening at once (default 200; connect-storm: all)
  --inspect / --no-inspect  instances with the inspector: heap after a full GC (default: idle only)

output
  --json FILE           every figure as JSON     --log-dir DIR   keep the processes' logs
  --no-progress         plain lines even on a terminal

checking the counting (relay only)
  --relay-drop-every N  --relay-repeat-every M   the relay drops / repeats every Nth / Mth broadcast

Exit code: 0 when nothing was lost, repeated, refused or left unanswered; 1 otherwise (the reasons
are printed); 2 on a bad option.`;

function describe(name: ProfileName): string {
  const p: ProfileDefaults = PROFILES[name];
  const load = p.rate > 0 ? `, ${p.senders === 'all' ? 'everyone' : `${p.senders} per room`} sending ${p.rate} msg/s` : ', nothing sent';
  return `${p.clients} clients in ${p.rooms} rooms${load}, ${p.instances} instance(s)`;
}

/** Parses `argv` (without node and the script); throws `UsageError` on anything wrong. */
export function parseOptions(argv: string[]): Options | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        profile: { type: 'string' },
        instances: { type: 'string' },
        url: { type: 'string' },
        'redis-url': { type: 'string' },
        metrics: { type: 'string' },
        target: { type: 'string' },
        compare: { type: 'string' },
        'relay-url': { type: 'string' },
        'redis-shards': { type: 'string' },
        'redis-replicas': { type: 'string' },
        'redis-wait': { type: 'string' },
        runs: { type: 'string' },
        clients: { type: 'string' },
        rooms: { type: 'string' },
        senders: { type: 'string' },
        rate: { type: 'string' },
        duration: { type: 'string' },
        warmup: { type: 'string' },
        placement: { type: 'string' },
        'find-max': { type: 'boolean' },
        'p99-limit': { type: 'string' },
        'max-steps': { type: 'string' },
        'ack-timeout': { type: 'string' },
        'connect-concurrency': { type: 'string' },
        inspect: { type: 'boolean' },
        'no-inspect': { type: 'boolean' },
        json: { type: 'string' },
        'log-dir': { type: 'string' },
        'no-progress': { type: 'boolean' },
        'relay-drop-every': { type: 'string' },
        'relay-repeat-every': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return 'help';
  if (positionals.length > 1) throw new UsageError(`one profile at most (got ${positionals.join(' ')})`);
  const profileName = v.profile ?? positionals[0] ?? 'fanout';
  if (!(profileName in PROFILES)) throw new UsageError(`unknown profile ${profileName} (${Object.keys(PROFILES).join(', ')})`);
  const profile: ProfileDefaults = PROFILES[profileName as ProfileName];

  const number = (name: string, raw: string | undefined, fallback: number, { min = 0, whole = false } = {}): number => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n < min || (whole && !Number.isInteger(n))) {
      throw new UsageError(`--${name}: ${whole ? 'a whole number' : 'a number'} from ${min} (got ${raw})`);
    }
    return n;
  };
  const urls = (name: string, raw: string | undefined): string[] | undefined => {
    if (raw === undefined) return undefined;
    const list = raw.split(',').map((u) => u.trim().replace(/\/+$/, '')).filter(Boolean);
    for (const u of list) if (!/^https?:\/\/[^/\s]+$/.test(u)) throw new UsageError(`--${name}: http(s)://host:port, no path (got ${u})`);
    if (list.length === 0) throw new UsageError(`--${name} needs at least one URL`);
    return list;
  };
  const oneOf = <T extends string>(name: string, raw: string | undefined, allowed: readonly T[], fallback: T): T => {
    if (raw === undefined) return fallback;
    if (!allowed.includes(raw as T)) throw new UsageError(`--${name}: one of ${allowed.join(', ')} (got ${raw})`);
    return raw as T;
  };

  const rooms = number('rooms', v.rooms, profile.rooms, { min: 1, whole: true });
  const clients = number('clients', v.clients, profile.clients, { min: 1, whole: true });
  if (clients < rooms) throw new UsageError(`--clients (${clients}) must be at least --rooms (${rooms}): every room needs a member`);
  const senders = v.senders === 'all' ? 'all' : number('senders', v.senders, profile.senders === 'all' ? -1 : profile.senders, { min: 1, whole: true });
  const redisUrl = v['redis-url'];
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) throw new UsageError('--redis-url must start with redis:// or rediss://');
  const options: Options = {
    profile: profileName as ProfileName,
    clients,
    rooms,
    senders: senders === -1 ? 'all' : senders,
    rate: number('rate', v.rate, profile.rate),
    duration: number('duration', v.duration, profile.duration),
    warmup: number('warmup', v.warmup, profile.warmup),
    instances: number('instances', v.instances, profile.instances, { min: 1, whole: true }),
    placement: oneOf('placement', v.placement, ['balancer', 'spread', 'room'] as const, profile.placement),
    inspect: v['no-inspect'] ? false : (v.inspect ?? profile.inspect),
    target: oneOf('target', v.target, ['parley', 'relay'] as const, 'parley'),
    compare: v.compare === undefined ? undefined : oneOf('compare', v.compare, ['relay'] as const, 'relay'),
    runs: number('runs', v.runs, 1, { min: 1, whole: true }),
    urls: urls('url', v.url),
    relayUrls: urls('relay-url', v['relay-url']),
    redisUrl,
    redisShards: v['redis-shards'] === undefined ? undefined : number('redis-shards', v['redis-shards'], 0, { min: 1, whole: true }),
    redisReplicas: v['redis-replicas'] === undefined ? undefined : number('redis-replicas', v['redis-replicas'], 0, { whole: true }),
    redisWait: v['redis-wait'] === undefined ? undefined : number('redis-wait', v['redis-wait'], 0, { whole: true }),
    metricsUrls: urls('metrics', v.metrics),
    findMax: v['find-max'] ?? false,
    p99LimitMs: number('p99-limit', v['p99-limit'], 250),
    maxSteps: number('max-steps', v['max-steps'], 10, { min: 1, whole: true }),
    ackTimeoutMs: number('ack-timeout', v['ack-timeout'], 10, { min: 0.1 }) * 1000,
    connectConcurrency: number('connect-concurrency', v['connect-concurrency'], profileName === 'connect-storm' ? clients : 200, { min: 1, whole: true }),
    json: v.json,
    logDir: v['log-dir'],
    relayDropEvery: number('relay-drop-every', v['relay-drop-every'], 0, { whole: true }),
    relayRepeatEvery: number('relay-repeat-every', v['relay-repeat-every'], 0, { whole: true }),
    progress: !v['no-progress'],
  };
  if (options.compare && options.target === 'relay') throw new UsageError('--compare relay compares Parley with the relay: leave --target out');
  if (options.compare && options.urls && !options.relayUrls) throw new UsageError('--compare relay with --url needs --relay-url (the relay, running)');
  if (options.relayUrls && !options.compare) throw new UsageError('--relay-url goes with --compare relay');
  if (options.findMax && options.rate <= 0) throw new UsageError('--find-max needs a starting --rate above 0');
  if (options.findMax && options.duration <= 0) throw new UsageError('--find-max needs a --duration above 0');
  if (options.rate > 0 && options.duration <= 0) throw new UsageError('--rate needs a --duration above 0');
  if ((options.relayDropEvery || options.relayRepeatEvery) && options.target !== 'relay' && !options.compare) {
    throw new UsageError('--relay-drop-every / --relay-repeat-every apply to the relay: add --target relay or --compare relay');
  }
  if ((options.relayDropEvery || options.relayRepeatEvery) && options.urls) throw new UsageError('the relay fault switch applies to a relay started here, not to --url');
  const clusterFlag = ['--redis-shards', '--redis-replicas', '--redis-wait'].find((_, i) => [options.redisShards, options.redisReplicas, options.redisWait][i] !== undefined);
  if (clusterFlag && options.urls) throw new UsageError(`${clusterFlag} shapes the cluster started here, not a service at --url`);
  if (options.redisShards !== undefined && (options.target === 'relay' || options.compare)) throw new UsageError('--redis-shards: the relay runs on one Redis');
  if (options.redisReplicas !== undefined && options.redisShards === undefined) throw new UsageError('--redis-replicas goes with --redis-shards');
  if (options.redisWait && options.redisWait > (options.redisReplicas ?? 0)) throw new UsageError(`--redis-wait ${options.redisWait} needs at least as many --redis-replicas`);
  return options;
}
