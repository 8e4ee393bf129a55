import { describe, expect, test } from 'vitest';
import { InputError } from '../../node/errors.js';
import {
  normalizeRoutes,
  renderNatsConfig,
  routeUrl,
  type NatsConfigOptions,
} from '../../node/bus/index.js';

const base: NatsConfigOptions = {
  serverName: 'kitchen-12ab',
  clusterName: 'helix-mesh1',
  clientHost: '127.0.0.1',
  clientPort: 4222,
  clientCreds: { user: 'helix', pass: 'c0ffee' },
  monitorPort: 8222,
  clusterHost: '100.64.0.2',
  clusterPort: 6222,
  routeCreds: { user: 'helix-route', pass: 'deadbeef' },
  routes: [
    { host: '100.64.0.3', port: 6222 },
    { host: '100.64.0.4', port: 6222 },
  ],
  pidFile: '/var/lib/helix/nats/nats-server.pid',
};

describe('renderNatsConfig', () => {
  const text = renderNatsConfig(base);

  test.each([
    ['clients listen on loopback only', 'listen: "127.0.0.1:4222"'],
    ['clients need the client user', '  users: [ { user: "helix", password: "c0ffee" } ]'],
    ['monitoring is bound to 127.0.0.1', 'http: "127.0.0.1:8222"'],
    ['routes listen on the mesh address', '  listen: "100.64.0.2:6222"'],
    ['the cluster advertises the mesh address', '  advertise: "100.64.0.2:6222"'],
    ['routes need the route user', '    user: "helix-route"\n    password: "deadbeef"'],
    ['routes carry credentials', '"nats-route://helix-route:deadbeef@100.64.0.3:6222"'],
    ['clients are not told about other servers', 'no_advertise: true'],
    ['a silent route is dropped within seconds', 'ping_interval: "1s"\nping_max: 3'],
    ['the pid file is set', 'pid_file: "/var/lib/helix/nats/nats-server.pid"'],
    ['the cluster is named', '  name: "helix-mesh1"'],
    ['the server is named', 'server_name: "kitchen-12ab"'],
  ])('%s', (_what, expected) => {
    expect(text).toContain(expected);
  });

  test.each([
    ['no wildcard listener', /0\.0\.0\.0|\[::\]/],
    ['no JetStream', /jetstream/i],
    ['no 2.10-only cluster options', /pool_size|compression/],
  ])('%s', (_what, forbidden) => {
    expect(text.replace(/^\s*#.*$/gm, '')).not.toMatch(forbidden);
  });

  test('renders an empty route list when there are no peers', () => {
    expect(renderNatsConfig({ ...base, routes: [] })).toContain('  routes: []');
  });

  test('renders the same text for the same peers in any order, with duplicates and itself', () => {
    const shuffled = renderNatsConfig({
      ...base,
      routes: [
        base.routes[1]!,
        base.routes[0]!,
        base.routes[1]!,
        { host: '100.64.0.2', port: 6222 },
      ],
    });
    expect(shuffled).toBe(text);
  });

  test('escapes credentials in quoted strings and in route URLs', () => {
    const pass = 'p@ss:w/o"rd\\%';
    const out = renderNatsConfig({ ...base, routeCreds: { user: 'helix-route', pass } });
    expect(out).toContain('password: "p@ss:w/o\\"rd\\\\%"');
    expect(out).toContain(
      `"nats-route://helix-route:${encodeURIComponent(pass).replace(/\\/g, '\\\\')}@100.64.0.3:6222"`,
    );
    expect(encodeURIComponent(pass)).toBe('p%40ss%3Aw%2Fo%22rd%5C%25');
  });

  test.each<[string, Partial<NatsConfigOptions>, RegExp]>([
    ['a wildcard cluster address', { clusterHost: '0.0.0.0' }, /clusterHost.*never a wildcard/],
    ['an IPv6 wildcard cluster address', { clusterHost: '::' }, /clusterHost.*never a wildcard/],
    [
      'a host name as cluster address',
      { clusterHost: 'kitchen.local' },
      /clusterHost.*an IP address/,
    ],
    ['clients off loopback', { clientHost: '100.64.0.2' }, /clientHost.*loopback/],
    ['a wildcard client address', { clientHost: '0.0.0.0' }, /clientHost.*loopback/],
    ['a server name with spaces', { serverName: 'my node' }, /serverName/],
    ['a server name that injects config', { serverName: 'a"\nhttp: "0.0.0.0:1' }, /serverName/],
    ['a 129-character server name', { serverName: 'a'.repeat(129) }, /serverName/],
    ['an empty cluster name', { clusterName: '' }, /clusterName/],
    ['a port out of range', { clientPort: 70000 }, /clientPort.*1-65535/],
    ['a fractional port', { clusterPort: 6222.5 }, /clusterPort/],
    ['the same port twice', { monitorPort: 4222 }, /ports.*must differ/],
    ['a relative pid file', { pidFile: 'nats.pid' }, /pidFile.*absolute/],
    ['a pid file with a newline', { pidFile: '/tmp/a\nb' }, /pidFile/],
    [
      'a password with a space',
      { routeCreds: { user: 'helix-route', pass: 'a b' } },
      /routeCreds\.pass = "<redacted>"/,
    ],
    ['an empty password', { clientCreds: { user: 'helix', pass: '' } }, /clientCreds\.pass/],
    ['a user with a colon', { clientCreds: { user: 'a:b', pass: 'x' } }, /clientCreds\.user/],
    ['a wildcard route', { routes: [{ host: '0.0.0.0', port: 6222 }] }, /routes host.*wildcard/],
    ['a route host with a path', { routes: [{ host: '1.2.3.4/x', port: 6222 }] }, /routes host/],
    ['a route port of 0', { routes: [{ host: '100.64.0.9', port: 0 }] }, /routes port/],
  ])('rejects %s', (_what, change, message) => {
    const attempt = (): string => renderNatsConfig({ ...base, ...change });
    expect(attempt).toThrow(InputError);
    expect(attempt).toThrow(message);
  });

  test('never puts a password in an error message', () => {
    expect(() =>
      renderNatsConfig({ ...base, clientCreds: { user: 'helix', pass: 'secret value' } }),
    ).not.toThrow(/secret value/);
  });
});

describe('normalizeRoutes', () => {
  test.each<[string, Parameters<typeof normalizeRoutes>, string[]]>([
    [
      'sorts',
      [
        [
          { host: '10.0.0.9', port: 1 },
          { host: '10.0.0.1', port: 2 },
        ],
      ],
      ['10.0.0.1:2', '10.0.0.9:1'],
    ],
    [
      'deduplicates',
      [
        [
          { host: '10.0.0.1', port: 2 },
          { host: '10.0.0.1', port: 2 },
        ],
      ],
      ['10.0.0.1:2'],
    ],
    [
      'keeps one host on two ports',
      [
        [
          { host: '10.0.0.1', port: 2 },
          { host: '10.0.0.1', port: 3 },
        ],
      ],
      ['10.0.0.1:2', '10.0.0.1:3'],
    ],
    [
      'drops itself',
      [
        [
          { host: '10.0.0.1', port: 2 },
          { host: '10.0.0.5', port: 2 },
        ],
        { host: '10.0.0.5', port: 2 },
      ],
      ['10.0.0.1:2'],
    ],
    [
      'keeps its own host on another port',
      [[{ host: '10.0.0.5', port: 3 }], { host: '10.0.0.5', port: 2 }],
      ['10.0.0.5:3'],
    ],
    [
      'lower-cases host names',
      [
        [
          { host: 'Desk.Tailnet.ts.net', port: 2 },
          { host: 'desk.tailnet.ts.net', port: 2 },
        ],
      ],
      ['desk.tailnet.ts.net:2'],
    ],
    ['unwraps bracketed IPv6', [[{ host: '[fd7a:115c::1]', port: 2 }]], ['fd7a:115c::1:2']],
  ])('%s', (_what, args, expected) => {
    expect(normalizeRoutes(...args).map((r) => `${r.host}:${r.port}`)).toEqual(expected);
  });
});

describe('routeUrl', () => {
  test.each([
    [
      { host: '100.64.0.3', port: 6222 },
      { user: 'helix-route', pass: 'ab12' },
      'nats-route://helix-route:ab12@100.64.0.3:6222',
    ],
    [
      { host: 'fd7a:115c::1', port: 6222 },
      { user: 'u', pass: 'p' },
      'nats-route://u:p@[fd7a:115c::1]:6222',
    ],
    [
      { host: 'desk', port: 7 },
      { user: 'u', pass: 'a@b:c/d' },
      'nats-route://u:a%40b%3Ac%2Fd@desk:7',
    ],
  ])('%o with %o is %s', (route, creds, expected) => {
    expect(routeUrl(route, creds)).toBe(expected);
  });
});

describe('renderNatsConfig with route TLS', () => {
  const tls = {
    certFile: '/var/lib/helix/tls/node-cert.pem',
    keyFile: '/var/lib/helix/tls/node-key.pem',
    caFile: '/var/lib/helix/tls/mesh-ca.pem',
  };

  test('the cluster block carries the mesh CA, this node certificate and verify', () => {
    const text = renderNatsConfig({ ...base, clusterTls: tls });
    expect(text).toContain(
      [
        '  tls {',
        '    cert_file: "/var/lib/helix/tls/node-cert.pem"',
        '    key_file: "/var/lib/helix/tls/node-key.pem"',
        '    ca_file: "/var/lib/helix/tls/mesh-ca.pem"',
        '    verify: true',
        '    timeout: 2',
        '  }',
      ].join('\n'),
    );
    // only routes: the loopback client listener stays plaintext (one tls block, in the cluster)
    expect(text.match(/tls \{/g)).toHaveLength(1);
    expect(text.indexOf('  tls {')).toBeGreaterThan(text.indexOf('cluster {'));
  });

  test('refuses a relative or quoted certificate path, naming the option', () => {
    expect(() =>
      renderNatsConfig({ ...base, clusterTls: { ...tls, certFile: 'cert.pem' } }),
    ).toThrow(/clusterTls\.certFile/);
    expect(() => renderNatsConfig({ ...base, clusterTls: { ...tls, caFile: '/a"b' } })).toThrow(
      InputError,
    );
  });
});
