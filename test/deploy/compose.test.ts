/**
 * docker-compose.yml, checked without Docker: Debian's `docker-compose config`
 * validates it, and its resolved form must describe the same topology as the
 * local launcher (Redis with AOF, N instances, HAProxy naming them all).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { COMPOSE_CONFIGS, COMPOSE_TLS_CERTIFICATE, renderComposeConfig, renderComposeTlsConfig } from '../../scripts/topology/balancer';
import { DEFAULT_INSTANCES, instanceEnv } from '../../scripts/topology/cluster';

const root = path.resolve(__dirname, '..', '..');

interface ComposeService {
  image?: string;
  build?: { context: string };
  command?: string[] | string;
  environment?: Record<string, string>;
  ports?: Array<{ published: number | string; target: number }>;
  restart?: string;
  volumes?: Array<string | { source?: string; target: string }>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  stop_signal?: string;
  stop_grace_period?: string;
  profiles?: string[];
  entrypoint?: string[];
  ulimits?: { nofile?: { soft: number; hard: number } };
}
interface Compose {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/**
 * Validates a compose file with `docker-compose config` and answers its
 * resolved form (anchors merged, paths absolute). Throws with compose's
 * own message when the file is invalid.
 */
function resolveCompose(file: string, ...overrides: string[]): Compose {
  const files = [file, ...overrides].flatMap((f) => ['-f', f]);
  const run = spawnSync('docker-compose', [...files, 'config'], { cwd: path.dirname(file), encoding: 'utf8' });
  if (run.error) throw run.error;
  if (run.status !== 0) throw new Error(`docker-compose config failed: ${run.stderr}`);
  // docker-compose (Python) brings PyYAML along; it turns the YAML into JSON.
  const json = execFileSync('python3', ['-c', 'import json,sys,yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], {
    input: run.stdout,
    encoding: 'utf8',
  });
  return JSON.parse(json) as Compose;
}

/** The balancer's bind mounts, as [source, target]. */
function mounts(service: ComposeService): Array<[string, string]> {
  return (service.volumes ?? []).map((v) => (typeof v === 'string' ? (v.split(':').slice(0, 2) as [string, string]) : [v.source ?? '', v.target]));
}

