/**
 * nats-server.conf for one node (pure: text in, text out). Every option here is one 2.9.10
 * accepts (`nats-server -t` rejects unknown fields, and 2.10-only ones such as cluster `pool_size`,
 * `compression` or cluster `ping_interval` stop it), except `pool_size`, written only for a
 * server that says it is 2.10 or later (Debian 13's 2.10.27, installed by scripts/install.sh).
 */
import { InputError } from '../errors.js';
import type { NatsCredentials } from './types.js';
import { compareText } from '../order.js';

export interface RouteTarget {
  host: string;
  port: number;
}

export interface NatsConfigOptions {
  /** unique per node; shown in varz and logs */
  serverName: string;
  /** the same for every node of a mesh */
  clusterName: string;
  /** client listener; always loopback (only the local node connects) */
  clientHost: string;
  clientPort: number;
  clientCreds: NatsCredentials;
  /** HTTP monitoring (varz/routez), bound to 127.0.0.1 */
  monitorPort: number;
  /** the mesh address (Tailscale or LAN IP): cluster routes listen and advertise here only */
  clusterHost: string;
  clusterPort: number;
  routeCreds: NatsCredentials;
  /** peers' cluster listeners; our own address is dropped, duplicates collapse */
  routes: RouteTarget[];
  pidFile: string;
  /** the server's version ([major, minor, patch], from `nats-server --version`); unknown: 2.9 */
  serverVersion?: readonly [number, number, number] | null;
  /**
   * TLS for routes, from the mesh CA (identity tlsFiles): both ends present a node certificate
   * and verify the other's (`verify: true`). Absent: plaintext routes (tests of the bus alone).
   */
  clusterTls?: ClusterTlsFiles;
}

/** PEM files: this node's certificate and key, and the mesh CA that signs every member's. */
export interface ClusterTlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

/**
 * Route liveness comes from the server-wide PING: 2.9 has no per-cluster ping options. With a 1 s
 * interval and 3 pings outstanding a silent peer (SIGSTOP, sleeping laptop, cut link) loses its
 * route after ~3-4 s (measured 3.3 s with ping_max 2 on 2.9.10), inside membership's 10 s "dead".
 * A peer whose process dies loses its route at once: its kernel closes the socket.
 * A cut link is different: the server keeps writing into the dead TCP connection until the
 * write deadline (default 10 s) fires, then counts it a slow consumer (seen in the partition
 * test: the route lingered 21-25 s). A short write deadline drops it with the pings.
 */
export const NATS_PING_INTERVAL = '1s';
export const NATS_WRITE_DEADLINE = '2s';
export const NATS_PING_MAX = 3;
/** gossiped (implicit) routes are retried this many times after a drop, then left to gossip */
export const NATS_IMPLICIT_ROUTE_RETRIES = 5;
/**
 * nats-server 2.10 pools routes (3 connections per peer, plus one for the system account).
 * `pool_size: -1` keeps one route per peer, as in 2.9: /routez, status and route repair count
 * peers, and a cut link drops one connection, not four. (In the chaos soak pooling was not what
 * left a healed node deaf for 95 s, a route nobody re-dialled was: RouteRepair cures that.)
 * 2.9 refuses the option, so it is written for 2.10+ only.
 */
export const NATS_POOL_SIZE_NO_POOLING = -1;
const AUTH_TIMEOUT_S = 2;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const USER = /^[A-Za-z0-9_.-]{1,64}$/;
// printable ASCII, no spaces: credentials end up in a quoted conf string and in a URL
const PASSWORD = /^[!-~]{1,256}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$/;
const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const WILDCARD = new Set(['0.0.0.0', '::', '[::]', '::0']);

/** Renders the whole nats-server.conf; throws InputError naming the bad option. */
export function renderNatsConfig(opts: NatsConfigOptions): string {
  validate(opts);
  const routes = normalizeRoutes(opts.routes, { host: opts.clusterHost, port: opts.clusterPort });
  const routeUrls = routes.map((r) => routeUrl(r, opts.routeCreds));
  const lines = [
    '# Written by helix-node on every start and route change; edits here are lost.',
    `server_name: ${quote(opts.serverName)}`,
    `listen: ${quote(hostPort(opts.clientHost, opts.clientPort))}`,
    // The users-list form, not `user:`/`password:`: nats-server 2.9.10 disconnects every client on
    // each SIGHUP reload when the single-user form is used (even unchanged), and the reconnect's
    // re-subscriptions race the route changes being reloaded (interest lost; seen in the mesh soak).
    'authorization {',
    `  users: [ { user: ${quote(opts.clientCreds.user)}, password: ${quote(opts.clientCreds.pass)} } ]`,
    `  timeout: ${AUTH_TIMEOUT_S}`,
    '}',
    `http: ${quote(hostPort('127.0.0.1', opts.monitorPort))}`,
    `pid_file: ${quote(opts.pidFile)}`,
    `ping_interval: ${quote(NATS_PING_INTERVAL)}`,
    `ping_max: ${NATS_PING_MAX}`,
    `write_deadline: ${quote(NATS_WRITE_DEADLINE)}`,
    '# Core NATS only: no JetStream (no per-key TTL in 2.9; quorum breaks when laptops sleep).',
    'cluster {',
    `  name: ${quote(opts.clusterName)}`,
    `  listen: ${quote(hostPort(opts.clusterHost, opts.clusterPort))}`,
    `  advertise: ${quote(hostPort(opts.clusterHost, opts.clusterPort))}`,
    '  # clients are local only: never hand them the (loopback) client URLs of other nodes',
    '  no_advertise: true',
    `  connect_retries: ${NATS_IMPLICIT_ROUTE_RETRIES}`,
    ...(poolsRoutes(opts.serverVersion) ? [`  pool_size: ${NATS_POOL_SIZE_NO_POOLING}`] : []),
    '  authorization {',
    `    user: ${quote(opts.routeCreds.user)}`,
    `    password: ${quote(opts.routeCreds.pass)}`,
    `    timeout: ${AUTH_TIMEOUT_S}`,
    '  }',
    ...clusterTlsBlock(opts.clusterTls),
    routeUrls.length === 0
      ? '  routes: []'
      : ['  routes: [', ...routeUrls.map((u) => `    ${quote(u)}`), '  ]'].join('\n'),
    '}',
  ];
  return lines.join('\n') + '\n';
}

