#!/usr/bin/env node
// Bundles the compiled CLI and daemon (dist/node, from tsc) into dist/bundle: compact ES modules,
// split at every dynamic import so a command still loads only what it needs (`status` never the
// daemon's chunks). bin/helix-node.js runs dist/bundle/helix-node.js when it is there.
//
// Why: V8 keeps the source text of every loaded module on the heap (lazy compilation and
// Function.prototype.toString need it), and this project's sources carry long comments, many of
// them with non-Latin-1 characters, which V8 stores two bytes per character. An idle node held
// 7.7 MB of source strings; minified and tree-shaken it holds 3.6 MB, and its idle RSS falls by
// about 6 MB (docs/architecture.md, "Memory").
//
// Packages a node may never need stay outside the bundle and load from node_modules as before
// (EXTERNAL): their absence from a node's load log is what test/daemon-loads.test.ts checks, and
// the native ones (smart-whisper, cpu-features via ssh2) cannot be bundled at all. @grpc/grpc-js
// stays outside too: dockerode requires it (for BuildKit sessions), and a bundled copy beside
// node_modules' would load gRPC twice on every node with Docker (2-4 MB more RSS, measured). Run by
// `npm run build`, after tsc.
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = path.join(root, 'dist', 'node', 'cli', 'entry.js');
// Two levels below the package root, like dist/node/cli: node/version.ts and node/cli/service.ts
// find package.json and bin/ from import.meta.url at that depth. Chunks stay in this one folder.
const out = path.join(root, 'dist', 'bundle');

/** Loaded lazily, only by nodes with the part that needs them (or native, or worker files). */
const EXTERNAL = [
  'dockerode',
  'ssh2',
  'cpu-features',
  'mqtt',
  'ws',
  'smart-whisper',
  'multicast-dns',
  'tar-stream',
  '@libp2p/*',
  '@noble/*',
  'pino-pretty',
  'thread-stream',
  '@grpc/grpc-js',
];

/**
 * zod's messages in English only. zod re-exports all of its 40-odd locales as `z.locales`, so
 * every one of them is in the bundle and on the heap (270 KB of source, 0.8 MB resident); the
 * daemon and the CLI use none but English, which zod sets by default (classic/schemas.js imports
 * en.js itself). `z.locales` keeps `en` and nothing else.
 */
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]v4[\\/](classic|core)[\\/]/.test(args.importer)
        ? {
            path: path.join(path.dirname(args.importer), '..', 'locales', 'en-only.js'),
            namespace: 'zod-en',
          }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-en' }, (args) => ({
      contents: "export { default as en } from './en.js';\n",
      resolveDir: path.dirname(args.path),
      loader: 'js',
    }));
  },
};

if (!existsSync(entry)) {
  process.stderr.write(
    'bundle: dist/node/cli/entry.js is missing; run `tsc -p tsconfig.build.json` first\n',
  );
  process.exit(69);
}
rmSync(out, { recursive: true, force: true });
const result = await build({
  entryPoints: { 'helix-node': entry },
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Whitespace and syntax only: identifiers keep their names, so error classes (HelixError's
  // name is its class's) and stack traces read as in the sources. esbuild's keepNames would do
  // that for mangled names by wrapping every function in a name-setting call, which costs 1-2 MB
  // of heap in an idle node; long identifiers cost 0.5 MB of source text.
  minifyWhitespace: true,
  minifySyntax: true,
  minifyIdentifiers: false,
  legalComments: 'none',
  sourcemap: true,
  // The ES builds of dual packages: a CommonJS build, wrapped, can lose its named exports to
  // esbuild's interop (@peculiar/x509's did, when the daemon still used it).
  mainFields: ['module', 'main'],
  external: EXTERNAL,
  plugins: [zodEnglishOnly],
  // CommonJS packages inside the bundle require() Node's built-ins and the external packages.
  banner: {
    js: "import { createRequire as __helixRequire } from 'node:module'; const require = __helixRequire(import.meta.url);",
  },
  // which sources each chunk holds: test/cli/lazy-load.test.ts reads it (never loaded by a node)
  metafile: true,
  logLevel: 'warning',
});
writeFileSync(path.join(out, 'meta.json'), JSON.stringify(result.metafile));

let raw = 0;
let files = 0;
for (const name of readdirSync(out)) {
  if (!name.endsWith('.js')) continue;
  raw += statSync(path.join(out, name)).size;
  files += 1;
}
process.stdout.write(`bundle: ${files} files, ${(raw / 1024).toFixed(0)} KB (dist/bundle)\n`);
