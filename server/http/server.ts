/**
 * The instance's HTTP server: HTTPS (and so WSS) with `TLS_CERT`/`TLS_KEY`,
 * and the timeouts that keep a slow or silent client from holding a
 * connection: a request whose headers or body never arrive is cut off.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
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
  return server;
}

/** Whether the server speaks TLS. */
export function isTls(server: HttpServer): boolean {
  return server instanceof https.Server;
}
