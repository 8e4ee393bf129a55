import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createHttpFetch,
  EgressRefusedError,
  interfaceAddresses,
} from '../../node/agents/index.js';
import { HttpFetchParamsSchema } from '../../node/agentspec/index.js';

describe('http.fetch through the host', () => {
  let server: Server;
  let other: Server;
  let port: number;
  let base: string;
  const seen: Array<{ server: string; host: string }> = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ server: 'a', host: req.headers.host ?? '' });
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
    port = (server.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}`;
    // The address a rebinding resolver answers the second time.
    other = createServer((req, res) => {
      seen.push({ server: 'b', host: req.headers.host ?? '' });
      res.end('rebound');
    });
    await new Promise<void>((resolve) => other.listen(port, '127.0.0.2', resolve));
  });
  afterAll(() => {
    for (const s of [server, other]) {
      s.closeAllConnections();
      s.close();
    }
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

  it("refuses the host's own addresses, public or not, and TEST-NET, before connecting", async () => {
    // 93.184.216.34 stands for a host with a public address.
    const fetch = createHttpFetch({ hostAddresses: () => ['93.184.216.34'] });
    await expect(fetch(params('http://93.184.216.34/'))).rejects.toThrow(
      /93\.184\.216\.34 resolves to 93\.184\.216\.34, which is not a public address \(it is this host's own\)/,
    );
    // By default, every interface's address (this test machine's eth0 is on TEST-NET-1).
    const own = interfaceAddresses().find((a) => !a.startsWith('127.') && a.includes('.'));
    if (own) {
      await expect(createHttpFetch()(params(`http://${own}:${port}/`))).rejects.toThrow(
        EgressRefusedError,
      );
    }
    await expect(createHttpFetch()(params('http://192.0.2.77/'))).rejects.toThrow(
      /192\.0\.2\.77, which is not a public address \(documentation, TEST-NET-1/,
    );
    await expect(
      createHttpFetch({ resolve: async () => ['93.184.216.34', '198.51.100.1'] })(
        params('http://mixed.example/'),
      ),
    ).rejects.toThrow(/resolves to 198\.51\.100\.1/);
  });

  it('connects to the address it checked, resolving once per hop (no DNS rebinding)', async () => {
    let calls = 0;
    // First answer 127.0.0.1 (server a), then 127.0.0.2 (server b): a second lookup would rebind.
    const resolve = async (host: string) => {
      expect(host).toBe('rebind.test');
      return [calls++ === 0 ? '127.0.0.1' : '127.0.0.2'];
    };
    seen.length = 0;
    const fetch = createHttpFetch({ allowPrivateAddresses: true, resolve });
    const got = await fetch(params(`http://rebind.test:${port}/small`));
    expect(got).toMatchObject({ status: 200, body: 'small page' });
    expect(calls).toBe(1);
    expect(seen).toEqual([{ server: 'a', host: `rebind.test:${port}` }]);

    // Under the policy: the checked (public) answer is where it connects, never the loopback
    // one a second lookup would give.
    calls = 0;
    seen.length = 0;
    const strict = createHttpFetch({
      resolve: async () => [calls++ === 0 ? '192.0.3.1' : '127.0.0.1'],
      timeoutMs: 500,
    });
    await expect(strict(params(`http://rebind.test:${port}/small`))).rejects.toThrow(
      /fetching http:\/\/rebind\.test:\d+\/small (failed|took longer)/,
    );
    expect(calls).toBe(1);
    expect(seen).toEqual([]);
  });

  it('checks every redirect hop the same way', async () => {
    const hops: string[] = [];
    const fetch = createHttpFetch({
      allowPrivateAddresses: true,
      resolve: async (host) => {
        hops.push(host);
        return ['127.0.0.1'];
      },
    });
    await fetch(params(`http://first.test:${port}/hop`));
    expect(hops).toEqual(['first.test', 'first.test']);
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
