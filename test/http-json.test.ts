/** getJson (node/http-json.ts) against a real HTTP server on a port the OS gives. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, HttpStatusError } from '../node/http-json.js';

let server: Server;
let base: string;
const seenHeaders: Record<string, string | undefined> = {};

beforeAll(async () => {
  server = createServer((req, res) => {
    seenHeaders.accept = req.headers.accept;
    switch (req.url) {
      case '/ok':
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ models: [{ name: 'llama3:latest' }], ünï: 'cødé' }));
        return;
      case '/missing':
        res.statusCode = 404;
        res.end('not here');
        return;
      case '/garbage':
        res.end('<html>not json</html>');
        return;
      case '/big':
        res.end(JSON.stringify({ pad: 'x'.repeat(64 * 1024) }));
        return;
      case '/slow':
        setTimeout(() => res.end('{}'), 5000).unref();
        return;
      default:
        res.statusCode = 500;
        res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('getJson', () => {
  it('returns the parsed body (UTF-8) and sends the given headers', async () => {
    await expect(
      getJson(`${base}/ok`, { headers: { accept: 'application/json' } }),
    ).resolves.toEqual({
      models: [{ name: 'llama3:latest' }],
      ünï: 'cødé',
    });
    expect(seenHeaders.accept).toBe('application/json');
  });

  it('rejects a non-2xx answer with its status', async () => {
    const err = await getJson(`${base}/missing`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpStatusError);
    expect((err as HttpStatusError).status).toBe(404);
    expect((err as Error).message).toBe('HTTP 404');
  });

  it('says when the body is not JSON', async () => {
    await expect(getJson(`${base}/garbage`)).rejects.toThrow(/not JSON/);
  });

  it('refuses a body over maxBytes', async () => {
    await expect(getJson(`${base}/big`, { maxBytes: 1024 })).rejects.toThrow(
      /larger than 1024 bytes/,
    );
  });

  it('ends with the signal’s reason when it aborts', async () => {
    const signal = AbortSignal.timeout(100);
    const err = await getJson(`${base}/slow`, { signal }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('TimeoutError');
  });

  it('says so when nothing listens, and refuses other schemes', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await expect(getJson(`http://127.0.0.1:${port}/`)).rejects.toThrow(/ECONNREFUSED/);
    await expect(getJson('file:///etc/passwd')).rejects.toThrow(/only http: and https:/);
  });
});
