import jwt from 'jsonwebtoken';
import { call, ok, waitFor } from '../helpers/events';
import { freePort, spawnServer, startServerProcess, until, type RunningServer } from '../helpers/process';
import { client, connect, handshake, refusal, startServer, type ClientSocket } from '../helpers/server';

/*
 * `node dist/server/main.js` as operators run it: these tests need a build
 * (`npm run build`, which `npm test` does first).
 */

const SECRET = 'process-test-secret-0123456789';

async function status(url: string): Promise<number> {
  const res = await fetch(url);
  await res.arrayBuffer();
  return res.status;
}

/** Opens `count` connections from this host, each closed once answered; resolves with the refusals. */
async function connectMany(url: string, count: number, auth: () => Record<string, unknown>, headers: Record<string, string> = {}) {
  const refused: string[] = [];
  for (let done = 0; done < count; done += 20) {
    await Promise.all(
      Array.from({ length: Math.min(20, count - done) }, () => {
        const socket = client(url, auth(), { extraHeaders: headers });
        return handshake(socket).then(
          () => void socket.disconnect(),
          (err: Error) => void refused.push(err.message),
        );
      }),
    );
  }
  return refused;
}

/** A burst of sends from one user; resolves with the answers. */
function burst(socket: ClientSocket, count: number) {
  return Promise.all(Array.from({ length: count }, (_, i) => call(socket, 'message:send', { room: 'lobby', text: `t${i}`, clientId: `c${i}` })));
}

describe('environment variables', () => {
  // One process configured with every variable, shared by the tests of this
  // block (each asserts one variable): starting node is the slow part.
  let server: RunningServer;
  let port: number;
  const token = (sub: string) => jwt.sign({ sub, name: sub.toUpperCase() }, SECRET, { algorithm: 'HS256', expiresIn: '1h' });
  const auth = () => ({ token: token('u1') });

  beforeAll(async () => {
    port = await freePort();
    server = await startServerProcess(
      {
        PORT: String(port),
        HOST: '127.0.0.1',
        INSTANCE_ID: 'parley-proc-9',
        AUTH_SECRET: SECRET,
        ALLOWED_ORIGINS: 'https://chat.example.com,https://other.example.com',
        TRUST_PROXY: 'on',
      },
      { perSuite: true },
    );
  });
  afterAll(() => server?.kill());

  it('PORT and HOST: listens where told, prints its URL and serves /healthz and /readyz', async () => {
    expect(server.stdout()).toContain(`Parley is running at http://127.0.0.1:${port}\n`);
    expect(server.port).toBe(port);
    expect(await status(`${server.url}/healthz`)).toBe(200);
    expect(await status(`${server.url}/readyz`)).toBe(200);
  });

  it('INSTANCE_ID names the instance in session and in metrics', async () => {
    expect((await handshake(client(server.url, auth()))).instanceId).toBe('parley-proc-9');
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^parley_connected_sockets\{instance="parley-proc-9"\} \d+$/m);
  });

  it('REDIS_URL unset: runs on its own in memory, ready, with working rooms and history', async () => {
    expect(await status(`${server.url}/readyz`)).toBe(200);
    const alice = client(server.url, { token: token('alice') });
    await handshake(alice);
    await ok(alice, 'room:join', { room: 'memory' });
    const sent = await ok(alice, 'message:send', { room: 'memory', text: 'hi', clientId: 'c1' });
    const bob = client(server.url, { token: token('bob') });
    await handshake(bob);
    const joined = await ok(bob, 'room:join', { room: 'memory' });
    expect(joined.messages).toEqual([sent.message]);
  });

  it('AUTH_SECRET: token mode for sockets and HTTP', async () => {
    expect(await refusal(client(server.url, { name: 'alice' }))).toBe('unauthorized');
    expect((await handshake(client(server.url, { token: token('una') }))).user).toEqual({ id: 'una', name: 'UNA' });
    expect(await status(`${server.url}/api/rooms`)).toBe(401);
    const res = await fetch(`${server.url}/api/rooms`, { headers: { authorization: `Bearer ${token('una')}` } });
    expect(res.status).toBe(200);
  });

  it('ALLOWED_ORIGINS: its origins connect, others are refused with forbidden_origin', async () => {
    const allowed = client(server.url, auth(), { extraHeaders: { origin: 'https://other.example.com' } });
    await expect(handshake(allowed)).resolves.toBeDefined();
    const foreign = client(server.url, auth(), { extraHeaders: { origin: 'https://evil.example.com' } });
    expect(await refusal(foreign)).toBe('forbidden_origin');
  });

  it('LIMITS on by default: a burst of sends is rate limited', async () => {
    const alice = client(server.url, { token: token('bursty') });
    await handshake(alice);
    await ok(alice, 'room:join', { room: 'lobby' });
    const answers = await burst(alice, 60);
    expect(answers.some((a) => !a.ok && a.error.code === 'rate_limited')).toBe(true);
  });

  it('TRUST_PROXY: connection limits count per X-Forwarded-For address', async () => {
    const first = await connectMany(server.url, 140, auth, { 'x-forwarded-for': '198.51.100.1' });
    expect(first.length).toBeGreaterThan(0);
    expect(new Set(first)).toEqual(new Set(['rate_limited']));
    expect(await connectMany(server.url, 5, auth, { 'x-forwarded-for': '198.51.100.2' })).toEqual([]);
  });
});

