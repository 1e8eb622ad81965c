/**
 * TLS_CERT and TLS_KEY: the instance serves HTTPS and WSS itself, with a
 * certificate each test run makes (openssl), trusted by the clients here
 * through `ca`.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { io as ioClient } from 'socket.io-client';
import { startInstance } from '../../scripts/topology/instance';
import { defer } from '../helpers/cleanup';
import { ok, waitFor } from '../helpers/events';
import { until } from '../helpers/redis';
import { startServer } from '../helpers/server';

let dir: string;
let cert: string;
let key: string;
let ca: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-tls-'));
  cert = path.join(dir, 'cert.pem');
  key = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert],
    { stdio: 'ignore' },
  );
  ca = fs.readFileSync(cert, 'utf8');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** GET over HTTPS trusting only the test's certificate. */
function get(url: string) {
  return new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
    https.get(url, { ca, agent: false }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    }).on('error', reject);
  });
}

describe('TLS_CERT and TLS_KEY', () => {
  it('serve HTTPS with HSTS, and refuse plain HTTP on the same port', async () => {
    const { url, port } = await startServer({ tlsCert: cert, tlsKey: key });
    expect(url).toBe(`https://127.0.0.1:${port}`);
    const res = await get(`${url}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers['strict-transport-security']).toBe('max-age=31536000');
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });

  it.each([['websocket'], ['polling']])('carry Socket.IO over %s, secured', async (transport) => {
    const { url } = await startServer({ tlsCert: cert, tlsKey: key });
    const socket = ioClient(url, { auth: { name: 'alice' }, transports: [transport], ca, reconnection: false, forceNew: true });
    defer(() => socket.disconnect());
    await waitFor(socket, 'session');
    await ok(socket, 'room:join', { room: 'lobby' });
    const sent = await ok(socket, 'message:send', { room: 'lobby', text: 'over tls', clientId: 'c1' });
    expect(sent.message.text).toBe('over tls');
  });

  it('refuse a client that does not trust the certificate', async () => {
    const { url } = await startServer({ tlsCert: cert, tlsKey: key });
    const socket = ioClient(url, { auth: { name: 'alice' }, transports: ['websocket'], reconnection: false, forceNew: true });
    defer(() => socket.disconnect());
    const err = await waitFor<Error>(socket, 'connect_error');
    expect(err.message).toMatch(/websocket error|self[- ]signed|certificate/i);
  });

  it('make node dist/server/main.js listen on https, and a bad path stop it naming the variable', async () => {
    const instance = await startInstance({ env: { TLS_CERT: cert, TLS_KEY: key, LOG_LEVEL: 'warn' }, inheritEnv: false, waitReady: false });
    defer(() => instance.stop());
    expect(instance.url).toMatch(/^https:\/\//);
    // The banner comes before the app takes over from the starting server: wait for ready.
    await until('https /readyz 200', async () => (await get(`${instance.url}/readyz`)).status === 200);

    const bad = await startInstance({ env: { TLS_CERT: path.join(dir, 'missing.pem'), TLS_KEY: key }, inheritEnv: false, waitReady: false }).then(
      (i) => i,
      (err: Error) => err,
    );
    expect(bad).toBeInstanceOf(Error);
    expect((bad as Error).message).toMatch(/TLS_CERT: must be a readable file/);
  });
});
