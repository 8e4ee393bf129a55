import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpFetch, EgressRefusedError, isPrivateAddress } from '../../node/agents/index.js';
import { HttpFetchParamsSchema } from '../../node/agentspec/index.js';

describe('egress address policy', () => {
  it.each([
    ['127.0.0.1', true],
    ['10.1.2.3', true],
    ['172.20.0.1', true],
    ['192.168.1.20', true],
    ['169.254.169.254', true],
    ['100.64.0.7', true],
    ['100.127.255.1', true],
    ['0.0.0.0', true],
    ['::1', true],
    ['fd7a:115c:a1e0::1', true],
    ['fe80::1', true],
    ['::ffff:192.168.0.1', true],
    ['not-an-ip', true],
    ['93.184.216.34', false],
    ['100.128.0.1', false],
    ['1.1.1.1', false],
    ['2606:4700:4700::1111', false],
    ['::ffff:8.8.8.8', false],
  ])('%s is private: %s', (ip, expected) => {
    expect(isPrivateAddress(ip)).toBe(expected);
  });
});

describe('http.fetch through the host', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('x'.repeat(100_000));
      } else if (req.url === '/loop') {
        res.writeHead(302, { location: '/loop' }).end();
      } else if (req.url === '/hop') {
        res.writeHead(301, { location: '/small' }).end();
      } else if (req.url === '/slow') {
        setTimeout(() => res.end('late'), 2000);
      } else {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('small page');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  const params = (url: string, extra: Record<string, unknown> = {}) =>
    HttpFetchParamsSchema.parse({ url, ...extra });

  it('refuses loopback, LAN and tailnet hosts by default, before connecting', async () => {
    const fetch = createHttpFetch({
      resolve: async (host) => (host === 'nas.home' ? ['192.168.1.5'] : ['93.184.216.34']),
    });
    await expect(fetch(params(`${base}/small`))).rejects.toThrow(
      /127\.0\.0\.1 resolves to 127\.0\.0\.1, which is not a public address/,
    );
    await expect(fetch(params('http://nas.home/admin'))).rejects.toThrow(EgressRefusedError);
    await expect(fetch(params('http://100.101.102.103:7700/'))).rejects.toThrow(
      /not a public address/,
    );
  });

  it.each([
    ['file:///etc/passwd', /only http and https/],
    ['http://user:pw@example.com/', /credentials/],
    ['not a url', /is not a URL/],
  ])('refuses %s', async (url, message) => {
    await expect(createHttpFetch()(params(url))).rejects.toThrow(message);
  });

  it('keeps to an allow-list of hosts when one is set', async () => {
    const fetch = createHttpFetch({ allowPrivateAddresses: true, allowedHosts: ['*.example.com'] });
    await expect(fetch(params(`${base}/small`))).rejects.toThrow(
      /not in this node's allowed egress hosts/,
    );
  });

  it('fetches, follows redirects, and caps the body at the smaller of the two limits', async () => {
    const fetch = createHttpFetch({ allowPrivateAddresses: true, maxBytes: 50_000 });
    expect(await fetch(params(`${base}/hop`))).toEqual({
      url: `${base}/small`,
      status: 200,
      content_type: 'text/plain',
      body: 'small page',
      truncated: false,
    });
    const big = await fetch(params(`${base}/big`));
    expect(big.body).toHaveLength(50_000);
    expect(big.truncated).toBe(true);
    const asked = await fetch(params(`${base}/big`, { max_bytes: 1000 }));
    expect(asked.body).toHaveLength(1000);
  });

  it('gives up on redirect loops and slow servers', async () => {
    const fetch = createHttpFetch({ allowPrivateAddresses: true, timeoutMs: 300 });
    await expect(fetch(params(`${base}/loop`))).rejects.toThrow(/more than 5 redirects/);
    await expect(fetch(params(`${base}/slow`))).rejects.toThrow(/took longer than 300 ms/);
  });
});
