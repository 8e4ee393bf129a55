#!/usr/bin/env node
// Entry point for `npx helix-node`: runs the compiled CLI (npm ci builds it via `prepare`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = new URL('../dist/node/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(compiled))) {
  process.stderr.write(
    'helix-node: not built yet; run `npm ci` (or `npm run build`) in the repository first\n',
  );
  process.exit(69);
}
const { main, exitWhenDrained } = await import(compiled.href);
// Not process.exit(): output still queued for a pipe would be lost (node/cli/exit.ts).
await exitWhenDrained(await main(process.argv));
