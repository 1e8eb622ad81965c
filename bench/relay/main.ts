/**
 * The bare relay the load tester compares Parley with: what people write
 * themselves with Socket.IO and `@socket.io/redis-adapter` (sharded on
 * Redis 7+, as Parley uses it; classic before). `room:join` joins the
 * Socket.IO room and answers ok; `message:send` broadcasts `message` to the
 * room (the sender included) and answers ok. No store, no validation beyond
 * what keeps it from crashing, no ordering, no presence.
 *
 * It speaks Parley's wire shapes where the load tester reads them: `session`
 * on connect (which instance took the client), `{ ok: true, ... }` answers,
 * and `message` events carrying the sender's `clientId`.
 *
 *   PORT=3001 REDIS_URL=redis://127.0.0.1:6380 INSTANCE_ID=relay1 node dist/bench/relay/main.js
 *
 * Settings: PORT (default 3000), HOST (default 0.0.0.0), REDIS_URL (unset:
 * one process, in memory), INSTANCE_ID, and the fault switch
 * RELAY_DROP_EVERY=N / RELAY_REPEAT_EVERY=M (see faults.ts).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { Server } from 'socket.io';
import { faultSwitch } from './faults';

interface RelayConfig {
  port: number;
  host: string;
  redisUrl?: string;
  instanceId: string;
  dropEvery: number;
  repeatEvery: number;
}

function readConfig(env: NodeJS.ProcessEnv = process.env): RelayConfig {
  const whole = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw)) throw new Error(`${name}: a whole number from 0 (got ${JSON.stringify(raw)})`);
    return Number(raw);
  };
  const port = whole('PORT', 3000);
  return {
    port,
    host: env.HOST || '0.0.0.0',
    redisUrl: env.REDIS_URL || undefined,
    instanceId: env.INSTANCE_ID || `relay:${port}`,
    dropEvery: whole('RELAY_DROP_EVERY', 0),
    repeatEvery: whole('RELAY_REPEAT_EVERY', 0),
  };
}

const say = (line: string) => process.stderr.write(`relay: ${line}\n`);

async function main(): Promise<void> {
  let config: RelayConfig;
  try {
    config = readConfig();
  } catch (err) {
    say(`bad configuration: ${(err as Error).message}`);
    process.exit(2);
  }
  // A failed publish from the adapter is not caught by it: log, never crash.
  process.on('unhandledRejection', (err) => say(`unhandled rejection: ${(err as Error)?.message ?? err}`));

  let ready = !config.redisUrl;
  const httpServer = http.createServer((req, res) => {
    const status = req.url === '/healthz' ? 200 : req.url === '/readyz' ? (ready ? 200 : 503) : 404;
    res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok\n' : '');
  });
  const io = new Server(httpServer);

  const clients: Array<ReturnType<typeof createClient>> = [];
  if (config.redisUrl) {
    const pub = createClient({ url: config.redisUrl, name: `relay-cmd:${config.instanceId}` });
    const sub = createClient({ url: config.redisUrl, name: `relay-sub:${config.instanceId}` });
    for (const client of [pub, sub]) {
      client.on('error', (err: Error) => say(`redis: ${err.message}`));
      clients.push(client);
    }
    await Promise.all([pub.connect(), sub.connect()]);
    const version = /redis_version:(\d+)/.exec(await pub.info('server'))?.[1] ?? '0';
    const sharded = Number(version) >= 7;
    io.adapter(sharded ? createShardedAdapter(pub, sub, { subscriptionMode: 'dynamic' }) : createAdapter(pub, sub));
    say(`${sharded ? 'sharded' : 'classic'} redis adapter on redis ${version}`);
    const readiness = () => (ready = pub.isReady && sub.isReady);
    for (const client of [pub, sub]) for (const event of ['ready', 'end', 'error', 'reconnecting']) client.on(event, readiness);
    readiness();
  }

  const faults = faultSwitch(config.dropEvery, config.repeatEvery);
  let sent = 0;
  io.on('connection', (socket) => {
    const auth = socket.handshake.auth as { name?: unknown };
    const name = typeof auth?.name === 'string' ? auth.name : socket.id;
    const user = { id: name, name };
    socket.emit('session', { user, instanceId: config.instanceId });

    socket.on('room:join', (payload: { room?: unknown }, ack?: (answer: unknown) => void) => {
      const room = payload?.room;
      if (typeof room !== 'string') return ack?.({ ok: false, error: { code: 'invalid_payload', message: 'room must be a string' } });
      void socket.join(room);
      ack?.({ ok: true, room, seq: 0, messages: [], members: [], hasMore: false });
    });

    socket.on('message:send', (payload: { room?: unknown; text?: unknown; clientId?: unknown }, ack?: (answer: unknown) => void) => {
      const { room, text, clientId } = payload ?? {};
      if (typeof room !== 'string') return ack?.({ ok: false, error: { code: 'invalid_payload', message: 'room must be a string' } });
      const message = { id: `${config.instanceId}-${++sent}`, room, seq: 0, clientId, user, text, ts: Date.now() };
      for (let copies = faults.next(); copies > 0; copies--) io.to(room).emit('message', message);
      ack?.({ ok: true, message });
    });
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, resolve);
  }).catch((err: NodeJS.ErrnoException) => {
    say(`cannot listen on HOST=${config.host} PORT=${config.port}: ${err.code ?? err.message}`);
    process.exit(2);
  });
  const { port } = httpServer.address() as AddressInfo;
  const shownHost = config.host === '0.0.0.0' ? 'localhost' : config.host;
  process.stdout.write(`Relay is running at http://${shownHost}:${port}\n`);
  if (faults.dropEvery || faults.repeatEvery) say(`fault switch: drop every ${faults.dropEvery || '-'}, repeat every ${faults.repeatEvery || '-'}`);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    io.close(() => {
      void Promise.allSettled(clients.map((c) => c.quit())).then(() => process.exit(0));
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  say(`failed to start: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
