/**
 * The built browser app and the SDK module, with caching headers.
 */
import express, { type Response } from 'express';
import path from 'node:path';

/** Files under /assets/ carry a hash of their content in their name: they never change. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * Serves the built browser app and the SDK module from `publicDir`:
 * hashed assets cached for a year, everything else (index.html,
 * /sdk/parley.mjs) revalidated on every use (`no-cache`, with ETag and
 * Last-Modified), so a new build reaches browsers at once. The security
 * headers, the page's Content-Security-Policy among them, are security.ts's.
 */
export function serveStatic(publicDir: string): express.Handler {
  const assets = path.join(publicDir, 'assets') + path.sep;
  return express.static(publicDir, {
    index: 'index.html',
    setHeaders(res: Response, file: string) {
      res.setHeader('Cache-Control', file.startsWith(assets) ? IMMUTABLE : 'no-cache');
    },
  });
}
