// Bundles the browser app (and the SDK inside it) into dist/public with esbuild.
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist', 'public');
await mkdir(out, { recursive: true });
await build({
  entryPoints: [path.join(root, 'client', 'app', 'main.ts')],
  outfile: path.join(out, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2020'],
  sourcemap: true,
  minify: true,
  logLevel: 'warning',
});
await copyFile(path.join(root, 'client', 'app', 'index.html'), path.join(out, 'index.html'));
await copyFile(path.join(root, 'client', 'app', 'style.css'), path.join(out, 'style.css'));
