/**
 * The HTTP answers of an instance that is still waiting for its backend.
 */
import { retryAfterHeader, toErrorBody, UnavailableError } from '../errors';
import { securityHeadersFor } from './security';
import { createHttpServer, type HttpServer, type HttpServerOptions } from './server';

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * What an instance answers while its backend is still connecting (Redis not
 * reachable yet at start-up): alive (`/healthz` 200) but not ready (`/readyz`
 * and everything else 503 `unavailable`), so that a balancer or an
 * orchestrator can tell "starting" from "gone". WebSocket upgrades get no
 * answer and are closed; clients retry.
 */
export function startingServer(options: HttpServerOptions & { trustProxy: boolean }): HttpServer {
  const server = createHttpServer(options);
  server.on('request', (req, res) => {
    const headers = { 'content-type': JSON_TYPE, ...securityHeadersFor(req, options.trustProxy) };
    if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, headers).end(JSON.stringify({ ok: true }));
      return;
    }
    const error = toErrorBody(new UnavailableError('starting: waiting for the store'));
    res.writeHead(503, { ...headers, ...retryAfterHeader(error) });
    res.end(JSON.stringify({ error }));
  });
  return server;
}
