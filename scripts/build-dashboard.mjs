#!/usr/bin/env node
// Builds the web dashboard into dist/dashboard (index.html, app.js, app.css): one minified ES
// module bundled by esbuild from node/dashboard/web, no source maps, nothing loaded from outside.
// Prints the sizes (raw and gzipped) of what the node serves. Run by `npm run build`.
import { copyFileSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const web = path.join(root, 'node', 'dashboard', 'web');
const out = path.join(root, 'dist', 'dashboard');
mkdirSync(out, { recursive: true });

await build({
  entryPoints: [path.join(web, 'app.ts')],
  outfile: path.join(out, 'app.js'),
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
await build({
  entryPoints: [path.join(web, 'app.css')],
  outfile: path.join(out, 'app.css'),
  minify: true,
  logLevel: 'warning',
});
copyFileSync(path.join(web, 'index.html'), path.join(out, 'index.html'));

let raw = 0;
let gz = 0;
for (const name of readdirSync(out)) {
  const file = path.join(out, name);
  if (!statSync(file).isFile()) continue;
  raw += statSync(file).size;
  gz += gzipSync(readFileSync(file), { level: 9 }).length;
}
process.stdout.write(
  `dashboard: ${(raw / 1024).toFixed(1)} KB, ${(gz / 1024).toFixed(1)} KB gzipped (dist/dashboard)\n`,
);
