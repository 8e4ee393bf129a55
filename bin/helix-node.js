#!/usr/bin/env node
// Entry point for `npx helix-node`: runs the built CLI (npm ci builds it via `prepare`): the
// bundle (scripts/bundle.mjs) when it is there, else tsc's output.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = ['../dist/bundle/helix-node.js', '../dist/node/cli/entry.js']
  .map((rel) => new URL(rel, import.meta.url))
  .find((url) => existsSync(fileURLToPath(url)));
if (!built) {
  process.stderr.write(
    'helix-node: not built yet; run `npm ci` (or `npm run build`) in the repository first\n',
  );
  process.exit(69);
}
const { main, exitWhenDrained } = await import(built.href);
// Not process.exit(): output still queued for a pipe would be lost (node/cli/exit.ts).
await exitWhenDrained(await main(process.argv));
