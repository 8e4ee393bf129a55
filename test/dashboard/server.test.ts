/**
 * The dashboard's server over a real ControlServer (its unix socket in a temp dir) and real TCP
 * listeners: routing of the mounted control routes, sign-in on loopback and on the "mesh"
 * address (127.0.0.2 here), CSRF and Host checks, security headers, and the live stream as
 * server-sent events (GET /v1/events with its real route over fake sources).
 */
import { execFile, execFileSync } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlServer, controlCall, controlStream } from '../../node/control/index.js';
import { addEventRoutes, type LiveEvent } from '../../node/control/routes/index.js';
import type { StatusReport } from '../../node/control/types.js';
import { startDashboard, type DashboardServer } from '../../node/dashboard/index.js';
import type { Asset } from '../../node/dashboard/assets.js';
import type { Transition } from '../../node/membership/view.js';
import { silentLogger } from '../../node/log.js';

const run = promisify(execFile);
const hasProgram = (name: string): boolean => {
  try {
    execFileSync('which', [name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

const asset = (type: string, text: string): Asset => ({
  type,
  body: Buffer.from(text),
  gzip: Buffer.from(text),
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; until?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: opts.method ?? 'GET', headers: opts.headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
          // a stream that does not end: enough once `until` arrived
          if (opts.until && body.includes(opts.until)) {
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
            req.destroy();
          }
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    if (opts.body) req.write(opts.body);
    req.end();
  });
}

describe('the dashboard server', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hx-dash-srv-'));
  const control = new ControlServer(path.join(dir, 'control.sock'), silentLogger);
  let dashboard: DashboardServer;
  let loop: string;
  let meshUrl: string;
  const members = new Set<(t: Transition) => void>();
  const status = {
    schema: 'helix.status/v1',
    self: { name: 'desk' },
    nodes: [],
  } as unknown as StatusReport;

  beforeAll(async () => {
    await control.start();
    control.route('GET', '/v1/status', async () => status);
    control.route('POST', '/v1/invite', async () => ({ code: 'a secret invite' }));
    control.route('POST', '/v1/say', async (body, _req, res) => {
      res.event({ type: 'hop', stage: 'intent' });
      res.result({ reply: `heard ${(body as { text: string }).text}` });
      return undefined;
    });
    addEventRoutes(control, {
      status: async () => status,
      onMember: (l) => {
        members.add(l);
        return () => members.delete(l);
      },
      onTrace: null,
      doctor: async () => ({ schema: 'helix.doctor/v1', node: 'desk', checks: [] }),
      statusEveryMs: 60_000,
    });
    dashboard = (await startDashboard({
      control,
      config: { enabled: true, port: 0, mesh: true, code_ttl_s: 60 },
      meshAddress: '127.0.0.2',
      logger: silentLogger,
      assets: new Map([
        ['/index.html', asset('text/html; charset=utf-8', '<!doctype html><title>x</title>')],
        ['/app.js', asset('text/javascript; charset=utf-8', 'export {}')],
      ]),
    }))!;
    const info = dashboard.info();
    loop = info.url!;
    meshUrl = info.meshUrl!;
  });

  afterAll(async () => {
    await dashboard?.stop();
    await control.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** a loopback session cookie, as the page gets when it loads */
  async function loopbackCookie(): Promise<string> {
    const page = await request(loop);
    return String(page.headers['set-cookie']![0]).split(';')[0]!;
  }

  it('says where it is on the control socket, and hands out codes there', async () => {
    const info = await controlCall<{ url: string; meshUrl: string }>(dir, '/v1/dashboard');
    expect(info.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(info.meshUrl).toMatch(/^http:\/\/127\.0\.0\.2:\d+\/$/);
    const code = await controlCall<{ code: string; url: string }>(dir, '/v1/dashboard/code', {
      method: 'POST',
    });
    expect(code.url).toBe(info.meshUrl);
  });

  it('serves the page with strict headers, and a session on loopback', async () => {
    const page = await request(loop);
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['x-frame-options']).toBe('DENY');
    const cookie = String(page.headers['set-cookie']);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
  });

  // another account on the machine could drive the node through 127.0.0.1, though the control
  // socket (0600) is closed to it: on loopback only the node's user and root get a session
  it.skipIf(process.getuid?.() !== 0 || !hasProgram('setpriv') || !hasProgram('curl'))(
    'gives no loopback session to another local user: the page asks it for a code',
    async () => {
      const asNobody = (url: string) =>
        run('setpriv', [
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          'curl',
          '-s',
          '-i',
          url,
        ]);
      const session = await asNobody(`${loop}api/session`);
      expect(session.stdout).toMatch(/^HTTP\/1\.1 401/);
      expect(session.stdout).toContain('"signedIn":false');
      const page = await asNobody(loop);
      expect(page.stdout).toMatch(/^HTTP\/1\.1 200/); // the page itself, to sign in with a code
      expect(page.stdout.toLowerCase()).not.toContain('set-cookie');
      expect((await asNobody(`${loop}api/v1/status`)).stdout).toMatch(/^HTTP\/1\.1 401/);
      // this process's user (root here, the node's user) still gets one
      expect((await request(`${loop}api/session`)).status).toBe(200);
    },
  );

  it('mounts the allowed control routes only, each with the session', async () => {
    const cookie = await loopbackCookie();
    expect((await request(`${loop}api/v1/status`)).status).toBe(401);
    const s = await request(`${loop}api/v1/status`, { headers: { cookie } });
    expect(s.status).toBe(200);
    expect(JSON.parse(s.body)).toMatchObject({ schema: 'helix.status/v1' });
    expect((await request(`${loop}api/v1/doctor`, { headers: { cookie } })).status).toBe(200);
    // invites (a secret) and the code route are not the page's business
    const origin = loop.slice(0, -1);
    for (const route of ['invite', 'dashboard/code']) {
      const r = await request(`${loop}api/v1/${route}`, {
        method: 'POST',
        headers: { cookie, origin, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(r.status).toBe(404);
      expect(r.body).not.toContain('secret invite');
    }
  });

  it('takes a change only as a same-origin JSON POST (CSRF)', async () => {
    const cookie = await loopbackCookie();
    const origin = loop.slice(0, -1);
    const say = (headers: Record<string, string>) =>
      request(`${loop}api/v1/say`, {
        method: 'POST',
        headers: { cookie, ...headers },
        body: '{"text":"hi"}',
      });
    expect(
      (await say({ origin: 'http://evil.example', 'content-type': 'application/json' })).status,
    ).toBe(403);
    expect((await say({ 'content-type': 'application/json' })).status).toBe(403);
    expect((await say({ origin, 'content-type': 'text/plain' })).status).toBe(403);
    const ok = await say({ origin, 'content-type': 'application/json' });
    expect(ok.status).toBe(200);
    expect(
      ok.body
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown),
    ).toEqual([
      { type: 'event', event: { type: 'hop', stage: 'intent' } },
      { type: 'result', reply: 'heard hi' },
    ]);
  });

  it('answers to its own Host only (DNS rebinding)', async () => {
    const port = new URL(loop).port;
    const r = await request(`${loop}api/session`, { headers: { host: `rebind.example:${port}` } });
    expect(r.status).toBe(421);
  });

  it('on the mesh address: no session without a code, one with it, a code works once', async () => {
    const page = await request(meshUrl);
    expect(page.status).toBe(200);
    expect(page.headers['set-cookie']).toBeUndefined();
    expect((await request(`${meshUrl}api/session`)).status).toBe(401);
    expect((await request(`${meshUrl}api/v1/status`)).status).toBe(401);
    const origin = meshUrl.slice(0, -1);
    const login = (code: string) =>
      request(`${meshUrl}api/login`, {
        method: 'POST',
        headers: { origin, 'content-type': 'application/json' },
        body: JSON.stringify({ code }),
      });
    expect((await login('AAAA-AAAA')).status).toBe(401);
    const { code } = await controlCall<{ code: string }>(dir, '/v1/dashboard/code', {
      method: 'POST',
    });
    const ok = await login(code);
    expect(ok.status).toBe(200);
    const cookie = String(ok.headers['set-cookie']![0]).split(';')[0]!;
    expect((await request(`${meshUrl}api/v1/status`, { headers: { cookie } })).status).toBe(200);
    expect((await login(code)).status).toBe(401);
    // the loopback session is no key to the mesh listener (cookies are per listener)
    expect(
      (await request(`${meshUrl}api/v1/status`, { headers: { cookie: await loopbackCookie() } }))
        .status,
    ).toBe(401);
  });

  it('streams live events as server-sent events: status first, then each transition', async () => {
    const cookie = await loopbackCookie();
    const sse = request(`${loop}api/v1/events`, {
      headers: { cookie, accept: 'text/event-stream' },
      until: '"member"',
    });
    await new Promise<void>((resolve) => {
      const wait = () => (members.size > 0 ? resolve() : setTimeout(wait, 10));
      wait();
    });
    const transition: Transition = {
      id: 'p1',
      name: 'kitchen-pi',
      from: 'alive',
      to: 'dead',
      reason: 'silence',
      atMs: 1,
    };
    for (const l of members) l(transition);
    const r = await sse;
    expect(r.headers['content-type']).toBe('text/event-stream');
    const events = r.body
      .split('\n\n')
      .filter((x) => x.startsWith('data: '))
      .map((x) => (JSON.parse(x.slice(6)) as { event: LiveEvent }).event);
    expect(events[0]).toEqual({ type: 'status', status });
    expect(events).toContainEqual({ type: 'member', transition });
  });

  it('the same stream is NDJSON for the CLI', async () => {
    const ac = new AbortController();
    const lines: unknown[] = [];
    for await (const line of controlStream(dir, '/v1/events', { signal: ac.signal })) {
      lines.push(line);
      ac.abort();
      break;
    }
    expect(lines[0]).toEqual({ type: 'event', event: { type: 'status', status } });
  });

  // last: it takes over the control routes of `helix-node dashboard`
  it('a port that is taken: the start fails and the control routes say the dashboard is off', async () => {
    const port = Number(new URL(loop).port);
    await expect(
      startDashboard({
        control,
        config: { enabled: true, port, mesh: false, code_ttl_s: 60 },
        meshAddress: '127.0.0.1',
        logger: silentLogger,
        assets: new Map(),
      }),
    ).rejects.toThrow(/EADDRINUSE/);
    expect(await controlCall(dir, '/v1/dashboard')).toMatchObject({ enabled: false, url: null });
    await expect(controlCall(dir, '/v1/dashboard/code', { method: 'POST' })).rejects.toThrow(
      /dashboard is off/,
    );
  });
});
