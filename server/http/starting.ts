import http from 'node:http';

/**
 * What an instance answers while its backend is still connecting (Redis not
 * reachable yet at start-up): alive (`/healthz` 200) but not ready (`/readyz`
 * and everything else 503 `unavailable`), so that a balancer or an
 * orchestrator can tell "starting" from "gone". WebSocket upgrades get no
 * answer and are closed; clients retry.
 */
export function startingServer(): http.Server {
  return http.createServer((req, res) => {
    const alive = req.method === 'GET' && req.url === '/healthz';
    const body = alive
      ? { ok: true }
      : { error: { code: 'unavailable', message: 'starting: waiting for the store', retryAfterMs: 1000 } };
    res.writeHead(alive ? 200 : 503, { 'content-type': 'application/json; charset=utf-8', ...(alive ? {} : { 'retry-after': '1' }) });
    res.end(JSON.stringify(body));
  });
}
