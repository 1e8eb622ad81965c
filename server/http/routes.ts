/**
 * The HTTP surface (express): the browser app, `/healthz`, `/readyz`,
 * `/metrics` and the REST API, with errors answered as the contract's codes.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { identify, type Identity } from '../auth';
import type { Chat } from '../chat';
import { MAX_FRAME_BYTES, type Config } from '../config';
import { AppError, HTTP_STATUS, retryAfterHeader, toErrorBody } from '../errors';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import { parseHistory, parsePostBody, parseRoom, queryNumber } from '../validation';
import { serveStatic } from './static';

export interface RoutesDeps {
  chat: Chat;
  config: Pick<Config, 'authSecret' | 'trustProxy'>;
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

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/readyz', (_req, res) => {
    const ready = deps.ready();
    res.status(ready ? 200 : 503).json({ ok: ready });
  });
  app.get('/metrics', (_req, res, next) => {
    metrics.registry
      .metrics()
      .then((text) => res.type(metrics.registry.contentType).send(text))
      .catch(next);
  });

  const api = express.Router();
  api.use(express.json({ limit: MAX_FRAME_BYTES }));

  // Token mode: every /api route needs a bearer token.
  const bearer = (req: Request): Identity | undefined => {
    if (config.authSecret === undefined) return undefined;
    // The auth scheme is case-insensitive (RFC 7235).
    const match = /^Bearer +(\S+) *$/i.exec(req.get('authorization') ?? '');
    return identify({ token: match?.[1] }, config.authSecret);
  };

  api.get('/rooms', async (req, res) => {
    res.json({ rooms: await chat.roomsList(bearer(req)) });
  });

  api.get('/rooms/:room/messages', async (req, res) => {
    const identity = bearer(req);
    for (const key of ['before', 'after', 'limit']) {
      if (Array.isArray(req.query[key])) throw new AppError('invalid_payload', `${key}: given more than once`);
    }
    const payload = parseHistory({
      room: parseRoom(req.params.room),
      before: queryNumber(req.query.before, 'before'),
      after: queryNumber(req.query.after, 'after'),
      limit: queryNumber(req.query.limit, 'limit'),
    });
    res.json(await chat.history(identity, payload));
  });

  api.post('/rooms/:room/messages', async (req, res) => {
    // Identity first, as on every /api route: an unidentified caller learns nothing else.
    const identity = bearer(req) ?? identify({ name: (req.body as { name?: unknown } | undefined)?.name }, undefined);
    const room = parseRoom(req.params.room);
    const body = parsePostBody(req.body);
    const message = await chat.send(identity, { room, text: body.text, clientId: body.clientId });
    res.status(201).json({ message });
  });

  api.use((_req, _res, next) => next(new NoSuchRoute()));
  app.use('/api', api);

  app.use(serveStatic(deps.publicDir));

  // Errors, including a body that is not JSON, answer `{ error: { code, message } }`.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const body = httpError(err);
    if (body.code === 'internal') logger.error({ err }, 'http route failed');
    metrics.errors.inc({ code: body.code });
    res.set(retryAfterHeader(body));
    res.status(err instanceof NoSuchRoute ? 404 : HTTP_STATUS[body.code]).json({ error: body });
  });

  return app;
}

function httpError(err: unknown) {
  // The router's: a path parameter (the only one is `:room`) that is not valid
  // percent-encoding, e.g. /api/rooms/%E0%A4%A/messages.
  if (err instanceof URIError) return { code: 'invalid_room' as const, message: 'room: not valid percent-encoding' };
  // body-parser's errors: malformed JSON and bodies over the limit.
  const e = err as { type?: string; status?: number };
  if (e && e.type === 'entity.too.large') return { code: 'too_large' as const, message: 'request body too large' };
  if (e && typeof e.type === 'string' && e.status && e.status < 500) {
    return { code: 'invalid_payload' as const, message: `body: ${e.type.replace(/\./g, ' ')}` };
  }
  return toErrorBody(err);
}

/** An unknown `/api` route: `invalid_payload`, as the contract has no code for it, with the status 404. */
class NoSuchRoute extends AppError {
  constructor() {
    super('invalid_payload', 'no such route');
  }
}
