/**
 * The instance's HTTP server: HTTPS (and so WSS) with `TLS_CERT`/`TLS_KEY`,
 * and the timeouts that keep a slow or silent client from holding a
 * connection: a request whose headers or body never arrive is cut off.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { DEFAULTS, type Config } from '../config';

/** What the server is built from; timeouts left out fall back to `DEFAULTS`. */
export type HttpServerOptions = Partial<
  Pick<Config, 'tlsCert' | 'tlsKey' | 'httpRequestTimeoutMs' | 'httpHeadersTimeoutMs' | 'httpKeepAliveTimeoutMs'>
>;

/** Plain or TLS: both take Socket.IO and express alike. */
export type HttpServer = http.Server | https.Server;

/**
 * A new HTTP server, HTTPS when a certificate and key are given (read now:
 * a bad file stops start-up rather than the first handshake).
 */
export function createHttpServer(options: HttpServerOptions = {}): HttpServer {
  const requestTimeout = options.httpRequestTimeoutMs ?? DEFAULTS.httpRequestTimeoutMs;
  const headersTimeout = options.httpHeadersTimeoutMs ?? DEFAULTS.httpHeadersTimeoutMs;
  const timeouts: http.ServerOptions = {
    requestTimeout,
    headersTimeout,
    keepAliveTimeout: options.httpKeepAliveTimeoutMs ?? DEFAULTS.httpKeepAliveTimeoutMs,
    // Node looks for requests past their time only this often (30 s by
    // default, which would let a silent request live twice its timeout).
    connectionsCheckingInterval: Math.max(50, Math.min(5000, Math.floor(Math.min(headersTimeout, requestTimeout) / 4))),
  };
  const server =
    options.tlsCert && options.tlsKey
      ? https.createServer({ ...timeouts, cert: fs.readFileSync(options.tlsCert), key: fs.readFileSync(options.tlsKey) })
      : http.createServer(timeouts);
  // keepAliveTimeout is not taken from the options by every Node 20 release.
  server.keepAliveTimeout = timeouts.keepAliveTimeout!;
  server.on('clientError', answerClientError);
  return server;
}

/**
 * What Node's HTTP parser refuses before any route sees it (a malformed
 * request line or header, headers over 16 KB, a request not received in
 * time) answers the contract's JSON error, as every route does, instead of
 * Node's bare status line; the connection closes after it.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'too_large', 'request headers too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'invalid_payload', 'request not received in time']
        : [400, 'invalid_payload', 'malformed HTTP request'];
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Whether the server speaks TLS. */
export function isTls(server: HttpServer): boolean {
  return server instanceof https.Server;
}
