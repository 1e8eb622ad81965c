// Bundles for browsers with esbuild:
// - the app (client/app/main.ts, the SDK inside, its style sheet and icon)
//   into dist/public/assets with content-hashed names (app-3FJ2KQ7A.js ...),
//   which the server caches for a year; dist/public/index.html names them and
//   is revalidated on every visit, so a new build reaches browsers at once;
// - the SDK alone, socket.io-client included, as an ES module in
//   dist/sdk/parley.mjs, also served by every instance at /sdk/parley.mjs
//   (a stable name for other pages to import).
// Node uses tsc's CommonJS build in dist/client/sdk.
import { build } from 'esbuild';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'client', 'app');
const publicDir = path.join(root, 'dist', 'public');
const assets = path.join(publicDir, 'assets');
const sdk = path.join(root, 'dist', 'sdk', 'parley.mjs');

const browser = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  sourcemap: true,
  minify: true,
  logLevel: 'warning',
};

// Old hashed files would pile up otherwise.
await rm(publicDir, { recursive: true, force: true });
await mkdir(path.join(publicDir, 'sdk'), { recursive: true });

const [app] = await Promise.all([
  build({
    ...browser,
    entryPoints: { app: path.join(source, 'main.ts') },
    outdir: assets,
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    loader: { '.svg': 'file' },
    metafile: true,
  }),
  build({ ...browser, entryPoints: [path.join(root, 'client', 'sdk', 'index.ts')], outfile: sdk }),
]);

// The built name of each file index.html refers to by its plain name (`/assets/app.js` → `/assets/app-HASH.js`).
const built = new Map();
for (const [file, output] of Object.entries(app.metafile.outputs)) {
  if (file.endsWith('.map')) continue;
  const name = path.basename(file);
  const plain = name.replace(/-[A-Z0-9]{8}(\.[a-z]+)$/, '$1');
  built.set(`/assets/${plain}`, `/assets/${name}`);
  if (output.cssBundle) built.set('/assets/app.css', `/assets/${path.basename(output.cssBundle)}`);
}
let html = await readFile(path.join(source, 'index.html'), 'utf8');
html = html.replace(/(href|src)="(\/assets\/[^"]+)"/g, (match, attr, url) => {
  const hashed = built.get(url);
  if (!hashed) throw new Error(`index.html refers to ${url}, which the build did not produce`);
  return `${attr}="${hashed}"`;
});
await writeFile(path.join(publicDir, 'index.html'), html);
await Promise.all(['', '.map'].map((ext) => copyFile(sdk + ext, path.join(publicDir, 'sdk', `parley.mjs${ext}`))));
