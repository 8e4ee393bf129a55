/** Loader hooks of load-recorder.mjs: one `esm URL` line per module loaded. */
import { appendFileSync } from 'node:fs';

let out = '';

export function initialize(data) {
  out = data.out;
}

export async function load(url, context, nextLoad) {
  appendFileSync(out, `esm ${url}\n`);
  return nextLoad(url, context);
}
