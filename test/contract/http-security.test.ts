import http from 'node:http';
import net from 'node:net';
import zlib from 'node:zlib';
import { io as ioClient } from 'socket.io-client';
import { CONTENT_SECURITY_POLICY } from '../../server/http/security';
import { defer } from '../helpers/cleanup';
import { ok, waitFor } from '../helpers/events';
import { client, handshake, refusal, startServer } from '../helpers/server';

const ALLOWED = 'https://app.example.com';
const FOREIGN = 'https://evil.example';

/** A request sent as given (fetch forbids a Host header of one's own); resolves with status, headers and body. */
function request(url: string, options: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer | string }) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = http.request(`${url}${options.path}`, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('CORS and origins', () => {
  it('answers a preflight from an allowed origin, and one from any other origin without a CORS header', async () => {
    const { url } = await startServer({ allowedOrigins: [ALLOWED] });
    const preflight = (origin: string) =>
      request(url, { method: 'OPTIONS', path: '/api/rooms/lobby/messages', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
    const allowed = await preflight(ALLOWED);
    expect(allowed.status).toBe(204);
    expect(allowed.headers).toMatchObject({ 'access-control-allow-origin': ALLOWED, 'access-control-allow-credentials': 'true' });
    expect(allowed.headers['access-control-allow-headers']).toMatch(/authorization/);
    expect(allowed.headers['access-control-allow-methods']).toMatch(/POST/);
    const foreign = await preflight(FOREIGN);
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    expect(foreign.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('serves the API to an allowed origin with CORS headers, and refuses a foreign origin with 403 forbidden', async () => {
    const { url } = await startServer({ allowedOrigins: [ALLOWED] });
    const allowed = await request(url, { path: '/api/rooms', headers: { origin: ALLOWED } });
    expect(allowed.status).toBe(200);
    expect(allowed.headers['access-control-allow-origin']).toBe(ALLOWED);
    const foreign = await request(url, { path: '/api/rooms', headers: { origin: FOREIGN } });
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body)).toEqual({ error: { code: 'forbidden', message: expect.stringContaining('origin') } });
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    // Not a browser (no Origin), or the server's own origin: served.
    expect((await request(url, { path: '/api/rooms' })).status).toBe(200);
    expect((await request(url, { path: '/api/rooms', headers: { origin: url } })).status).toBe(200);
  });

  it('never reflects a foreign Origin on Socket.IO\'s long-polling transport', async () => {
    const { url } = await startServer({ allowedOrigins: [ALLOWED] });
    const poll = (origin: string) => request(url, { path: '/socket.io/?EIO=4&transport=polling', headers: { origin } });
    expect((await poll(ALLOWED)).headers).toMatchObject({ 'access-control-allow-origin': ALLOWED, 'access-control-allow-credentials': 'true' });
    const foreign = await poll(FOREIGN);
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    expect(foreign.headers['access-control-allow-credentials']).toBeUndefined();
    const preflight = await request(url, { method: 'OPTIONS', path: '/socket.io/?EIO=4&transport=polling', headers: { origin: FOREIGN, 'access-control-request-method': 'POST' } });
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('PUBLIC_ORIGIN: the same-origin rule no longer trusts Host, so a DNS-rebinding page is refused', async () => {
    // The page at evil.example, whose name now points at the server: its Origin and the Host match.
    const rebinding = { origin: 'http://evil.example:8080', host: 'evil.example:8080' };
    const open = await startServer();
    expect(await handshake(client(open.url, { name: 'a' }, { extraHeaders: rebinding }))).toBeDefined();

    const pinned = await startServer({ publicOrigins: ['https://chat.example.com'] });
    expect(await refusal(client(pinned.url, { name: 'a' }, { extraHeaders: rebinding }))).toBe('forbidden_origin');
    expect((await request(pinned.url, { path: '/api/rooms', headers: rebinding })).status).toBe(403);
    // The public origin is the server's own, whatever Host the balancer passed on.
    expect(await handshake(client(pinned.url, { name: 'a' }, { extraHeaders: { origin: 'https://chat.example.com' } }))).toBeDefined();
    expect((await request(pinned.url, { path: '/api/rooms', headers: { origin: 'https://chat.example.com' } })).status).toBe(200);
  });
});

describe('security headers', () => {
  const expectHelmet = (headers: http.IncomingHttpHeaders) => {
    expect(headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['x-frame-options']).toBe('DENY');
    expect(headers['referrer-policy']).toBe('no-referrer');
  };

  it('are on the app page, the API, probes and errors alike, with the app\'s one policy', async () => {
    const { url } = await startServer();
    expect(CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'none'");
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    for (const path of ['/', '/api/rooms', '/healthz', '/metrics', '/api/nothing', '/api/rooms/lobby/messages?limit=x']) {
      const res = await request(url, { path });
      expectHelmet(res.headers);
      // Plain HTTP: no HSTS.
      expect(res.headers['strict-transport-security']).toBeUndefined();
    }
    // A path no route serves answers the contract's JSON 404 with the same headers.
    const missing = await request(url, { path: '/nothing' });
    expect(missing.status).toBe(404);
    expectHelmet(missing.headers);
  });

  it('are on Socket.IO\'s own answers too', async () => {
    const { url } = await startServer();
    const res = await request(url, { path: '/socket.io/?EIO=4&transport=polling' });
    expect(res.status).toBe(200);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
  });

  it('add HSTS when a trusted balancer says the request came over HTTPS, and only then', async () => {
    const proxied = await startServer({ trustProxy: true });
    const overTls = await request(proxied.url, { path: '/', headers: { 'x-forwarded-proto': 'https' } });
    expect(overTls.headers['strict-transport-security']).toBe('max-age=31536000');
    const polling = await request(proxied.url, { path: '/socket.io/?EIO=4&transport=polling', headers: { 'x-forwarded-proto': 'https' } });
    expect(polling.headers['strict-transport-security']).toBe('max-age=31536000');
    const direct = await startServer({ trustProxy: false });
    expect((await request(direct.url, { path: '/', headers: { 'x-forwarded-proto': 'https' } })).headers['strict-transport-security']).toBeUndefined();
  });
});

describe('request bodies that cannot be decoded', () => {
  const post = (url: string, body: Buffer | string, headers: Record<string, string>) =>
    request(url, { method: 'POST', path: '/api/rooms/lobby/messages', headers: { 'content-type': 'application/json', ...headers }, body });
  const json = JSON.stringify({ name: 'alice', text: 'hi', clientId: 'c1' });

  it.each([
    ['a corrupt gzip body', Buffer.from('this is not gzip at all'), { 'content-encoding': 'gzip' }],
    ['a gzip body cut short', zlib.gzipSync(json).subarray(0, 12), { 'content-encoding': 'gzip' }],
    ['a corrupt deflate body', Buffer.from('nope'), { 'content-encoding': 'deflate' }],
    ['an unsupported content encoding', Buffer.from(json), { 'content-encoding': 'x-unheard-of' }],
    ['an unsupported charset', Buffer.from(json), { 'content-type': 'application/json; charset=klingon' }],
  ])('answer 400 invalid_payload for %s', async (_, body, headers) => {
    const { url } = await startServer();
    const res = await post(url, body, headers);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ error: { code: 'invalid_payload', message: expect.stringMatching(/^body: /) } });
  });

  it('while a good gzip body is read', async () => {
    const { url } = await startServer();
    expect((await post(url, zlib.gzipSync(json), { 'content-encoding': 'gzip' })).status).toBe(201);
  });
});

describe('HTTP timeouts', () => {
  /** Opens a raw TCP connection, writes `text`, and resolves with what the server wrote before it closed the connection. */
  function rawUntilClosed(port: number, text: string) {
    return new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
      let received = '';
      socket.on('data', (d) => (received += d.toString()));
      socket.on('close', () => resolve(received));
      socket.on('error', reject);
      defer(() => socket.destroy());
    });
  }
  const short = { httpHeadersTimeoutMs: 300, httpRequestTimeoutMs: 600, httpKeepAliveTimeoutMs: 300 };

  it('cut off a request whose headers never end, with the contract\'s JSON error', async () => {
    const { port } = await startServer(short);
    const answer = await rawUntilClosed(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(JSON.parse(answer.split('\r\n\r\n')[1])).toEqual({ error: { code: 'invalid_payload', message: 'request not received in time' } });
  });

  it('answer what the HTTP parser refuses with the contract\'s JSON error, not a bare status line', async () => {
    const { port } = await startServer();
    const malformed = await rawUntilClosed(port, 'GET / HTTP/1.1\r\nHost x\r\n\r\n');
    expect(malformed).toMatch(/^HTTP\/1\.1 400 .*\r\nContent-Type: application\/json/s);
    expect(JSON.parse(malformed.split('\r\n\r\n')[1])).toEqual({ error: { code: 'invalid_payload', message: 'malformed HTTP request' } });
    const huge = await rawUntilClosed(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(huge).toMatch(/^HTTP\/1\.1 431/);
    expect(JSON.parse(huge.split('\r\n\r\n')[1])).toEqual({ error: { code: 'too_large', message: 'request headers too large' } });
  });

  it('answer a path no route serves with the contract\'s JSON 404, outside /api too', async () => {
    const { url } = await startServer();
    const res = await fetch(`${url}/healthz`, { method: 'PUT' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'invalid_payload', message: 'no such route' } });
  });

  it('cut off a request whose body never arrives', async () => {
    const { port } = await startServer(short);
    const head = 'POST /api/rooms/lobby/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"text":';
    expect(await rawUntilClosed(port, head)).toMatch(/^HTTP\/1\.1 408/);
  });

  it('are the server\'s, as set, and an idle keep-alive connection is closed', async () => {
    const { port, app } = await startServer(short);
    expect(app.httpServer).toMatchObject({ headersTimeout: 300, requestTimeout: 600, keepAliveTimeout: 300 });
    const answered = await rawUntilClosed(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(answered).toMatch(/^HTTP\/1\.1 200/);
  });

  it('leave a long-poll held longer than the request timeout alone', async () => {
    const { url } = await startServer({ ...short, pingIntervalMs: 1000, pingTimeoutMs: 1000 });
    const socket = ioClient(url, { auth: { name: 'poller' }, transports: ['polling'], reconnection: false, forceNew: true });
    defer(() => socket.disconnect());
    await waitFor(socket, 'session');
    // Each ping is the answer to a GET the server held for a second.
    await waitFor(socket.io, 'ping', () => true, 3000);
    await waitFor(socket.io, 'ping', () => true, 3000);
    expect(socket.connected).toBe(true);
    await ok(socket, 'rooms:list', {});
  });
});

describe('/metrics', () => {
  const TOKEN = 'metrics-token-0123456789';

  it('with METRICS_TOKEN, answers only a bearer of that token', async () => {
    const { url } = await startServer({ metricsToken: TOKEN });
    const none = await request(url, { path: '/metrics' });
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body)).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expect((await request(url, { path: '/metrics', headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    expect((await request(url, { path: '/metrics', headers: { authorization: `Bearer ${TOKEN}x` } })).status).toBe(401);
    const right = await request(url, { path: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(right.status).toBe(200);
    expect(right.body).toMatch(/^# HELP parley_connected_sockets /m);
  });

  it('with METRICS_PORT, is served on that port alone, with the token if set', async () => {
    const { url, app } = await startServer({ metricsPort: 0, metricsHost: '127.0.0.1', metricsToken: TOKEN });
    const port = await app.listenMetrics();
    const metricsUrl = `http://127.0.0.1:${port}`;
    expect((await request(url, { path: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
    expect((await request(metricsUrl, { path: '/metrics' })).status).toBe(401);
    const right = await request(metricsUrl, { path: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(right.status).toBe(200);
    expect(right.body).toMatch(/^# HELP parley_connected_sockets /m);
    expect((await request(metricsUrl, { path: '/api/rooms' })).status).toBe(404);
  });
});
