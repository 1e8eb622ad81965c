/**
 * The HTTP answers of an instance that is still waiting for its backend.
 */
import http from 'node:http';
import { retryAfterHeader, toErrorBody, UnavailableError } from '../errors';

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * What an instance answers while its backend is still connecting (Redis not
 * reachable yet at start-up): alive (`/healthz` 200) but not ready (`/readyz`
 * and everything else 503 `unavailable`), so that a balancer or an
 * orchestrator can tell "starting" from "gone". WebSocket upgrades get no
 * answer and are closed; clients retry.
 */
export function startingServer(): http.Server {
  return http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, { 'content-type': JSON_TYPE }).end(JSON.stringify({ ok: true }));
      return;
    }
    const error = toErrorBody(new UnavailableError('starting: waiting for the store'));
    res.writeHead(503, { 'content-type': JSON_TYPE, ...retryAfterHeader(error) });
    res.end(JSON.stringify({ error }));
  });
}
