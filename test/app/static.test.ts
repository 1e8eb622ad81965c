/**
 * How an instance serves the built app: hashed assets cached for a year,
 * the page itself and the SDK module revalidated, and a policy that keeps
 * the page to its own origin.
 */
import http from 'node:http';
import { startServer } from '../helpers/server';

/** The status of a GET sent as given (fetch would add `Cache-Control: no-cache` to a conditional request). */
function statusOf(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

describe('serving the browser app', () => {
  it('sends index.html revalidated, naming assets whose names carry their hash, cached for a year', async () => {
    const server = await startServer();
    const page = await get(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');

    const assets = [...page.body.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
    expect(assets).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\/assets\/app-[A-Z0-9]{8}\.js$/),
        expect.stringMatching(/^\/assets\/app-[A-Z0-9]{8}\.css$/),
        expect.stringMatching(/^\/assets\/icon-[A-Z0-9]{8}\.svg$/),
      ]),
    );
    for (const asset of assets) {
      const res = await get(`${server.url}${asset}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    }

    // Revalidation: the same page again is a 304 with its ETag.
    expect(await statusOf(`${server.url}/`, { 'if-none-match': page.headers.get('etag')! })).toBe(304);
  });

  it('keeps serving the SDK module at /sdk/parley.mjs, revalidated', async () => {
    const server = await startServer();
    const sdk = await get(`${server.url}/sdk/parley.mjs`);
    expect(sdk.status).toBe(200);
    expect(sdk.headers.get('content-type')).toMatch(/javascript/);
    expect(sdk.headers.get('cache-control')).toBe('no-cache');
    expect(sdk.body).toContain('ParleyClient');
  });

  it('answers 404 for an asset that does not exist', async () => {
    const server = await startServer();
    expect((await get(`${server.url}/assets/app-AAAAAAAA.js`)).status).toBe(404);
    expect((await get(`${server.url}/nothing-here`)).status).toBe(404);
  });
});
