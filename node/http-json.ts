/**
 * GET a small JSON document over HTTP with node:http. The daemon polls local JSON endpoints
 * (nats-server's monitoring port every second, Ollama's model list): global `fetch` would load
 * undici, its HTTP parser compiled from WebAssembly and its streams, about 9 MB more resident
 * memory than node:http for the same request, in every node for as long as it runs.
 */
import { get as httpGet, type IncomingMessage } from 'node:http';

export interface GetJsonOptions {
  signal?: AbortSignal;
  headers?: Record<string, string>;
  /** refuse a larger body (default 8 MiB) */
  maxBytes?: number;
}

/** The server answered with a status outside 2xx. */
export class HttpStatusError extends Error {
  override name = 'HttpStatusError';
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

const DEFAULT_MAX_BYTES = 8 * 1024 * 1024;

/** The parsed JSON body of `url` (http: or https:); rejects on a non-2xx status, a body over `maxBytes` or invalid JSON. */
export async function getJson(url: string | URL, opts: GetJsonOptions = {}): Promise<unknown> {
  const target = typeof url === 'string' ? new URL(url) : url;
  const get =
    target.protocol === 'http:'
      ? httpGet
      : target.protocol === 'https:'
        ? (await import('node:https')).get
        : null;
  if (!get) throw new TypeError(`only http: and https: URLs can be read; got ${target.protocol}`);
  opts.signal?.throwIfAborted();
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const body = await new Promise<Buffer>((resolve, reject) => {
    const req = get(
      target,
      { headers: opts.headers, signal: opts.signal },
      (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 299) {
          res.resume();
          reject(new HttpStatusError(status));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            req.destroy(new Error(`the answer is larger than ${maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', reject);
      },
    );
    req.on('error', (err) => reject(opts.signal?.aborted ? opts.signal.reason : err));
  });
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (err) {
    throw new Error(`the answer is not JSON (${(err as Error).message})`, { cause: err });
  }
}