/** `haproxy -c` on a config; resolves with its status and output. */
function haproxyCheck(file: string) {
  const check = spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin` } });
  return `${check.status} ${check.stdout}${check.stderr}`;
}

/** Compose durations ("30s", "1m30s") in seconds. */
function seconds(duration: string | undefined): number {
  let total = 0;
  for (const [, n, unit] of (duration ?? '').matchAll(/(\d+)(ms|s|m|h)/g)) {
    total += Number(n) * { ms: 0.001, s: 1, m: 60, h: 3600 }[unit as 'ms' | 's' | 'm' | 'h'];
  }
  return total;
}

describe('docker-compose.yml', () => {
  let compose: Compose;
  let instances: Array<[string, ComposeService]>;

  beforeAll(() => {
    compose = resolveCompose(path.join(root, 'docker-compose.yml'));
    instances = Object.entries(compose.services).filter(([, s]) => s.environment?.REDIS_URL !== undefined);
  });

  it('is valid for docker-compose, and an invalid file is refused by the same check', () => {
    expect(compose.services).toBeDefined();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-compose-'));
    try {
      const broken = path.join(dir, 'docker-compose.yml');
      fs.writeFileSync(broken, 'services:\n  a:\n    image: x\n    depends_on:\n      missing:\n        condition: service_healthy\n');
      expect(() => resolveCompose(broken)).toThrow(/docker-compose config failed/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs as many instances as `npm run cluster`, from the Dockerfile, on one Redis, each with its own id', () => {
    expect(instances.map(([name]) => name).sort()).toEqual(['parley1', 'parley2', 'parley3']);
    expect(instances).toHaveLength(DEFAULT_INSTANCES);
    const ids = new Set<string>();
    for (const [name, service] of instances) {
      expect(service.build?.context).toBe(root);
      // The settings the local launcher gives its instances, with Redis by service name.
      expect(service.environment).toMatchObject(instanceEnv('redis://redis:6379', name));
      ids.add(service.environment!.INSTANCE_ID);
      // node runs directly: npm would not pass SIGTERM on, and the drain needs it.
      expect(JSON.stringify(service.command ?? [])).not.toMatch(/npm/);
      expect(service.depends_on?.redis?.condition).toBe('service_healthy');
      expect(service.healthcheck?.test.join(' ')).toMatch(/\/readyz/);
      expect(service.stop_signal ?? 'SIGTERM').toBe('SIGTERM');
      // Longer than the drain (DRAIN_TIMEOUT_MS, 10 s by default) so it is not cut short.
      expect(seconds(service.stop_grace_period)).toBeGreaterThan(10);
    }
    expect(ids.size).toBe(3);
  });

  it('keeps Redis data in an append-only file on a named volume', () => {
    const redis = compose.services.redis;
    expect(redis.image).toMatch(/^redis:7/);
    const command = Array.isArray(redis.command) ? redis.command.join(' ') : redis.command ?? '';
    expect(command).toMatch(/--appendonly yes/);
    const data = redis.volumes?.find((v) => (typeof v === 'string' ? v.endsWith(':/data') || v.includes(':/data:') : v.target === '/data'));
    expect(data).toBeDefined();
    expect(Object.keys(compose.volumes ?? {})).toContain('redis-data');
    expect(redis.healthcheck?.test.join(' ')).toMatch(/redis-cli ping/);
  });

  it('runs the load tester from the instances\' image against the balancer, only under the loadtest profile', () => {
    const loadtest = compose.services.loadtest;
    expect(loadtest.profiles).toEqual(['loadtest']);
    expect(loadtest.image).toBe(instances[0][1].image);
    const argv = [...(loadtest.entrypoint ?? []), ...(Array.isArray(loadtest.command) ? loadtest.command : [])];
    // node directly, on the built entry point the image holds.
    expect(argv.slice(0, 2)).toEqual(['node', 'dist/bench/loadtest.js']);
    expect(fs.existsSync(path.join(root, argv[1]))).toBe(true);
    const flag = (name: string) => argv[argv.indexOf(name) + 1];
    expect(flag('--url')).toBe('http://balancer:8080');
    expect(flag('--redis-url')).toBe('redis://redis:6379');
    expect(flag('--metrics').split(',').sort()).toEqual(instances.map(([name]) => `http://${name}:3000`).sort());
    expect(loadtest.depends_on?.balancer).toBeDefined();
    // A socket per client, for thousands of clients.
    expect(loadtest.ulimits?.nofile?.soft).toBeGreaterThanOrEqual(20_000);
    // Per-address limits stay on unless LIMITS=off is given for a load test.
    for (const [, service] of instances) expect(service.environment?.LIMITS).toBe(process.env.LIMITS || 'on');
  });

  it('publishes the balancer on 8080 with a config, rendered from the template, that names every instance', () => {
    const balancer = compose.services.balancer;
    expect(balancer.image).toMatch(/^haproxy:/);
    expect(balancer.ports?.map((p) => [Number(p.published), p.target])).toEqual([[8080, 8080]]);
    for (const [name] of instances) expect(balancer.depends_on?.[name]?.condition).toBe('service_healthy');

    const mount = balancer.volumes
      ?.map((v) => (typeof v === 'string' ? v.split(':') : [v.source ?? '', v.target]))
      .find(([, target]) => target === '/usr/local/etc/haproxy/haproxy.cfg');
    expect(mount).toBeDefined();
    const config = fs.readFileSync(mount![0], 'utf8');
    for (const [name] of instances) expect(config).toContain(`server ${name} ${name}:3000 cookie ${name}`);
    expect(config).toMatch(/bind \*:8080/);
    // The committed file is what the template gives today.
    expect(config).toBe(renderComposeConfig(instances.length));

    expect(haproxyCheck(mount![0])).toMatch(/^0 [\s\S]*Configuration file is valid/);
  });

  describe('the cluster profile: the same service on a Redis Cluster', () => {
    const inProfile = () => Object.entries(compose.services).filter(([, service]) => service.profiles?.includes('cluster'));
    const nodes = () => inProfile().filter(([, service]) => (service.image ?? '').startsWith('redis:') && service.command !== undefined && !service.entrypoint);
    const argv = (service: ComposeService) => (Array.isArray(service.command) ? service.command : (service.command ?? '').split(/\s+/));
    const flag = (service: ComposeService, name: string) => argv(service)[argv(service).indexOf(name) + 1];

    it('runs six Redis 7 cluster nodes, each announcing its own host name and keeping an append-only file on a volume of its own', () => {
      expect(nodes().map(([name]) => name).sort()).toEqual(['redis-node-1', 'redis-node-2', 'redis-node-3', 'redis-node-4', 'redis-node-5', 'redis-node-6']);
      const volumes = new Set<string>();
      for (const [name, node] of nodes()) {
        expect(node.image).toMatch(/^redis:7/);
        expect(flag(node, '--cluster-enabled')).toBe('yes');
        expect(flag(node, '--cluster-announce-hostname')).toBe(name);
        expect(flag(node, '--cluster-preferred-endpoint-type')).toBe('hostname');
        expect(flag(node, '--appendonly')).toBe('yes');
        expect(node.healthcheck?.test.join(' ')).toMatch(/redis-cli ping/);
        const data = node.volumes?.map((v) => (typeof v === 'string' ? v.split(':') : [v.source ?? '', v.target])).find(([, target]) => target === '/data');
        expect(data).toBeDefined();
        volumes.add(data![0]);
      }
      expect(volumes.size).toBe(6);
      for (const volume of volumes) expect(Object.keys(compose.volumes ?? {})).toContain(volume);
    });

    it('joins them once into three shards of one replica each, with a one-shot service that waits for every node', () => {
      const init = compose.services['redis-cluster-init'];
      expect(init.profiles).toEqual(['cluster']);
      expect(init.restart).toBe('no');
      const script = [...(init.entrypoint ?? []), ...argv(init)].join(' ');
      expect(script).toMatch(/redis-cli --cluster create .* --cluster-replicas 1 --cluster-yes/);
      // A cluster made already is left as it is (the volumes keep it).
      expect(script).toMatch(/cluster_state:ok/);
      for (const [name] of nodes()) expect(init.depends_on?.[name]?.condition).toBe('service_healthy');
    });

    it('runs three instances from the Dockerfile on the cluster, acknowledging a message once a replica has it', () => {
      const instances = inProfile().filter(([, service]) => service.environment?.REDIS_CLUSTER_NODES !== undefined);
      expect(instances.map(([name]) => name).sort()).toEqual(['parley-cluster-1', 'parley-cluster-2', 'parley-cluster-3']);
      const seeds = nodes().map(([name]) => `redis://${name}:6379`).sort();
      for (const [name, service] of instances) {
        expect(service.build?.context).toBe(root);
        expect(service.environment).toMatchObject(instanceEnv(seeds, name));
        expect(service.environment!.REDIS_CLUSTER_NODES.split(',').sort()).toEqual(seeds);
        expect(service.environment!.REDIS_URL).toBeUndefined();
        expect(service.environment!.REDIS_WAIT_REPLICAS).toBe('1');
        expect(service.depends_on?.['redis-cluster-init']?.condition).toBe('service_completed_successfully');
        expect(service.healthcheck?.test.join(' ')).toMatch(/\/readyz/);
      }
    });

    it('publishes its balancer on 8081 with a config, rendered from the template, that names its instances; a plain `up` starts none of it', () => {
      const balancer = compose.services['cluster-balancer'];
      expect(balancer.ports?.map((p) => [Number(p.published), p.target])).toEqual([[8081, 8080]]);
      const mount = balancer.volumes
        ?.map((v) => (typeof v === 'string' ? v.split(':') : [v.source ?? '', v.target]))
        .find(([, target]) => target === '/usr/local/etc/haproxy/haproxy.cfg');
      expect(path.relative(root, mount![0])).toBe(COMPOSE_CONFIGS['parley-cluster-']);
      expect(fs.readFileSync(mount![0], 'utf8')).toBe(renderComposeConfig(3, 'parley-cluster-'));
      expect(haproxyCheck(mount![0])).toMatch(/^0 [\s\S]*Configuration file is valid/);
      for (const [name, service] of Object.entries(compose.services)) {
        const cluster = name.startsWith('redis-node-') || name.startsWith('parley-cluster-') || ['redis-cluster-init', 'cluster-balancer'].includes(name);
        if (cluster) expect({ name, profiles: service.profiles }).toEqual({ name, profiles: ['cluster'] });
      }
    });
  });
});

