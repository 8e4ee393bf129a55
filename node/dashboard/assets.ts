/**
 * The dashboard's files, built into the package by `npm run build` (scripts/build-dashboard.mjs:
 * index.html, app.js, app.css under dist/dashboard). Read once into memory, each with its gzip
 * form; nothing is fetched at run time.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** The package root: the nearest folder above this file with a package.json. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('the dashboard could not find its package folder');
    dir = up;
  }
  return dir;
}

export function assetsDir(): string {
  return path.join(packageRoot(), 'dist', 'dashboard');
}

/** The built files by URL path ("/app.js"); empty when the dashboard was never built. */
export function loadAssets(dir = assetsDir()): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!existsSync(dir)) return assets;
  for (const name of readdirSync(dir)) {
    const type = TYPES[path.extname(name)];
    if (!type) continue;
    const body = readFileSync(path.join(dir, name));
    assets.set(`/${name}`, { type, body, gzip: gzipSync(body, { level: 9 }) });
  }
  return assets;
}
