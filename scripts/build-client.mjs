// Bundles for browsers with esbuild: the app (with the SDK inside) into
// dist/public, and the SDK alone, socket.io-client included, as an ES module
// in dist/sdk/parley.mjs, also served by every instance at /sdk/parley.mjs.
// (Node uses tsc's CommonJS build in dist/client/sdk.)
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const browser = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2020'],
  sourcemap: true,
  minify: true,
  logLevel: 'warning',
};

const app = path.join(root, 'dist', 'public');
const sdk = path.join(root, 'dist', 'sdk', 'parley.mjs');
await mkdir(path.join(app, 'sdk'), { recursive: true });
await Promise.all([
  build({ ...browser, entryPoints: [path.join(root, 'client', 'app', 'main.ts')], outfile: path.join(app, 'app.js') }),
  build({ ...browser, entryPoints: [path.join(root, 'client', 'sdk', 'index.ts')], outfile: sdk }),
  copyFile(path.join(root, 'client', 'app', 'index.html'), path.join(app, 'index.html')),
  copyFile(path.join(root, 'client', 'app', 'style.css'), path.join(app, 'style.css')),
]);
await Promise.all(['', '.map'].map((ext) => copyFile(sdk + ext, path.join(app, 'sdk', `parley.mjs${ext}`))));
