/**
 * The dashboard in a real browser (issue 13): Debian's headless chromium, driven by
 * puppeteer-core over a pipe, runs inside node0's network namespace of a three-node mesh of real
 * daemons (no speech models: commands enter as text; node1 has a private Docker engine). One
 * mesh, one browser:
 * - every page renders with the right nodes (Mesh, Commands, Agents, Home, Health);
 * - a command typed on the Home page runs (the mesh agent, built and run on node1), its reply shows, and its trace
 *   appears on the Commands page (markup in it shows as text, never as elements);
 * - node2 killed with -9 turns dead on node0's Mesh page within 11 s (membership dead_after is
 *   8 s here: what is tested is that the page shows what the node knows, live);
 * - node1's dashboard on its mesh address refuses the API without a login code, accepts the code
 *   from `helix-node dashboard code`, and refuses a spent code;
 * - there, on node1's Agents page, Build builds the echo agent on node1's engine with its progress
 *   streamed to the page, and Remove (confirmed) removes the image again.
 * Screenshots of each page (desktop and phone) go to test/dashboard/screenshots/ (git-ignored).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlCall } from '../../node/control/index.js';
import type { DashboardInfo, LoginCode } from '../../node/dashboard/index.js';
import { useMeshHarness } from '../harness/vitest.js';
import { removeContainers, startDockerd, type PrivateDockerd } from '../support/docker.js';
import { waitFor } from '../support/wait.js';
import { daemonMesh, missingFor, startMesh } from '../mesh/helpers.js';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHOTS = path.join(ROOT, 'test', 'dashboard', 'screenshots');
const CHROMIUM = process.env.HELIX_CHROMIUM ?? '/usr/bin/chromium';
const DEAD_AFTER_MS = 8000;

const missing = missingFor([
  ['ip', ['-V']],
  ['nats-server', ['--version']],
  ['dockerd', ['--version']],
  ['go', ['version']],
  [CHROMIUM, ['--version']],
]);

describe.skipIf(missing !== null)('the dashboard in headless chromium on a three-node mesh', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'hx-dash-'));
  // node1 has a private Docker engine (its own data root, beside the shared one): the command
  // typed on node0's Home page runs an agent there; node0 and node2 have none
  const engineDir = path.join(tmp, 'dockerd-node1');
  let engine: PrivateDockerd | null = null;
  const mesh = useMeshHarness(
    () =>
      daemonMesh({
        nodes: 3,
        subnet: '100.64.130',
        config: {
          dashboard: { port: 0, mesh: true },
          membership: { dead_after_ms: DEAD_AFTER_MS },
          capabilities: {
            docker_socket: path.join(tmp, 'no-docker.sock'),
            // a loaded two-core machine answers `docker version` slowly
            probe_timeout_ms: 10_000,
          },
          agents: { warm_pool_size: 0 },
          stt: { engine: 'none' },
        },
        node: [
          {},
          { config: { capabilities: { docker_socket: path.join(engineDir, 'docker.sock') } } },
          {},
        ],
      }),
    { tailLines: 40 },
  );
  let browser: Browser;
  let page: Page;
  let info: DashboardInfo;

  const shot = async (name: string): Promise<void> => {
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`) as `${string}.png` });
  };
  const go = async (hash: string): Promise<void> => {
    await page.evaluate((h) => (location.hash = h), hash);
    await page.waitForSelector(`#page-${hash} h1`, { visible: true });
  };

  /** chromium in node0's namespace: its loopback is node0's, the mesh addresses are near */
  async function launch(namespace: string): Promise<Browser> {
    const wrapper = path.join(tmp, 'chromium-in-ns');
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${namespace} ${CHROMIUM} "$@"\n`);
    chmodSync(wrapper, 0o755);
    const { default: puppeteer } = await import('puppeteer-core');
    return puppeteer.launch({
      executablePath: wrapper,
      pipe: true,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
    });
  }

  beforeAll(async () => {
    // what the node serves: built from the sources this run tests
    execFileSync(process.execPath, ['scripts/build-dashboard.mjs'], { cwd: ROOT });
    mkdirSync(SHOTS, { recursive: true });
    engine = await startDockerd(engineDir, { extraArgs: ['--shutdown-timeout', '1'] });
    const m = mesh();
    // the browser starts while the mesh forms
    const launched = launch(m.info(0).namespace);
    launched.catch(() => undefined); // awaited below; a failure there fails the set-up
    await startMesh(m, [0, 1, 2], { timeoutMs: 30_000 });
    const [printed] = await Promise.all([
      // what `helix-node dashboard --json` prints (no desktop here: nothing is opened)
      m.cli(0, ['dashboard', '--json']),
      waitFor(
        async () => (await m.status(0)).nodes.filter((n) => n.state === 'alive').length === 3,
        { timeoutMs: 30_000, intervalMs: 200, what: 'node0 to see three nodes alive' },
      ),
    ]);
    expect(printed.code, printed.stderr).toBe(0);
    info = JSON.parse(printed.stdout) as DashboardInfo;
    expect(info).toMatchObject({ enabled: true, opened: false });
    // a room for the Home page, node0 in it (mesh settings, as `helix-node rooms set` writes)
    const set = (key: string, value: unknown) =>
      controlCall(m.info(0).stateDir, '/v1/settings/set', { method: 'POST', body: { key, value } });
    await set('rooms.kitchen', { lights: ['kitchen_ceiling', 'kitchen_counter'] });
    await set(`nodes.${(await m.status(0)).self.id}.room`, 'kitchen');
    browser = await launched;
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 860 });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    if (engine) {
      await removeContainers(engine.docker, '').catch(() => undefined);
      await engine.stop();
    }
    rmSync(tmp, { recursive: true, force: true });
  });

  it('renders every page with the right nodes, runs a typed command, shows a kill, asks for a code on the mesh', async () => {
    const m = mesh();
    expect(info.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(info.meshUrl).toMatch(/^http:\/\/100\.64\.130\.1:\d+\/$/);

    // Mesh: three cards, all alive, and the graph
    const res = await page.goto(`${info.url}#mesh`);
    expect(res?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(res?.headers()['x-content-type-options']).toBe('nosniff');
    await page.waitForFunction(
      () => document.querySelectorAll('#page-mesh li.card[data-state="alive"]').length === 3,
      { timeout: 15_000 },
    );
    const names = await page.$$eval('#page-mesh li.card', (els) =>
      els.map((e) => (e as HTMLElement).dataset.node).sort(),
    );
    expect(names).toEqual(['node0', 'node1', 'node2']);
    await page.waitForFunction(() =>
      document
        .querySelector('#page-mesh li.card[data-node="node0"]')
        ?.textContent?.includes('kitchen'),
    );
    expect(await page.$$eval('#page-mesh svg g[data-node]', (els) => els.length)).toBe(3);
    await shot('mesh-desktop');

    // Agents: this node's list, and every node's warm pool column
    await go('agents');
    await page.waitForFunction(() =>
      document.querySelector('#page-agents h1')?.textContent?.includes('on node0'),
    );
    await shot('agents-desktop');

    // Health: doctor's checks, with fixes
    await go('health');
    await page.waitForSelector('#page-health [data-check="nats-server"]');
    // what is missing here (no Docker engine) shows with the command that fixes it
    const fixes = await page.$$eval('#page-health [data-check] code', (els) =>
      els.map((e) => e.textContent ?? ''),
    );
    expect(fixes.length, 'a failing check with its fix').toBeGreaterThan(0);
    await shot('health-desktop');

    // Home: the rooms, then a command typed; the reply and its trace show
    await go('home');
    await page.waitForSelector('#page-home [data-room="kitchen"]');
    await page.type('#say-text', 'which devices are online');
    await page.keyboard.press('Enter');
    // the mesh agent is built on node1 (Go, a FROM scratch image) and runs there
    await page.waitForFunction(
      () =>
        /3 devices are online/.test(document.querySelector('#page-home .reply')?.textContent ?? ''),
      { timeout: 120_000 },
    );
    await page.waitForSelector('#page-home details[data-trace]', { timeout: 10_000 });
    await shot('home-desktop');
    // markup typed (or sent by a peer) stays text
    await page.click('#say-text', { count: 3 });
    await page.type('#say-text', 'dim the <img src=x id=xss> lights');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() =>
      document.querySelector('#page-home [data-said]')?.getAttribute('data-said')?.includes('<img'),
    );
    await page.waitForSelector('#page-home .reply');

    // Commands: both traces, with their hops; one opens to its details
    await go('commands');
    await page.waitForFunction(
      () => document.querySelectorAll('#page-commands details[data-trace]').length >= 2,
      { timeout: 10_000 },
    );
    const summaries = await page.$$eval('#page-commands details[data-trace] summary', (els) =>
      els.map((e) => e.textContent ?? ''),
    );
    expect(summaries.some((t) => t.includes('which devices are online'))).toBe(true);
    expect(summaries.some((t) => t.includes('<img src=x id=xss>'))).toBe(true);
    expect(await page.$('#xss')).toBeNull();
    await page.click('#page-commands details[data-trace] summary');
    await page.waitForSelector('#page-commands details[open] table');
    await page.type('#cmd-filter', 'online');
    await page.waitForFunction(
      () => document.querySelectorAll('#page-commands details[data-trace]').length === 1,
    );
    await shot('commands-desktop');
    await page.setViewport({ width: 390, height: 844, isMobile: true });
    await shot('commands-phone');
    await go('mesh');
    await shot('mesh-phone');
    await page.setViewport({ width: 1280, height: 860 });

    // node2 killed with -9: dead on the page within 11 s
    const killedAt = performance.now();
    m.kill(2, 'SIGKILL');
    await page.waitForFunction(
      () =>
        document
          .querySelector('#page-mesh li.card[data-node="node2"]')
          ?.getAttribute('data-state') === 'dead',
      { timeout: 11_000, polling: 100 },
    );
    console.log(
      `node2 dead on the Mesh page ${Math.round(performance.now() - killedAt)} ms after kill -9`,
    );
    await shot('mesh-dead-desktop');

    // node1's dashboard on its mesh address: members only
    const info1 = await controlCall<DashboardInfo>(m.info(1).stateDir, '/v1/dashboard');
    expect(info1.meshUrl).toMatch(/^http:\/\/100\.64\.130\.2:\d+\/$/);
    const other = await browser.newPage();
    await other.goto(info1.meshUrl!);
    await other.waitForSelector('#login-code');
    // the code to type is this node's: the page names its address
    expect(await other.$eval('#login-title + p', (e) => e.textContent)).toContain('100.64.130.2');
    const refused = await other.evaluate(async () => (await fetch('/api/v1/status')).status);
    expect(refused).toBe(401);
    await other.screenshot({ path: path.join(SHOTS, 'login-desktop.png') });
    const issued = await m.cli(1, ['dashboard', 'code', '--json']);
    expect(issued.code, issued.stderr).toBe(0);
    const { code, url } = JSON.parse(issued.stdout) as LoginCode;
    expect(url).toBe(info1.meshUrl);
    await other.type('#login-code', code.toLowerCase());
    await other.keyboard.press('Enter');
    await other.waitForFunction(
      () => document.querySelectorAll('#page-mesh li.card').length === 3,
      { timeout: 10_000 },
    );
    const accepted = await other.evaluate(async () => (await fetch('/api/v1/status')).status);
    expect(accepted).toBe(200);
    // a spent code signs no one in
    const again = await other.evaluate(async (c) => {
      const r = await fetch('/api/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ code: c }),
      });
      return r.status;
    }, code);
    expect(again).toBe(401);

    // node1's Agents page (node1 has the Docker engine): Build, then Remove, each with its
    // progress in the log area
    other.on('dialog', (d) => void d.accept()); // Remove asks first
    await other.evaluate(() => (location.hash = 'agents'));
    await other.waitForSelector('#page-agents button[aria-label="Build echo"]:not([disabled])', {
      visible: true,
    });
    expect(await other.$eval('#page-agents h1', (e) => e.textContent)).toContain('on node1');
    await other.click('#page-agents button[aria-label="Build echo"]');
    await other.waitForFunction(
      () =>
        /echo: built \S+ \(\d+\.\d MB\)/.test(
          document.querySelector('#page-agents pre[role=log]')?.textContent ?? '',
        ),
      { timeout: 120_000 },
    );
    await other.waitForSelector(
      '#page-agents button[aria-label="Remove echo\'s image"]:not([disabled])',
    );
    const built = await other.$eval('#page-agents pre[role=log]', (e) => e.textContent ?? '');
    // the build's own progress streamed in between (the Go compile, the image)
    expect(built.split('\n').filter((l) => l.startsWith('echo: ')).length).toBeGreaterThan(1);
    await other.screenshot({ path: path.join(SHOTS, 'agents-built-desktop.png') });
    await other.click('#page-agents button[aria-label="Remove echo\'s image"]');
    await other.waitForFunction(
      () =>
        /echo: removed 1 image\(s\), freed \d+\.\d MB/.test(
          document.querySelector('#page-agents pre[role=log]')?.textContent ?? '',
        ),
      { timeout: 30_000 },
    );
    await other.waitForSelector('#page-agents button[aria-label="Remove echo\'s image"][disabled]');
    await other.close();
  }, 180_000);
});
