/**
 * Property-based fuzzing of every HTTP route: random methods, paths, query
 * strings, headers and bodies (JSON of any shape, text that is no JSON,
 * unsupported charsets and content encodings, corrupt gzip), and raw request
 * bytes that Node's HTTP parser refuses. Every answer is JSON: a 2xx with an
 * object, or the contract's `{ error: { code, message } }` with the status
 * the README gives its code, never `internal`; the instance stays up, a
 * bystander is served, and the heap ends within a bound.
 */
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { ERROR_CODES } from '../../protocol';
import { HTTP_STATUS } from '../../server/errors';
import { ROOMS, shaped, strings, value } from './arbitraries';
import { expectHeapWithin, fuzzSeed, startTarget } from './target';

const REQUESTS = 1500;
const RAW_REQUESTS = 200;
const HEAP_BOUND_BYTES = 8 * 2 ** 20;

/** Percent-encodes a path segment; a lone surrogate goes as its WTF-8 bytes (`%ED%A0%80`), which are no UTF-8. */
function encode(s: string): string {
  return s.replace(/[\uD800-\uDFFF]/g, (c) => (c.charCodeAt(0) < 0xdc00 ? '\u0001' : '\u0002')).replace(/[^\u0001\u0002]+/g, encodeURIComponent).replace(/\u0001/g, '%ED%A0%80').replace(/\u0002/g, '%ED%B0%80');
}

const segment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...ROOMS).map(encode) },
  { weight: 2, arbitrary: strings.map(encode) },
  { weight: 1, arbitrary: fc.constantFrom('%E0%A4%A', '%', '%00', '..', '%2e%2e', '%2F', 'x'.repeat(300), '__proto__', 'constructor') },
);
const idSegment = fc.oneof(fc.uuid(), segment);

const path = fc.oneof(
  fc.constant('/api/rooms'),
  segment.map((r) => `/api/rooms/${r}/messages`),
  fc.tuple(segment, idSegment).map(([r, id]) => `/api/rooms/${r}/messages/${id}`),
  fc.tuple(segment, idSegment, segment).map(([r, id, x]) => `/api/rooms/${r}/messages/${id}/reactions/${x}`),
  segment.map((r) => `/api/rooms/${r}/changes`),
  fc.constantFrom('/api', '/api/', '/api/nothing', '/api/rooms/fuzz-a', '/healthz', '/readyz', '/metrics', '/api/rooms//messages'),
);

const queryValue = fc.oneof(fc.integer({ min: -5, max: 600 }).map(String), strings, fc.constantFrom('', '1e3', '0x10', 'NaN', '9007199254740993', '1.5'));
const query = fc
  .array(fc.tuple(fc.constantFrom('limit', 'after', 'before', '__proto__', 'constructor', 'x'), queryValue), { maxLength: 4 })
  .map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${k}=${encode(v)}`).join('&')}` : ''));

interface Body {
  bytes: Buffer | undefined;
  headers: Record<string, string>;
}
const json = fc.oneof({ weight: 3, arbitrary: shaped }, { weight: 1, arbitrary: value }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null'));
const body: fc.Arbitrary<Body> = fc.oneof(
  { weight: 6, arbitrary: json.map((bytes) => ({ bytes, headers: { 'content-type': 'application/json' } })) },
  { weight: 1, arbitrary: fc.constant({ bytes: undefined, headers: {} }) },
  { weight: 1, arbitrary: fc.constantFrom('{', '', 'null', '[]', '"text"', '{"text":', '[[[[[[[[[[').map((t) => ({ bytes: Buffer.from(t), headers: { 'content-type': 'application/json' } })) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 20_000 }).map((n) => ({ bytes: Buffer.from('['.repeat(n) + ']'.repeat(n)), headers: { 'content-type': 'application/json' } })) },
  { weight: 1, arbitrary: json.map((bytes) => ({ bytes, headers: { 'content-type': 'text/plain' } })) },
  { weight: 1, arbitrary: json.map((bytes) => ({ bytes, headers: { 'content-type': 'application/json; charset=utf-32' } })) },
  { weight: 1, arbitrary: json.map((bytes) => ({ bytes: gzipSync(bytes), headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } })) },
  { weight: 1, arbitrary: json.map((bytes) => ({ bytes: Buffer.concat([gzipSync(bytes).subarray(0, 12), bytes]), headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } })) },
  { weight: 1, arbitrary: json.map((bytes) => ({ bytes, headers: { 'content-type': 'application/json', 'content-encoding': 'x-unknown' } })) },
  { weight: 1, arbitrary: fc.constant({ bytes: Buffer.alloc(70_000, 'x'), headers: { 'content-type': 'application/json' } }) },
);

const request = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PATCH', 'PUT', 'DELETE', 'OPTIONS', 'HEAD'),
  path,
  query,
  body,
  authorization: fc.option(fc.oneof(fc.constantFrom('Bearer ', 'Bearer x.y.z', 'Basic abc'), strings.map((s) => `Bearer ${s.replace(/[^\x21-\x7e]/g, '')}`)), { nil: undefined }),
});

