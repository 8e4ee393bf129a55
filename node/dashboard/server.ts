/**
 * The dashboard's HTTP server: the built page (assets.ts) and, under /api/v1/, the control
 * routes it may use, dispatched to the node's own ControlServer, so the page sees exactly what
 * the CLI sees (one source of truth; live parts come from GET /v1/events as server-sent events).
 *
 * Listens on 127.0.0.1 always (when enabled), and on the mesh address with `dashboard.mesh`.
 * Every API request needs a session: on loopback the page gets one when it loads, if the
 * connection comes from the node's own user or root (peer-uid.ts: the users who may use the 0600
 * control socket); otherwise, and on the mesh address, only by a login code from `helix-node
 * dashboard code`. State-changing requests also need a same-origin JSON POST (CSRF), and each
 * listener answers only to its own Host (DNS rebinding). Headers forbid inline script, framing
 * and sniffing.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/index.js';
import type { ControlServer } from '../control/index.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { loadAssets, type Asset } from './assets.js';
import { loopbackPeerUid, trustedLocalUser } from './peer-uid.js';
import {
  Attempts,
  LoginCodes,
  Sessions,
  hostAllowed,
  readCookie,
  sameOrigin,
  sessionCookie,
} from './auth.js';

/** The control routes the page may call; everything else (invites, settings writes, files) is not mounted. */
export const MOUNTED_ROUTES = new Set([
  'GET /v1/status',
  'GET /v1/events',
  'GET /v1/agents',
  'GET /v1/agents/inspect',
  'GET /v1/home',
  'GET /v1/traces',
  'GET /v1/trace',
  'GET /v1/doctor',
  'POST /v1/say',
  'POST /v1/agents/build',
  'POST /v1/agents/rm',
]);

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const SESSION_TTL_MS = 12 * 3600_000;
const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost'];

/** What `GET /v1/dashboard` answers (helix.dashboard/v1). */
export interface DashboardInfo {
  schema: 'helix.dashboard/v1';
  enabled: boolean;
  /** the loopback address, e.g. http://127.0.0.1:7780/; null when disabled */
  url: string | null;
  /** the mesh address (members only, with a code); null unless dashboard.mesh */
  meshUrl: string | null;
}

export interface LoginCode {
  code: string;
  expiresAt: string;
  /** where to type it (the mesh address), or the loopback one when the mesh listener is off */
  url: string;
}

export interface DashboardOptions {
  control: ControlServer;
  config: Config['dashboard'];
  /** this node's mesh address (the mesh listener's, with `dashboard.mesh`) */
  meshAddress: string;
  logger: Logger;
  /** the built files (default: dist/dashboard) */
  assets?: Map<string, Asset>;
}

type Kind = 'loopback' | 'mesh';

interface Listener {
  kind: Kind;
  server: http.Server;
  host: string;
  port: number;
}

export class DashboardServer {
  private readonly listeners: Listener[] = [];
  private readonly codes: LoginCodes;
  private readonly sessions = new Sessions(SESSION_TTL_MS);
  private readonly attempts = new Attempts();
  private readonly assets: Map<string, Asset>;

  constructor(private readonly opts: DashboardOptions) {
    this.codes = new LoginCodes(opts.config.code_ttl_s * 1000);
    this.assets = opts.assets ?? loadAssets();
  }

  async start(): Promise<void> {
    const { config, meshAddress } = this.opts;
    await this.listen('loopback', '127.0.0.1', config.port);
    if (config.mesh && meshAddress !== '127.0.0.1')
      await this.listen('mesh', meshAddress, config.port);
    if (this.assets.size === 0)
      this.opts.logger.warn('the dashboard is not built (no dist/dashboard): run `npm run build`');
  }

  async stop(): Promise<void> {
    for (const l of this.listeners.splice(0)) {
      l.server.closeAllConnections();
      await new Promise<void>((resolve) => l.server.close(() => resolve()));
    }
  }

  info(): DashboardInfo {
    const url = (kind: Kind) => {
      const l = this.listeners.find((x) => x.kind === kind);
      return l ? `http://${l.host}:${l.port}/` : null;
    };
    return {
      schema: 'helix.dashboard/v1',
      enabled: true,
      url: url('loopback'),
      meshUrl: url('mesh'),
    };
  }

  /** A single-use code for the mesh address (what `helix-node dashboard code` prints). */
  loginCode(): LoginCode {
    const { code, expiresAt } = this.codes.issue();
    const info = this.info();
    return { code, expiresAt: new Date(expiresAt).toISOString(), url: info.meshUrl ?? info.url! };
  }

