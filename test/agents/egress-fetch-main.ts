/**
 * Run inside the egress test's engine namespace: http.fetch with the default policy for each
 * URL on the command line; one JSON line each ({ url, ok, status?, body?, error? }).
 */
import { createHttpFetch } from '../../node/agents/index.js';
import { HttpFetchParamsSchema } from '../../node/agentspec/index.js';

const fetch = createHttpFetch({ timeoutMs: 3000 });
for (const url of process.argv.slice(2)) {
  try {
    const r = await fetch(HttpFetchParamsSchema.parse({ url }));
    console.log(JSON.stringify({ url, ok: true, status: r.status, body: r.body }));
  } catch (err) {
    console.log(JSON.stringify({ url, ok: false, error: (err as Error).message }));
  }
}
