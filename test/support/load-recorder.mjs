/**
 * `node --import ./test/support/load-recorder.mjs …` with HX_LOAD_LOG=FILE: appends to FILE the
 * URL of every ES module the process loads (a loader hook, off the main thread, writing each one
 * as it loads) and, at exit, every CommonJS file in require.cache (the files a CommonJS package
 * requires internally never pass the ES loader), and every built-in module Node loaded, as
 * `bin node:NAME` (internal ones too: `node:internal/deps/undici/undici` is what `fetch` costs).
 * test/cli/lazy-load.test.ts reads it to check what a command loads; bench/cli/start.ts to count
 * it.
 */
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const out = process.env.HX_LOAD_LOG;
if (out) {
  register(new URL('./load-recorder-hooks.mjs', import.meta.url), { data: { out } });
  const require = createRequire(import.meta.url);
  process.on('exit', () => {
    const files = Object.keys(require.cache);
    if (files.length > 0) appendFileSync(out, files.map((f) => `cjs ${f}\n`).join(''));
    const builtins = process.moduleLoadList
      .filter((m) => m.startsWith('NativeModule '))
      .map((m) => `bin node:${m.slice('NativeModule '.length)}\n`);
    appendFileSync(out, builtins.join(''));
  });
}