describe('docker-compose.tls.yml', () => {
  let compose: Compose;
  beforeAll(() => {
    compose = resolveCompose(path.join(root, 'docker-compose.yml'), path.join(root, 'docker-compose.tls.yml'));
  });

  it('terminates TLS at the balancer on 8443 with a mounted certificate, plain 8080 kept to redirect', () => {
    const balancer = compose.services.balancer;
    expect(balancer.ports?.map((p) => [Number(p.published), p.target]).sort()).toEqual([
      [8080, 8080],
      [8443, 8443],
    ]);
    const byTarget = new Map(mounts(balancer).map(([source, target]) => [target, source]));
    expect(byTarget.get('/usr/local/etc/haproxy/haproxy.cfg')).toBe(path.join(root, 'deploy', 'haproxy-tls.cfg'));
    expect(byTarget.get(COMPOSE_TLS_CERTIFICATE)).toBe(path.join(root, 'deploy', 'certs', 'parley.pem'));
    // The instances know their public origin (the same-origin rule no longer trusts Host) and the balancer's scheme.
    for (const name of ['parley1', 'parley2', 'parley3']) {
      expect(compose.services[name].environment).toMatchObject({ PUBLIC_ORIGIN: 'https://localhost:8443', TRUST_PROXY: 'on' });
    }
  });

  it('has a config rendered from the template that HAProxy accepts with a real certificate', () => {
    const file = path.join(root, 'deploy', 'haproxy-tls.cfg');
    const config = fs.readFileSync(file, 'utf8');
    expect(config).toBe(renderComposeTlsConfig(3));
    expect(config).toContain(`bind *:8443 ssl crt ${COMPOSE_TLS_CERTIFICATE} alpn http/1.1`);
    expect(config).toMatch(/redirect scheme https/);

    // HAProxy loads the certificate to check the file: point it at one made here.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-tls-'));
    try {
      const pem = path.join(dir, 'parley.pem');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
      fs.writeFileSync(pem, fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8') + fs.readFileSync(path.join(dir, 'key.pem'), 'utf8'));
      const local = path.join(dir, 'haproxy.cfg');
      fs.writeFileSync(local, config.replace(COMPOSE_TLS_CERTIFICATE, pem));
      expect(haproxyCheck(local)).toMatch(/^0 [\s\S]*Configuration file is valid/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