  private async listen(kind: Kind, host: string, port: number): Promise<void> {
    const server = http.createServer();
    const listener: Listener = { kind, server, host, port };
    server.on('request', (req, res) => {
      this.handle(listener, req, res).catch((err: unknown) => {
        this.opts.logger.debug({ err: describeError(err) }, 'dashboard request failed');
        if (!res.headersSent) sendJson(res, 500, errorBody('Error', describeError(err)));
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    listener.port = (server.address() as AddressInfo).port;
    this.listeners.push(listener);
    this.opts.logger.info({ url: `http://${host}:${listener.port}/` }, `dashboard on ${kind}`);
  }

  private cookieName(l: Listener): string {
    // cookies are shared by every port of a host: one name per listener
    return `helix_session_${l.port}`;
  }

  private async handle(
    l: Listener,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): Promise<void> {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    const hosts = l.kind === 'loopback' ? LOOPBACK_HOSTS : [l.host];
    if (!hostAllowed(req.headers.host, hosts, l.port)) {
      sendJson(
        res,
        421,
        errorBody('WrongHost', `this dashboard answers to ${hosts[0]}:${l.port} only`),
      );
      return;
    }
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const cookie = this.cookieName(l);
    const sessionId = readCookie(req.headers.cookie, cookie);
    let signedIn = this.sessions.valid(sessionId);
    // on loopback the page gets a session when it loads, if it comes from a user who may use
    // the control socket (the node's user or root); anyone else signs in with a code
    const grant = (): void => {
      if (signedIn || l.kind !== 'loopback') return;
      const uid = loopbackPeerUid(req.socket.remotePort ?? -1, l.port);
      if (!trustedLocalUser(uid)) {
        this.opts.logger.info({ uid }, 'dashboard: a loopback page from another user needs a code');
        return;
      }
      res.setHeader(
        'set-cookie',
        sessionCookie(cookie, this.sessions.create(), SESSION_TTL_MS / 1000),
      );
      signedIn = true;
    };
    const pathname = url.pathname === '/' ? '/index.html' : url.pathname;
    const asset = this.assets.get(pathname);

    if (req.method === 'GET' && asset) {
      if (pathname === '/index.html') grant();
      sendAsset(req, res, asset);
      return;
    }
    if (req.method === 'GET' && pathname === '/index.html') {
      sendText(res, 503, 'The dashboard is not built: run `npm run build` in the helixos folder.');
      return;
    }
    if (url.pathname === '/api/session' && req.method === 'GET') {
      grant();
      sendJson(res, signedIn ? 200 : 401, { signedIn, mesh: l.kind === 'mesh' });
      return;
    }
    if (url.pathname === '/api/login' && req.method === 'POST') {
      await this.login(l, req, res);
      return;
    }
    if (url.pathname === '/api/logout' && req.method === 'POST') {
      if (!sameOrigin(req.headers)) return refuseCrossSite(res);
      this.sessions.end(sessionId);
      res.setHeader('set-cookie', sessionCookie(cookie, '', 0));
      sendJson(res, 200, { signedIn: false });
      return;
    }
    if (url.pathname.startsWith('/api/v1/')) {
      if (!signedIn) {
        sendJson(
          res,
          401,
          errorBody(
            'SignInNeeded',
            'sign in with a code from this node: run `helix-node dashboard code` on it (a code from another node is not valid here)',
          ),
        );
        return;
      }
      const route = url.pathname.slice('/api'.length);
      if (!MOUNTED_ROUTES.has(`${req.method} ${route}`)) {
        sendJson(
          res,
          404,
          errorBody('NotFound', `the dashboard has no ${req.method} ${url.pathname}`),
        );
        return;
      }
      if (req.method === 'POST' && !(sameOrigin(req.headers) && isJson(req))) {
        return refuseCrossSite(res);
      }
      res.setHeader('cache-control', 'no-store');
      await this.opts.control.dispatch(req, res, new URL(route + url.search, 'http://local'));
      return;
    }
    sendJson(res, 404, errorBody('NotFound', `nothing at ${url.pathname}`));
  }

  private async login(
    l: Listener,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): Promise<void> {
    if (!(sameOrigin(req.headers) && isJson(req))) return refuseCrossSite(res);
    const client = req.socket.remoteAddress ?? '?';
    if (this.attempts.blocked(client)) {
      sendJson(
        res,
        429,
        errorBody('TooManyTries', 'too many wrong codes; wait a minute and ask for a new one'),
      );
      return;
    }
    const body = await readJson(req);
    const code = typeof body?.code === 'string' ? body.code : '';
    if (!code || !this.codes.redeem(code)) {
      this.attempts.fail(client);
      sendJson(
        res,
        401,
        errorBody(
          'BadCode',
          'that code is wrong, used or expired; run `helix-node dashboard code` for a new one',
        ),
      );
      return;
    }
    res.setHeader(
      'set-cookie',
      sessionCookie(this.cookieName(l), this.sessions.create(), SESSION_TTL_MS / 1000),
    );
    sendJson(res, 200, { signedIn: true, mesh: l.kind === 'mesh' });
  }
}

function isJson(req: http.IncomingMessage): boolean {
  return (req.headers['content-type'] ?? '').startsWith('application/json');
}

function refuseCrossSite(res: http.ServerResponse): void {
  sendJson(
    res,
    403,
    errorBody(
      'CrossSite',
      'refused: a change must come from the dashboard page itself (same origin, JSON)',
    ),
  );
}

function errorBody(name: string, message: string) {
  return { error: { name, message, exitCode: 1 } };
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

function sendText(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(text);
}

function sendAsset(req: http.IncomingMessage, res: http.ServerResponse, asset: Asset): void {
  const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  const body = gzip ? asset.gzip : asset.body;
  res.writeHead(200, {
    'content-type': asset.type,
    'content-length': body.length,
    'cache-control': 'no-cache',
    vary: 'accept-encoding',
    ...(gzip ? { 'content-encoding': 'gzip' } : {}),
  });
  res.end(body);
}

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown> | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 4096) return null;
    chunks.push(chunk as Buffer);
  }
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
