/**
 * A real load balancer (HAProxy) in front of Parley instances, run as a
 * foreground child process with its config in a temp folder.
 *
 * HAProxy rather than nginx: Socket.IO long-polling needs sticky sessions,
 * and HAProxy inserts a cookie naming the instance where open-source nginx
 * only has ip_hash (every client behind one address, or every test client on
 * 127.0.0.1, would land on one instance); HAProxy also health-checks
 * `/readyz` actively, so a draining or dead instance stops getting new
 * connections within a second.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, httpStatus, pollUntil, repoRoot, superviseChild, tail } from './instance';

/** One instance behind the balancer. */
export interface Upstream {
  /** Server name in HAProxy and the sticky cookie's value: [A-Za-z0-9_.:-]. */
  name: string;
  /** `host:port` the balancer connects to. */
  address: string;
}

export interface RenderOptions {
  /** `host:port` or `*:port` to listen on. */
  bind: string;
  servers: Upstream[];
  /** DNS servers to re-resolve server names with (containers). */
  nameservers?: string[];
  /** Terminate TLS at the balancer. */
  tls?: {
    /** PEM file with the certificate chain and the private key, as HAProxy reads it. */
    certificate: string;
    /** Also listen here for plain HTTP, answered with a redirect to HTTPS. */
    redirectBind?: string;
  };
}

/** deploy/haproxy.cfg.template. */
export function templatePath(): string {
  return path.join(repoRoot(), 'deploy', 'haproxy.cfg.template');
}

const NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Fills in the HAProxy template (see its header for the placeholders). */
export function renderHaproxyConfig(options: RenderOptions, template = fs.readFileSync(templatePath(), 'utf8')): string {
  if (options.servers.length === 0) throw new Error('the balancer needs at least one server');
  for (const s of options.servers) {
    if (!NAME.test(s.name)) throw new Error(`bad server name ${JSON.stringify(s.name)}`);
    if (!/^[^\s]+:\d+$/.test(s.address)) throw new Error(`bad server address ${JSON.stringify(s.address)}`);
  }
  const dns = options.nameservers ?? [];
  const resolvers =
    dns.length === 0
      ? ''
      : [
          '',
          'resolvers dns',
          ...dns.map((ns, i) => `    nameserver dns${i + 1} ${ns}`),
          '    resolve_retries 3',
          '    timeout resolve 1s',
          '    timeout retry 1s',
          '    hold valid 10s',
          '',
        ].join('\n');
  // With DNS: start even while a name does not resolve yet, and follow it.
  const serverOptions = dns.length === 0 ? '' : ' resolvers dns init-addr last,libc,none';
  const servers = options.servers.map((s) => `    server ${s.name} ${s.address} cookie ${s.name}`).join('\n');
  const { tls } = options;
  if (tls && /\s/.test(tls.certificate)) throw new Error(`bad certificate path ${JSON.stringify(tls.certificate)}`);
  // WebSocket upgrades need HTTP/1.1: no h2 on the TLS listener.
  const bind = tls ? `${options.bind} ssl crt ${tls.certificate} alpn http/1.1` : options.bind;
  const frontend = !tls
    ? ''
    : [
        ...(tls.redirectBind ? [`    bind ${tls.redirectBind}`] : []),
        '    http-request redirect scheme https code 301 unless { ssl_fc }',
        // The instances (TRUST_PROXY=on) send HSTS to requests that came over HTTPS.
        '    http-request set-header X-Forwarded-Proto https if { ssl_fc }',
      ]
        .map((line) => `\n${line}`)
        .join('');
  return template
    .replace('{{BIND}}', bind)
    .replace('{{FRONTEND}}', frontend)
    .replace('{{RESOLVERS}}', resolvers)
    .replace('{{SERVER_OPTIONS}}', serverOptions)
    .replace('{{SERVERS}}', servers);
}

export interface BalancerOptions {
  servers: Upstream[];
  /** Port to listen on; 0 = a free port. @default 0 */
  port?: number;
  /** Bind address. @default "127.0.0.1" */
  host?: string;
  /** Folder for the config and the log; made (and removed on stop) when not given. */
  dir?: string;
  /** Path of the haproxy binary. @default "haproxy" from PATH, else /usr/sbin/haproxy */
  haproxy?: string;
  /** How long to wait for the balancer to answer. @default 10000 */
  startTimeoutMs?: number;
  /** Called with every line HAProxy writes. */
  onLine?: (line: string) => void;
}

export interface Balancer {
  /** `http://host:port`: where clients connect. */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly configPath: string;
  readonly exited: Promise<number | null>;
  /** Sends HAProxy a signal; a no-op once it has exited. */
  signal(sig: NodeJS.Signals): void;
  /** Stops HAProxy (SIGTERM) and removes a temp folder it made. Idempotent. */
  stop(): Promise<void>;
  /** Everything HAProxy wrote (server up/down events, alerts). */
  output(): string;
}

/** Finds the haproxy binary: on PATH, or where Debian puts it (/usr/sbin is not on every user's PATH). */
export function findHaproxy(): string {
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin']) {
    if (!dir) continue;
    const candidate = path.join(dir, 'haproxy');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  throw new Error('haproxy not found: install it (Debian: apt-get install haproxy)');
}