/** nats-server 2.10 and later pool routes (and accept `pool_size`); 2.9 does neither. */
function poolsRoutes(v: readonly [number, number, number] | null | undefined): boolean {
  return !!v && (v[0] > 2 || (v[0] === 2 && v[1] >= 10));
}

/**
 * Routes carry every message on the bus between nodes (adverts, settings, run events), so on a
 * LAN they are TLS with the mesh CA. Peers are dialled by IP: node certificates name their mesh
 * addresses, which is what nats-server checks when it dials a route.
 */
function clusterTlsBlock(tls: ClusterTlsFiles | undefined): string[] {
  if (!tls) return [];
  return [
    '  tls {',
    `    cert_file: ${quote(tls.certFile)}`,
    `    key_file: ${quote(tls.keyFile)}`,
    `    ca_file: ${quote(tls.caFile)}`,
    '    verify: true',
    `    timeout: ${AUTH_TIMEOUT_S}`,
    '  }',
  ];
}

/** Sorted, deduplicated routes without our own cluster address: equal sets render equal text. */
export function normalizeRoutes(routes: RouteTarget[], self?: RouteTarget): RouteTarget[] {
  const seen = new Map<string, RouteTarget>();
  for (const r of routes) {
    checkHost(`routes host`, r.host, { allowHostname: true });
    checkPort('routes port', r.port);
    const host = r.host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
    if (self && host === self.host.toLowerCase() && r.port === self.port) continue;
    seen.set(hostPort(host, r.port), { host, port: r.port });
  }
  return [...seen.entries()].sort(([a], [b]) => compareText(a, b)).map(([, r]) => r);
}

/** nats-route://user:pass@host:port with user and password percent-encoded. */
export function routeUrl(route: RouteTarget, creds: NatsCredentials): string {
  const auth = `${encodeURIComponent(creds.user)}:${encodeURIComponent(creds.pass)}`;
  return `nats-route://${auth}@${hostPort(route.host, route.port)}`;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A double-quoted conf string: the nats conf lexer unescapes \\ and \" inside quotes. */
function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function validate(o: NatsConfigOptions): void {
  if (!NAME.test(o.serverName))
    bad('serverName', o.serverName, 'letters, digits, "-", "_" or ".", 1-128 chars');
  if (!NAME.test(o.clusterName))
    bad('clusterName', o.clusterName, 'letters, digits, "-", "_" or ".", 1-128 chars');
  if (!isLoopback(o.clientHost))
    bad('clientHost', o.clientHost, 'a loopback address such as 127.0.0.1');
  checkHost('clusterHost', o.clusterHost, { allowHostname: false });
  for (const [key, port] of [
    ['clientPort', o.clientPort],
    ['monitorPort', o.monitorPort],
    ['clusterPort', o.clusterPort],
  ] as const) {
    checkPort(key, port);
  }
  if (new Set([o.clientPort, o.monitorPort, o.clusterPort]).size !== 3) {
    bad(
      'ports',
      [o.clientPort, o.monitorPort, o.clusterPort],
      'client, monitor and cluster ports must differ',
    );
  }
  checkCreds('clientCreds', o.clientCreds);
  checkCreds('routeCreds', o.routeCreds);
  for (const [key, file] of [
    ['pidFile', o.pidFile],
    ['clusterTls.certFile', o.clusterTls?.certFile],
    ['clusterTls.keyFile', o.clusterTls?.keyFile],
    ['clusterTls.caFile', o.clusterTls?.caFile],
  ] as const) {
    if (file === undefined) continue;
    if (!file.startsWith('/') || [...file].some(isUnsafePathChar))
      bad(key, file, 'an absolute path without control characters, quotes or backslashes');
  }
}

function checkCreds(key: string, c: NatsCredentials): void {
  if (!USER.test(c.user)) bad(`${key}.user`, c.user, 'letters, digits, ".", "_" or "-"');
  // never echo a password back in an error message
  if (!PASSWORD.test(c.pass))
    bad(`${key}.pass`, '<redacted>', '1-256 printable ASCII characters, no spaces');
}

function checkPort(key: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    bad(key, port, 'an integer port 1-65535');
}

function checkHost(key: string, host: string, o: { allowHostname: boolean }): void {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (WILDCARD.has(bare)) bad(key, host, 'a specific address; never a wildcard like 0.0.0.0');
  const ok = IPV4.test(bare) || IPV6.test(bare) || (o.allowHostname && HOSTNAME.test(bare));
  if (!ok) bad(key, host, o.allowHostname ? 'an IP address or host name' : 'an IP address');
}

function isUnsafePathChar(c: string): boolean {
  const code = c.charCodeAt(0);
  return code < 0x20 || code === 0x7f || c === '"' || c === '\\';
}

function isLoopback(host: string): boolean {
  return (IPV4.test(host) && host.startsWith('127.')) || host === '::1';
}

function bad(key: string, value: unknown, allowed: string): never {
  const shown =
    typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  throw new InputError(`nats config ${key} = ${shown} is invalid: ${allowed}`);
}
