/**
 * The HTTP surface (express): the browser app, `/healthz`, `/readyz`,
 * `/metrics` and the REST API, with errors answered as the contract's codes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { identify, type Identity, type OriginRules } from '../auth';
import { deleteRequest, editRequest, reactionRequest, type Chat, type ChangeRequest } from '../chat';
import type { Config } from '../config';
import { AppError, HTTP_STATUS, retryAfterHeader, toErrorBody } from '../errors';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import {
  parseChanges,
  parseDelete,
  parseEdit,
  parseHistory,
  parsePostBody,
  parseReaction,
  parseRoom,
  parseRoomsList,
  queryNumber,
} from '../validation';
import { clientAddress, corsFor, refuseForeignOrigins, securityHeaders } from './security';
import { serveStatic } from './static';

export interface RoutesDeps {
  chat: Chat;
  config: Pick<Config, 'authSecret' | 'trustProxy' | 'maxBodyBytes' | 'metricsToken'>;
  /** Which browser origins may call the API. */
  origins: OriginRules;
  /** Whether `/metrics` is served here (not when it has a port of its own). @default true */
  serveMetrics?: boolean;
  metrics: Metrics;
  logger: Logger;
  /** `/readyz`: whether this instance takes traffic now. */
  ready(): boolean;
  /** Folder of the built browser app. */
  publicDir: string;
}

/** The HTTP surface: the browser app, probes, metrics and the REST API. */
export function createHttpApp(deps: RoutesDeps): express.Express {
  const { chat, config, metrics, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  if (config.trustProxy) app.set('trust proxy', true);
  app.use(securityHeaders(config.trustProxy));
  app.use(corsFor(deps.origins));

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/readyz', (_req, res) => {
    const ready = deps.ready();
    res.status(ready ? 200 : 503).json({ ok: ready });
  });
  if (deps.serveMetrics !== false) app.get('/metrics', metricsHandler(metrics, config.metricsToken));

  const api = express.Router();
  api.use(refuseForeignOrigins(deps.origins));
  api.use(express.json({ limit: config.maxBodyBytes }));

  // Token mode: every /api route needs a bearer token.
  const bearer = (req: Request): Identity | undefined => {
    if (config.authSecret === undefined) return undefined;
    // The auth scheme is case-insensitive (RFC 7235).
    const match = /^Bearer +(\S+) *$/i.exec(req.get('authorization') ?? '');
    return identify({ token: match?.[1] }, config.authSecret);
  };

  /** Who writes: the bearer in token mode, the body's `name` in open mode. */
  const caller = (req: Request): Identity => bearer(req) ?? identify({ name: (req.body as { name?: unknown } | undefined)?.name }, undefined);

  /** Who reads, for the read limit of an anonymous read: the address, as the connection limit counts it. */
  const address = (req: Request) => clientAddress(req.headers, req.socket.remoteAddress, config.trustProxy);

  /** Refuses a query parameter given more than once. */
  const single = (req: Request, ...names: string[]) => {
    for (const key of names) {
      if (Array.isArray(req.query[key])) throw new AppError('invalid_payload', `${key}: given more than once`);
    }
  };

  api.get('/rooms', async (req, res) => {
    const identity = bearer(req);
    for (const key of ['limit', 'after']) {
      if (Array.isArray(req.query[key])) throw new AppError('invalid_payload', `${key}: given more than once`);
    }
    const after = req.query.after;
    if (after !== undefined && typeof after !== 'string') throw new AppError('invalid_payload', 'after: expected a room name');
    res.json(await chat.roomsList(identity, parseRoomsList({ limit: queryNumber(req.query.limit, 'limit'), after }), address(req)));
  });

  api.get('/rooms/:room/messages', async (req, res) => {
    const identity = bearer(req);
    single(req, 'before', 'after', 'limit');
    const payload = parseHistory({
      room: parseRoom(req.params.room),
      before: queryNumber(req.query.before, 'before'),
      after: queryNumber(req.query.after, 'after'),
      limit: queryNumber(req.query.limit, 'limit'),
    });
    res.json(await chat.history(identity, payload, address(req)));
  });

  api.post('/rooms/:room/messages', async (req, res) => {
    // Identity first, as on every /api route: an unidentified caller learns nothing else.
    const identity = caller(req);
    const room = parseRoom(req.params.room);
    const body = parsePostBody(req.body);
    const message = await chat.send(identity, { room, text: body.text, clientId: body.clientId });
    res.status(201).json({ message });
  });

  // Changes to a message: identity first, then the request as its socket
  // event parses it (the room, then the id, then the text or the reaction).
  const changeRoute = (request: (req: Request) => ChangeRequest) => async (req: Request, res: Response) => {
    const identity = caller(req);
    res.json({ message: await chat.change(identity, request(req)) });
  };
  const text = (req: Request) => (req.body as { text?: unknown } | undefined)?.text;
  api.patch(
    '/rooms/:room/messages/:id',
    changeRoute((req) => editRequest(parseEdit({ room: req.params.room, id: req.params.id, text: text(req) }))),
  );
  api.delete(
    '/rooms/:room/messages/:id',
    changeRoute((req) => deleteRequest(parseDelete({ room: req.params.room, id: req.params.id }))),
  );
  api.put(
    '/rooms/:room/messages/:id/reactions/:reaction',
    changeRoute((req) => reactionRequest(parseReaction(req.params), true)),
  );
  api.delete(
    '/rooms/:room/messages/:id/reactions/:reaction',
    changeRoute((req) => reactionRequest(parseReaction(req.params), false)),
  );

  api.get('/rooms/:room/changes', async (req, res) => {
    const identity = bearer(req);
    single(req, 'after', 'limit');
    const payload = parseChanges({
      room: parseRoom(req.params.room),
      after: queryNumber(req.query.after, 'after') ?? 0,
      limit: queryNumber(req.query.limit, 'limit'),
    });
    res.json(await chat.changes(identity, payload, address(req)));
  });

  api.use((_req, _res, next) => next(new NoSuchRoute()));
  app.use('/api', api);

  app.use(serveStatic(deps.publicDir));
  // Anything else answers the contract's JSON error too, not express's HTML page.
  app.use((_req, _res, next) => next(new NoSuchRoute()));

  app.use(answerErrors(metrics, logger));

  return app;
}

