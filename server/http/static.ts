import express, { type Response } from 'express';
import path from 'node:path';

/** Files under /assets/ carry a hash of their content in their name: they never change. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * The app page may load its own files and talk to its own origin only (the
 * Socket.IO connection included: `'self'` covers ws: and wss: of the same
 * host). User text is only ever set as text; this keeps any slip from
 * running something.
 */
const APP_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Serves the built browser app and the SDK module from `publicDir`:
 * hashed assets cached for a year, everything else (index.html,
 * /sdk/parley.mjs) revalidated on every use (`no-cache`, with ETag and
 * Last-Modified), so a new build reaches browsers at once.
 */
export function serveStatic(publicDir: string): express.Handler {
  const assets = path.join(publicDir, 'assets') + path.sep;
  return express.static(publicDir, {
    index: 'index.html',
    setHeaders(res: Response, file: string) {
      res.setHeader('X-Content-Type-Options', 'nosniff');
      if (file.startsWith(assets)) return void res.setHeader('Cache-Control', IMMUTABLE);
      res.setHeader('Cache-Control', 'no-cache');
      if (path.extname(file) === '.html') res.setHeader('Content-Security-Policy', APP_CSP);
    },
  });
}