type Request = typeof request extends fc.Arbitrary<infer T> ? T : never;

/** Why an answer breaks the contract, or undefined. */
function responseProblem(status: number, contentType: string, text: string, method: string, path: string): string | undefined {
  if (status >= 500 && status !== 503) return `status ${status}`;
  if (method === 'HEAD' || (method === 'OPTIONS' && status === 204)) return undefined;
  // The probes and /metrics answer in their own formats; errors and the API answer JSON.
  if (status < 300 && !path.startsWith('/api')) return undefined;
  if (!/json/.test(contentType)) return `content-type ${contentType}`;
  let parsed: any;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (status < 300) return typeof parsed === 'object' && parsed !== null ? undefined : 'not an object';
  const code = parsed?.error?.code;
  if (!ERROR_CODES.includes(code)) return `unknown code ${code}`;
  if (typeof parsed.error.message !== 'string') return 'no message';
  // The README's exceptions to its table: an unknown route (404 invalid_payload), headers too large (431 too_large).
  const exception = (status === 404 && code === 'invalid_payload') || (status === 431 && code === 'too_large');
  if (HTTP_STATUS[code as keyof typeof HTTP_STATUS] !== status && !exception) return `${code} with status ${status}`;
  return undefined;
}

/**
 * Raw bytes on a fresh TCP connection, then the end of what the client
 * sends: a request the parser still waits on meets the end of its input,
 * so every case ends with the server closing. Resolves with what came back.
 */
function raw(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    socket.on('data', (d) => (got += d.toString('latin1')));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => resolve(got));
    socket.end(bytes);
  });
}

const rawRequest = fc.oneof(
  fc.string({ minLength: 1, maxLength: 60 }).map((s) => `${s.trim() || 'x'}\r\n\r\n`),
  fc.constantFrom(
    'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello',
    'GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n',
    'POST /api/rooms/fuzz-a/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    'GET /\u0000 HTTP/1.1\r\n\r\n',
    'GET / HTTP/9.9\r\n\r\n',
    `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    'GET / HTTP/1.1\r\nHost x\r\n\r\n',
    '\r\n\r\n',
  ),
);

describe('fuzzing every HTTP route', () => {
  it(`answers ${REQUESTS} random and hostile requests and ${RAW_REQUESTS} malformed ones with the contract's JSON errors`, async () => {
    const seed = fuzzSeed('http routes');
    const target = await startTarget('memory');
    const { url, port } = target.server;
    // Messages to change, so that edits and reactions can succeed too.
    for (const room of ['fuzz-a', 'constructor']) {
      const res = await fetch(`${url}/api/rooms/${room}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'seed', name: 'fuzzer', clientId: `seed-${room}` }) });
      expect(res.status).toBe(201);
    }
    let n = 0;
    const statuses = new Map<number, number>();
    const run = async (r: Request) => {
      const headers: Record<string, string> = { ...r.body.headers };
      if (r.authorization !== undefined) headers.authorization = r.authorization;
      const withBody = r.method !== 'GET' && r.method !== 'HEAD' && r.body.bytes !== undefined;
      const res = await fetch(`${url}${r.path}${r.query}`, { method: r.method, headers, body: withBody ? new Uint8Array(r.body.bytes!) : undefined });
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const problem = responseProblem(res.status, res.headers.get('content-type') ?? '', text, r.method, r.path);
      if (problem) throw new Error(`${problem}: ${text.slice(0, 300)}`);
      if (++n % 500 === 0) await target.bystanderServed();
    };
    await fc.assert(fc.asyncProperty(request, run), { seed: seed + 1, numRuns: 200, endOnFailure: true });
    const before = await target.heap();
    const started = performance.now();
    await fc.assert(fc.asyncProperty(request, run), { seed, numRuns: REQUESTS, endOnFailure: true });
    process.stdout.write(`requests took ${Math.round(performance.now() - started)} ms\n`);
    process.stdout.write(`statuses: ${[...statuses].sort(([a], [b]) => a - b).map(([k, v]) => `${k} ${v}`).join(', ')}\n`);

    // Bytes that are no HTTP request: an answer, when there is one, is the contract's JSON error.
    await fc.assert(
      fc.asyncProperty(rawRequest, async (bytes) => {
        const answer = await raw(port, Buffer.from(bytes, 'latin1'));
        if (answer === '') return;
        const [head, ...rest] = answer.split('\r\n\r\n');
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
        const problem = responseProblem(status, /content-type: *([^\r\n]*)/i.exec(head)?.[1] ?? '', rest.join('\r\n\r\n'), 'GET', '/api');
        if (problem) throw new Error(`${problem}: ${answer.slice(0, 300)}`);
      }),
      { seed, numRuns: RAW_REQUESTS, endOnFailure: true },
    );

    await target.bystanderServed();
    target.alive();
    expectHeapWithin(before, await target.heap(), HEAP_BOUND_BYTES);
  }, 120_000);
});