/**
 * Writes the config and starts HAProxy in the foreground; resolves once it
 * answers HTTP. With no port given, a taken port is retried with another.
 */
export async function startBalancer(options: BalancerOptions): Promise<Balancer> {
  const binary = options.haproxy ?? findHaproxy();
  const host = options.host ?? '127.0.0.1';
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'parley-haproxy-'));
  fs.mkdirSync(dir, { recursive: true });
  const configPath = path.join(dir, 'haproxy.cfg');

  // HAProxy cannot bind port 0: pick a free port, and another if it is taken by then.
  const fixedPort = options.port ? options.port : undefined;
  const attempts = fixedPort === undefined ? 3 : 1;
  for (let attempt = 1; ; attempt++) {
    const port = fixedPort ?? (await freePort(host));
    fs.writeFileSync(configPath, renderHaproxyConfig({ bind: `${host}:${port}`, servers: options.servers }));
    // -db: stay in the foreground, no daemon; the config names no root-owned path.
    const child = spawn(binary, ['-db', '-f', configPath], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const { output, exited, hasExited, signal } = superviseChild(child, {
      logFile: path.join(dir, 'haproxy.log'),
      onLine: options.onLine,
    });
    const url = `http://${host}:${port}`;
    try {
      await pollUntil(`the balancer at ${url}`, async () => (await httpStatus(`${url}/balancer-health`)) !== 0, {
        timeoutMs: options.startTimeoutMs ?? 10_000,
        abort: () => (hasExited() ? new Error(`haproxy exited:\n${tail(output.toString())}`) : undefined),
      });
    } catch (err) {
      signal('SIGKILL');
      await exited;
      const portTaken = /cannot bind|Address already in use/i.test(output.toString());
      if (portTaken && attempt < attempts) continue;
      if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
      throw err;
    }

    let stopping: Promise<void> | undefined;
    return {
      url,
      port,
      pid: child.pid!,
      configPath,
      exited,
      signal,
      output: () => output.toString(),
      stop: () =>
        (stopping ??= (async () => {
          // SIGTERM is HAProxy's hard stop: it closes the tunnels at once.
          signal('SIGTERM');
          await exited;
          if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
        })()),
    };
  }
}

/** The instances of docker-compose.yml: services `<prefix>1..<prefix>N` (parley1.., parley-cluster-1.. for the cluster profile) on port 3000. */
export function composeServers(count: number, prefix = 'parley'): Upstream[] {
  return Array.from({ length: count }, (_, i) => ({ name: `${prefix}${i + 1}`, address: `${prefix}${i + 1}:3000` }));
}

/** The balancer's config of each topology of docker-compose.yml, by its instances' name prefix. */
export const COMPOSE_CONFIGS: Record<string, string> = { parley: 'deploy/haproxy.cfg', 'parley-cluster-': 'deploy/haproxy-cluster.cfg' };

/** deploy/haproxy.cfg (or haproxy-cluster.cfg): the template filled in for docker-compose.yml (Docker's DNS at 127.0.0.11). */
export function renderComposeConfig(instances = 3, prefix = 'parley'): string {
  const args = prefix === 'parley' ? '' : ` ${instances} ${prefix}`;
  return [
    '# Generated from deploy/haproxy.cfg.template for docker-compose.yml; do not edit.',
    `# Regenerate: npm run build && node dist/scripts/topology/balancer.js${args} > ${COMPOSE_CONFIGS[prefix] ?? 'deploy/haproxy.cfg'}`,
    renderHaproxyConfig({ bind: '*:8080', servers: composeServers(instances, prefix), nameservers: ['127.0.0.11:53'] }),
  ].join('\n');
}

/** Where docker-compose.tls.yml mounts the balancer's certificate. */
export const COMPOSE_TLS_CERTIFICATE = '/usr/local/etc/haproxy/certs/parley.pem';

/** deploy/haproxy-tls.cfg: as deploy/haproxy.cfg, with TLS on 8443 and 8080 redirected to it (docker-compose.tls.yml). */
export function renderComposeTlsConfig(instances = 3): string {
  return [
    '# Generated from deploy/haproxy.cfg.template for docker-compose.tls.yml; do not edit.',
    '# Regenerate: npm run build && node dist/scripts/topology/balancer.js 3 --tls > deploy/haproxy-tls.cfg',
    renderHaproxyConfig({
      bind: '*:8443',
      servers: composeServers(instances),
      nameservers: ['127.0.0.11:53'],
      tls: { certificate: COMPOSE_TLS_CERTIFICATE, redirectBind: '*:8080' },
    }),
  ].join('\n');
}

if (require.main === module) {
  const instances = Number(process.argv[2] ?? 3);
  // `3 --tls`: deploy/haproxy-tls.cfg; `3 parley-cluster-`: the cluster profile's.
  const prefix = process.argv.slice(3).find((arg) => !arg.startsWith('--'));
  process.stdout.write(process.argv.includes('--tls') ? renderComposeTlsConfig(instances) : renderComposeConfig(instances, prefix));
}