/**
 * The metrics port's app (`METRICS_PORT`): `/metrics` and nothing else,
 * with the same headers and error answers as the main port.
 */
export function createMetricsApp(deps: Pick<RoutesDeps, 'metrics' | 'logger'> & { config: Pick<Config, 'trustProxy' | 'metricsToken'> }): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(securityHeaders(deps.config.trustProxy));
  app.get('/metrics', metricsHandler(deps.metrics, deps.config.metricsToken));
  app.use((_req, _res, next) => next(new NoSuchRoute()));
  app.use(answerErrors(deps.metrics, deps.logger));
  return app;
}

/** The last middleware: errors, including a body that is not JSON, answer `{ error: { code, message } }`. */
function answerErrors(metrics: Metrics, logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const body = httpError(err, req);
    if (body.code === 'internal') logger.error({ err }, 'http route failed');
    metrics.errors.inc({ code: body.code });
    res.set(retryAfterHeader(body));
    res.status(err instanceof NoSuchRoute ? 404 : HTTP_STATUS[body.code]).json({ error: body });
  };
}

/**
 * `GET /metrics`: Prometheus text; with a token set, only for
 * `Authorization: Bearer <token>` (401 `unauthorized` otherwise).
 */
function metricsHandler(metrics: Metrics, token: string | undefined): express.Handler {
  // Compared as digests: equal lengths for timingSafeEqual, and no early exit on the first differing byte.
  const digest = (s: string) => createHash('sha256').update(s).digest();
  const expected = token === undefined ? undefined : digest(token);
  return (req, res, next) => {
    if (expected) {
      const given = /^Bearer +(\S+) *$/i.exec(req.get('authorization') ?? '')?.[1];
      if (given === undefined || !timingSafeEqual(digest(given), expected)) {
        res.set('www-authenticate', 'Bearer realm="metrics"');
        return next(new AppError('unauthorized', 'metrics: a bearer token is required (METRICS_TOKEN)'));
      }
    }
    metrics.registry
      .metrics()
      .then((text) => res.type(metrics.registry.contentType).send(text))
      .catch(next);
  };
}

function decodes(segment: string): boolean {
  try {
    decodeURIComponent(segment);
    return true;
  } catch {
    return false;
  }
}

function httpError(err: unknown, req: Request) {
  // The router's: a path parameter that is not valid percent-encoding (UTF-8),
  // e.g. /api/rooms/%E0%A4%A/messages: the room's answers `invalid_room`, an
  // id's or a reaction's `invalid_payload`.
  if (err instanceof URIError) {
    const room = req.originalUrl.split('?')[0].split('/')[3] ?? '';
    if (!decodes(room)) return { code: 'invalid_room' as const, message: 'room: not valid percent-encoding' };
    return { code: 'invalid_payload' as const, message: 'path: not valid percent-encoding' };
  }
  // body-parser's errors: malformed JSON, bodies over the limit, and bodies
  // it cannot decode (an unsupported charset or Content-Encoding, or a gzip,
  // deflate or br body that is corrupt: zlib's error, given the status 400).
  const e = err as { type?: string; status?: number };
  if (e && e.type === 'entity.too.large') return { code: 'too_large' as const, message: 'request body too large' };
  if (e && !(err instanceof AppError) && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return { code: 'invalid_payload' as const, message: `body: ${typeof e.type === 'string' ? e.type.replace(/\./g, ' ') : 'corrupt content encoding'}` };
  }
  return toErrorBody(err);
}

/** An unknown `/api` route: `invalid_payload`, as the contract has no code for it, with the status 404. */
class NoSuchRoute extends AppError {
  constructor() {
    super('invalid_payload', 'no such route');
  }
}
