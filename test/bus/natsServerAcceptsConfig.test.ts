/** The rendered config against the installed nats-server (config test mode and live). */
import { execFile, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, test } from 'vitest';
import { renderNatsConfig, type NatsConfigOptions } from '../../node/bus/index.js';
import { natsCredentials } from '../../node/identity/derive.js';
import { BusHarness, collect, newSecret, publishUntil, routedIds, serverId } from './helpers.js';
import { waitFor } from '../support/wait.js';

const run = promisify(execFile);
const h = new BusHarness();
afterEach(() => h.cleanup());

function installedVersion(): [number, number, number] | null {
  const out = spawnSync('nats-server', ['--version'], { encoding: 'utf8' }).stdout ?? '';
  const m = /(\d+)\.(\d+)\.(\d+)/.exec(out);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

async function configTest(opts: NatsConfigOptions): Promise<{ ok: boolean; output: string }> {
  const file = join(await h.tempDir(), 'nats.conf');
  await writeFile(file, renderNatsConfig(opts), { mode: 0o600 });
  try {
    const { stdout, stderr } = await run('nats-server', ['-t', '-c', file], { timeout: 10_000 });
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

function options(dir: string, change: Partial<NatsConfigOptions> = {}): NatsConfigOptions {
  const secret = newSecret();
  return {
    serverName: 'accept-test',
    clusterName: 'helix-test',
    clientHost: '127.0.0.1',
    clientPort: 14001,
    clientCreds: natsCredentials(secret, 'nats-client'),
    monitorPort: 14002,
    clusterHost: '127.0.1.1',
    clusterPort: 14003,
    routeCreds: natsCredentials(secret, 'nats-route'),
    routes: [],
    pidFile: join(dir, 'nats.pid'),
    ...change,
  };
}

describe('nats-server -t', () => {
  test.each<[string, Partial<NatsConfigOptions>]>([
    ['no routes', {}],
    [
      'several routes',
      {
        routes: [
          { host: '127.0.1.2', port: 14003 },
          { host: '127.0.1.3', port: 14003 },
          { host: 'desk.example.ts.net', port: 6222 },
        ],
      },
    ],
    ['an IPv6 route', { routes: [{ host: 'fd7a:115c:a1e0::1', port: 6222 }] }],
    // as the supervisor writes it for the installed server (pool_size on 2.10+)
    ["the installed server's version", { serverVersion: installedVersion() }],
    [
      'passwords that need escaping',
      {
        routeCreds: { user: 'helix-route', pass: 'a"b\\c$d#e;f@g:h/i' },
        routes: [{ host: '127.0.1.2', port: 14003 }],
      },
    ],
  ])('accepts the rendered config with %s', async (_what, change) => {
    const result = await configTest(options(await h.tempDir(), change));
    expect(result.output).toMatch(/is valid/);
    expect(result.ok).toBe(true);
  });

  test('rejects a config with an option it does not know (so the acceptance above means something)', async () => {
    const file = join(await h.tempDir(), 'nats.conf');
    const text = renderNatsConfig(options(await h.tempDir())).replace(
      'no_advertise: true',
      'no_advertise: true\n  helix_no_such_option: 3',
    );
    await writeFile(file, text);
    await expect(run('nats-server', ['-t', '-c', file], { timeout: 10_000 })).rejects.toThrow(
      /helix_no_such_option/,
    );
  });
});

describe('rendered config on a running server', () => {
  test('a client password with quote, backslash, dollar and hash characters is read back exactly', async () => {
    const pass = 'q"b\\s$v#h;x';
    const n = await h.started('127.0.1.1', newSecret(), [], {
      clientCreds: { user: 'helix', pass },
    });
    const bus = await h.bus({ ...n, clientCreds: { user: 'helix', pass } });
    const inbox = collect(bus, 'test.escape');
    await publishUntil(bus, 'test.escape', 'hello', () => inbox.messages.includes('hello'));
  });

  test('routes authenticate with a route password that needs URL escaping', async () => {
    const secret = newSecret();
    const routeCreds = { user: 'helix-route', pass: 'p@ss:w/o"rd\\%?#' };
    const a = await h.started('127.0.1.1', secret, [], { routeCreds });
    const b = await h.started('127.0.1.2', secret, [a.cluster], { routeCreds });
    const aId = await serverId(a);
    await waitFor(async () => (await routedIds(b)).includes(aId), {
      timeoutMs: 15_000,
      what: 'b to route to a',
    });
    const busA = await h.bus(a);
    const busB = await h.bus(b);
    const inbox = collect(busB, 'test.escaped-route');
    await publishUntil(busA, 'test.escaped-route', 'across', () =>
      inbox.messages.includes('across'),
    );
  });

  test('clients are refused without the client password', async () => {
    const n = await h.started('127.0.1.1', newSecret());
    await expect(h.bus({ ...n, clientCreds: { user: 'helix', pass: 'wrong' } })).rejects.toThrow(
      /Authorization Violation/,
    );
  });
});
