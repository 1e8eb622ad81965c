/**
 * What every HTTP answer carries for the browser's sake: the security
 * headers (helmet), the one Content-Security-Policy, HSTS over HTTPS, and
 * CORS for the allowed origins only, on the REST API and Socket.IO's
 * transports alike.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import cors, { type CorsOptions } from 'cors';
import type express from 'express';
import helmet from 'helmet';
import { originAllowed, type OriginRules } from '../auth';
import { AppError } from '../errors';

/**
 * The Content-Security-Policy of every answer, the app page's included: its
 * own files and its own origin only (the Socket.IO connection too: `'self'`
 * covers ws: and wss: of the same host). User text is only ever set as
 * text; this keeps any slip from running something.
 */
const CSP_DIRECTIVES = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
};

/** `CSP_DIRECTIVES` as the header's value, written as helmet writes it. */
export const CONTENT_SECURITY_POLICY = Object.entries(CSP_DIRECTIVES)
  .map(([name, values]) => `${name} ${values.join(' ')}`)
  .join(';');

/** HSTS over HTTPS: a year, this host only (subdomains are the operator's to decide). */
const HSTS_MAX_AGE_SEC = 365 * 24 * 3600;
const HSTS = `max-age=${HSTS_MAX_AGE_SEC}`;

/**
 * The headers of answers that express does not make (Socket.IO's transports,
 * the starting server): what matters for a non-HTML answer.
 */
export const BASIC_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** Whether a request came over HTTPS: to this instance, or to a trusted balancer that said so. */
export function cameOverTls(req: IncomingMessage, trustProxy: boolean): boolean {
  if ((req.socket as TLSSocket).encrypted) return true;
  const proto = req.headers['x-forwarded-proto'];
  return trustProxy && typeof proto === 'string' && proto.split(',')[0].trim().toLowerCase() === 'https';
}

/** Headers for an answer express does not make, HSTS included over HTTPS. */
export function securityHeadersFor(req: IncomingMessage, trustProxy: boolean): Record<string, string> {
  return cameOverTls(req, trustProxy) ? { ...BASIC_SECURITY_HEADERS, 'Strict-Transport-Security': HSTS } : { ...BASIC_SECURITY_HEADERS };
}

/**
 * helmet's headers on every express answer: the CSP above, `nosniff`,
 * `frame-ancestors 'none'` and `X-Frame-Options: DENY`, no referrer, and
 * HSTS only when the request came over HTTPS (an HSTS header on plain HTTP
 * is ignored by browsers, and would pin a development host to HTTPS).
 */
export function securityHeaders(trustProxy: boolean): express.Handler {
  const common = helmet({
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    strictTransportSecurity: false,
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
  });
  const hsts = helmet.strictTransportSecurity({ maxAge: HSTS_MAX_AGE_SEC, includeSubDomains: false });
  return (req, res, next) => {
    common(req, res, (err?: unknown) => {
      if (err || !cameOverTls(req, trustProxy)) return next(err);
      hsts(req, res, next);
    });
  };
}

/**
 * CORS for the allowed origins only (`ALLOWED_ORIGINS` and `PUBLIC_ORIGIN`):
 * any other Origin gets no CORS header at all, so a foreign page can neither
 * read an answer nor send what needs a preflight. The same-origin app needs
 * no CORS. Used by the REST API and, as Socket.IO's `cors` option, by its
 * long-polling transport.
 */
export function corsOptions(rules: OriginRules): CorsOptions {
  const listed = new Set([...rules.allowed, ...rules.publicOrigins]);
  return {
    origin: (origin, callback) => callback(null, origin !== undefined && listed.has(origin)),
    // Socket.IO behind the balancer needs its sticky cookie sent along.
    credentials: true,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type'],
    exposedHeaders: ['retry-after'],
    maxAge: 600,
  };
}

/** express middleware: CORS for the allowed origins (see `corsOptions`). */
export function corsFor(rules: OriginRules): express.Handler {
  return cors(corsOptions(rules));
}

/**
 * Refuses a browser request from an origin that is not allowed with 403
 * `forbidden`, as the handshake refuses it with `forbidden_origin`: CORS
 * keeps the page from reading the answer, this keeps the request from being
 * carried out at all.
 */
export function refuseForeignOrigins(rules: OriginRules): express.Handler {
  return (req, _res, next) => {
    if (originAllowed(req.get('origin'), req.get('host'), rules)) return next();
    next(new AppError('forbidden', 'this origin may not use the API (ALLOWED_ORIGINS)'));
  };
}

/**
 * The client's address for per-address limits: with `trustProxy`, as the
 * balancer saw it, the LAST `X-Forwarded-For` entry, the one our balancer
 * appended (earlier entries come from the client and could be forged to
 * dodge the limits); else the peer's.
 */
export function clientAddress(headers: Record<string, string | string[] | undefined>, peer: string | undefined, trustProxy: boolean): string {
  if (trustProxy) {
    const value = headers['x-forwarded-for'];
    const joined = Array.isArray(value) ? value.join(',') : value;
    const last = joined?.split(',').at(-1)?.trim();
    if (last) return last;
  }
  return peer ?? 'unknown';
}
