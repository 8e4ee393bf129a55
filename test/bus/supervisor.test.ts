/** NatsSupervisor against real nats-server processes. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { NatsServerError, NatsSupervisor, type NatsSupervisorEvent } from '../../node/bus/index.js';
import { DependencyMissingError, StateError } from '../../node/errors.js';
import { canMount, mountTinyFs } from '../support/tmpfs.js';
import {
  BusHarness,
  collect,
  isAlive,
  newSecret,
  pidsWithArg,
  publishUntil,
  routedIds,
  serverId,
  signal,
  testLogger,
} from './helpers.js';
import { waitFor } from '../support/wait.js';

const h = new BusHarness();
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  await h.cleanup();
});

function nextEvent<T extends NatsSupervisorEvent['type']>(
  sup: NatsSupervisor,
  type: T,
  timeoutMs = 15_000,
): Promise<Extract<NatsSupervisorEvent, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${type} event within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = sup.on((e) => {
      if (e.type !== type) return;
      clearTimeout(timer);
      off();
      resolve(e as Extract<NatsSupervisorEvent, { type: T }>);
    });
  });
}

describe('start and stop', () => {
  test('starts nats-server with its name, JetStream off and the config written with mode 0600', async () => {
    const n = await h.started('127.0.1.1', newSecret());
    expect(n.sup.state).toBe('running');
    expect(n.sup.pid).toBe(n.pids[0]);
    const varz = await n.sup.varz();
    expect(varz.server_name).toBe(`test-127-0-1-1-${n.cluster.port}`);
    expect(varz.host).toBe('127.0.0.1');
    expect(varz.cluster?.addr).toBe('127.0.1.1');
    expect(varz.jetstream ?? {}).toEqual({});
    expect((await stat(n.sup.confPath)).mode & 0o777).toBe(0o600);
  });

  test('stop() ends the nats-server process and leaves none behind', async () => {
    const n = await h.started('127.0.1.1', newSecret());
    const pid = n.sup.pid as number;
    expect(isAlive(pid)).toBe(true);
    await n.sup.stop();
    expect(n.sup.state).toBe('stopped');
    expect(n.sup.pid).toBeUndefined();
    expect(isAlive(pid)).toBe(false);
    expect(await pidsWithArg(n.sup.confPath)).toEqual([]);
  });

  test('can be started again after stop()', async () => {
    const n = await h.started('127.0.1.1', newSecret());
    await n.sup.stop();
    await n.sup.start();
    expect(n.pids).toHaveLength(2);
    expect(isAlive(n.pids[1] as number)).toBe(true);
  });

  test.each([
    ['a path that does not exist', '/nonexistent/helix/nats-server'],
    ['a name not on PATH', 'helix-no-such-nats-server'],
  ])('refuses to start with %s and says how to install it', async (_what, natsServerPath) => {
    const n = await h.node('127.0.1.1', newSecret(), { natsServerPath });
    const started = n.sup.start();
    await expect(started).rejects.toThrow(DependencyMissingError);
    await expect(started).rejects.toThrow(/apt-get install nats-server.*bus\.nats_server/);
    expect(n.pids).toEqual([]);
  });

  test('fails with the server’s own words when the client port is taken, and leaves no process', async () => {
    const o = await h.options('127.0.1.1', newSecret());
    const squatter = createServer();
    servers.push(squatter);
    await new Promise<void>((r) => squatter.listen(o.clientPort, '127.0.0.1', r));
    const sup = new NatsSupervisor(o);
    const started = sup.start();
    await expect(started).rejects.toThrow(NatsServerError);
    await expect(started).rejects.toThrow(/address already in use/);
    await expect(started).rejects.toThrow(/bus\.client_port/);
    expect(sup.state).toBe('stopped');
    expect(await pidsWithArg(sup.confPath)).toEqual([]);
  });
});

describe.skipIf(!canMount)('a full disk', () => {
  test('refuses to start with the config path and "the disk is full", and leaves no process', async () => {
    const fs = mountTinyFs(64);
    try {
      fs.fill();
      const n = await h.node('127.0.1.1', newSecret(), { confDir: path.join(fs.dir, 'nats') });
      const started = n.sup.start();
      await expect(started).rejects.toThrow(StateError);
      await expect(started).rejects.toThrow(/nats\.conf: the disk is full; free some space/);
      expect(n.pids).toEqual([]);
    } finally {
      fs.unmount();
    }
  });
});

describe('restarts', () => {
  test('restarts a kill -9ed nats-server and a connected bus delivers again', async () => {
    const n = await h.started('127.0.1.2', newSecret());
    const bus = await h.bus(n);
    const inbox = collect(bus, 'test.resume');
    await publishUntil(bus, 'test.resume', 'before', () => inbox.messages.includes('before'));
    const oldPid = n.sup.pid as number;

    const restarted = nextEvent(n.sup, 'restarted');
    const killedAt = performance.now();
    signal(oldPid, 'SIGKILL');
    const event = await restarted;
    const restartMs = performance.now() - killedAt;
    expect(event.pid).not.toBe(oldPid);
    expect(n.sup.pid).toBe(event.pid);
    expect(n.sup.state).toBe('running');

    await publishUntil(
      bus,
      'test.resume',
      'after',
      () => inbox.messages.includes('after'),
      15_000,
      10,
    );
    const deliveredMs = performance.now() - killedAt;
    console.log(
      `[measure] kill -9 -> nats-server restarted: ${restartMs.toFixed(0)} ms (backoff 100 ms); -> bus delivering again: ${deliveredMs.toFixed(0)} ms`,
    );
  });

  test('doubles the restart delay after each quick crash, up to the cap', async () => {
    const n = await h.started('127.0.1.3', newSecret(), [], { backoffMs: 50, maxBackoffMs: 200 });
    const delays: number[] = [];
    n.sup.on((e) => {
      if (e.type === 'restart-scheduled') delays.push(e.delayMs);
    });
    for (let i = 0; i < 4; i++) {
      const restarted = nextEvent(n.sup, 'restarted');
      signal(n.sup.pid as number, 'SIGKILL');
      await restarted;
    }
    expect(delays).toEqual([50, 100, 200, 200]);
  });

  test('goes back to the first delay once the server ran stably', async () => {
    const n = await h.started('127.0.1.3', newSecret(), [], { backoffMs: 50, stableAfterMs: 400 });
    const delays: number[] = [];
    n.sup.on((e) => {
      if (e.type === 'restart-scheduled') delays.push(e.delayMs);
    });
    for (let i = 0; i < 2; i++) {
      const restarted = nextEvent(n.sup, 'restarted');
      signal(n.sup.pid as number, 'SIGKILL');
      await restarted;
    }
    await new Promise((r) => setTimeout(r, 500)); // outlive stableAfterMs
    const restarted = nextEvent(n.sup, 'restarted');
    signal(n.sup.pid as number, 'SIGKILL');
    await restarted;
    expect(delays).toEqual([50, 100, 50]);
  });

  test('stop() during a pending restart cancels it and leaves no process', async () => {
    const n = await h.started('127.0.1.3', newSecret(), [], { backoffMs: 5_000 });
    const scheduled = nextEvent(n.sup, 'restart-scheduled');
    signal(n.sup.pid as number, 'SIGKILL');
    await scheduled;
    expect(n.sup.state).toBe('restarting');
    await n.sup.stop();
    expect(n.sup.state).toBe('stopped');
    expect(n.pids).toHaveLength(1);
    expect(await pidsWithArg(n.sup.confPath)).toEqual([]);
  });
});

describe('setRoutes', () => {
  test('adds and removes a route live: same pid, no restart', async () => {
    const secret = newSecret();
    const a = await h.started('127.0.1.4', secret);
    const b = await h.started('127.0.1.5', secret);
    const aId = await serverId(a);
    const pid = b.sup.pid;
    const reloaded = nextEvent(b.sup, 'reloaded');

    expect(await b.sup.setRoutes([a.cluster])).toBe(true);
    expect((await reloaded).routes).toEqual([a.cluster]);
    await waitFor(async () => (await routedIds(b)).includes(aId), {
      timeoutMs: 15_000,
      what: 'b to route to a',
    });
    expect(b.sup.pid).toBe(pid);
    expect(b.pids).toHaveLength(1);

    expect(await b.sup.setRoutes([{ ...a.cluster }])).toBe(false);

    expect(await b.sup.setRoutes([])).toBe(true);
    await waitFor(async () => !(await routedIds(b)).includes(aId), {
      timeoutMs: 15_000,
      what: 'the route to a to go',
    });
    expect(b.sup.pid).toBe(pid);
  });

  test('routes set before start() are in the first config', async () => {
    const secret = newSecret();
    const a = await h.started('127.0.1.4', secret);
    const b = await h.node('127.0.1.5', secret);
    expect(await b.sup.setRoutes([a.cluster, b.cluster])).toBe(true);
    expect(b.sup.routes).toEqual([a.cluster]);
    await b.sup.start();
    const aId = await serverId(a);
    await waitFor(async () => (await routedIds(b)).includes(aId), {
      timeoutMs: 15_000,
      what: 'b to route to a',
    });
  });

  test('routes set while the server is starting reach it', async () => {
    const secret = newSecret();
    const a = await h.started('127.0.1.4', secret);
    const b = await h.node('127.0.1.5', secret);
    const starting = b.sup.start();
    // the first config is on disk: the server is being spawned with no routes
    await waitFor(() => existsSync(b.sup.confPath), {
      timeoutMs: 10_000,
      intervalMs: 1,
      what: 'the first config',
    });
    expect(b.sup.state).toBe('starting');
    expect(await b.sup.setRoutes([a.cluster])).toBe(true);
    await starting;
    const aId = await serverId(a);
    await waitFor(async () => (await routedIds(b)).includes(aId), {
      timeoutMs: 15_000,
      what: 'b to route to a',
    });
    expect(b.pids).toHaveLength(1);
  });
});

describe('when the node process dies', () => {
  const fixture = fileURLToPath(new URL('./fixtures/superviseInChild.ts', import.meta.url));

  async function nodeProcess(opts: object): Promise<{
    pid: number;
    natsPid: number;
    send: (line: string) => void;
    exited: Promise<unknown>;
  }> {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, JSON.stringify(opts)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    h.trackPid(child.pid as number);
    const exited = new Promise((r) => child.once('exit', r));
    const lines = createInterface({ input: child.stdout });
    const natsPid = await waitFor(
      () =>
        new Promise<number | undefined>((resolve) => {
          lines.once('line', (l) =>
            resolve(
              /^READY (\d+)$/.exec(l)?.[1] ? Number(/^READY (\d+)$/.exec(l)?.[1]) : undefined,
            ),
          );
          child.once('exit', () => resolve(undefined));
        }),
      { timeoutMs: 20_000, what: 'the node process to start nats-server' },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; its stderr: ${stderr}`);
    });
    h.trackPid(natsPid);
    return { pid: child.pid as number, natsPid, send: (l) => child.stdin.write(`${l}\n`), exited };
  }

  async function optionsForChild(): Promise<object> {
    const { logger: _logger, ...o } = await h.options('127.0.1.6', newSecret());
    return o;
  }

  test.each(['exit', 'throw'])('its nats-server dies with it on %s without stop()', async (how) => {
    const node = await nodeProcess(await optionsForChild());
    expect(isAlive(node.natsPid)).toBe(true);
    node.send(how);
    await node.exited;
    await waitFor(() => !isAlive(node.natsPid), {
      timeoutMs: 5_000,
      what: 'nats-server to be gone',
    });
  });

  test('a nats-server orphaned by a kill -9ed node is ended by the next start', async () => {
    const opts = await optionsForChild();
    const node = await nodeProcess(opts);
    signal(node.pid, 'SIGKILL');
    await node.exited;
    // the documented limit: nothing kills the child of a kill -9ed parent...
    expect(isAlive(node.natsPid)).toBe(true);
    // ...so the next start does, then binds the same ports
    const sup = new NatsSupervisor({
      ...(opts as ConstructorParameters<typeof NatsSupervisor>[0]),
      logger: testLogger,
    });
    try {
      await sup.start();
      expect(sup.pid).not.toBe(node.natsPid);
      await waitFor(() => !isAlive(node.natsPid), {
        timeoutMs: 5_000,
        what: 'the orphan to be gone',
      });
      expect(await pidsWithArg(sup.confPath)).toEqual([sup.pid]);
    } finally {
      await sup.stop();
    }
  });
});