describe('defaults', () => {
  it('HOST defaults to 0.0.0.0 (reachable on loopback), PORT=0 takes a free port, LIMITS=off lifts the send limit', async () => {
    const server = await startServerProcess({ PORT: '0', HOST: '', LIMITS: 'off' });
    expect(server.port).toBeGreaterThan(0);
    expect(server.stdout()).toContain(`Parley is running at http://localhost:${server.port}\n`);
    expect(await status(`http://127.0.0.1:${server.port}/healthz`)).toBe(200);
    const alice = await connect(`http://127.0.0.1:${server.port}`, 'alice');
    await ok(alice, 'room:join', { room: 'lobby' });
    expect((await burst(alice, 60)).filter((a) => !a.ok)).toEqual([]);
  });

  it('a bad value of any variable stops start-up with an exit code != 0 and one line naming it', async () => {
    // One of each kind of value (number, host, list, flag, secret); config.test.ts
    // refuses a bad value of every variable, and main.ts handles every refusal alike.
    const bad: Array<[string, string]> = [
      ['PORT', 'eighty'],
      ['HOST', 'not a host'],
      ['ALLOWED_ORIGINS', 'localhost:3000'],
      ['LIMITS', 'sometimes'],
      ['AUTH_SECRET', 'short'],
    ];
    // Side by side: each process stops at reading its config.
    const results = await Promise.all(
      bad.map(async ([variable, value]) => {
        const proc = spawnServer({ PORT: '0', HOST: '127.0.0.1', [variable]: value });
        const { code } = await proc.exited;
        return { variable, code, stderr: proc.stderr().trim().split('\n'), listened: proc.stdout().includes('Parley is running') };
      }),
    );
    for (const { variable, code, stderr, listened } of results) {
      expect({ variable, failed: code !== 0 && code !== null, lines: stderr.length, named: stderr[0].includes(variable), listened }).toEqual({
        variable,
        failed: true,
        lines: 1,
        named: true,
        listened: false,
      });
    }
  });
});

describe('draining', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s: /readyz stops answering 200, clients see "transport close", and the process exits 0',
    async (signal) => {
      const server = await startServerProcess();
      const alice = await connect(server.url, 'alice');
      await ok(alice, 'room:join', { room: 'lobby' });
      const disconnected = waitFor<string>(alice, 'disconnect');
      server.child.kill(signal);
      // 503 while draining, or no answer once the listener is closed.
      await until('/readyz to stop answering 200', async () => (await status(`${server.url}/readyz`).catch(() => 503)) === 503);
      expect(await disconnected).toBe('transport close');
      expect(await server.exited).toEqual({ code: 0, signal: null });
    },
  );

  it('refuses new transports while draining, which socket.io-client keeps retrying', async () => {
    const { url, app } = await startServer({ drainTimeoutMs: 5000 });
    const alice = client(url, { name: 'alice' }, { reconnection: true, reconnectionDelay: 20, reconnectionDelayMax: 50 });
    await handshake(alice);
    const disconnected = waitFor<string>(alice, 'disconnect');
    const drained = app.drain();
    expect(await disconnected).toBe('transport close');
    await drained;
    expect(await status(`${url}/readyz`)).toBe(503);
    // Refused at the transport: the client keeps trying, as it would towards another instance.
    let attempts = 0;
    await new Promise<void>((resolve) => {
      alice.io.on('reconnect_attempt', () => {
        if (++attempts === 3) resolve();
      });
    });
    expect(alice.connected).toBe(false);
    // A new client is refused too, with a transport error rather than a middleware error.
    const late = client(url, { name: 'bob' });
    const message = await refusal(late);
    expect(['unauthorized', 'forbidden_origin', 'rate_limited']).not.toContain(message);
  });
});
