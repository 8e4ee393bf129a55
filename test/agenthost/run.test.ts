import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { agentHostService, runAnywhere, type RemoteRunEvent } from '../../node/agenthost/index.js';
import { AgentHostService, RpcClients, RpcServer } from '../../node/rpc/index.js';
import type { PeerView } from '../../node/types.js';
import type { PeerSpec } from '../placement/peers.js';
import {
  ScriptedExecutor,
  collect,
  hanging,
  hostPeer,
  manifest,
  meshSecret,
  quick,
  type Script,
} from './helpers.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

const FIXTURE = path.resolve('test/agenthost/fixtures/host.ts');

const lights = manifest();
const door = manifest({
  name: 'door',
  tier: 'cold',
  idempotent: false,
  intents: [{ name: 'open' }],
});

describe('runAnywhere', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  const secret = meshSecret();

  function clients(): RpcClients {
    const c = new RpcClients({ nodeId: 'id-pi', secret });
    cleanups.push(() => c.close());
    return c;
  }

  /** A host in this process, on 127.0.5.<n>. */
  async function host(
    name: string,
    n: number,
    script: Script,
    spec: Partial<PeerSpec> = {},
    manifests = [lights, door],
  ) {
    const executor = new ScriptedExecutor(manifests, script);
    const address = `127.0.5.${n}`;
    const server = new RpcServer({
      addresses: [address],
      port: await freePort(),
      secret,
      shutdownTimeoutMs: 200,
    });
    server.addService(
      AgentHostService,
      agentHostService({ executor, self: { id: `id-${name}`, name } }),
    );
    await server.start();
    cleanups.push(() => server.stop());
    return { executor, server, peer: hostPeer({ name, address, port: server.port, ...spec }) };
  }

  /** A host in a child process that hangs in every run until killed. */
  async function childHost(name: string, n: number, spec: Partial<PeerSpec> = {}) {
    const address = `127.0.5.${n}`;
    const port = await freePort();
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
      env: {
        ...process.env,
        HOST_ADDRESS: address,
        HOST_PORT: String(port),
        MESH_SECRET: secret.toString('hex'),
        HOST_NAME: name,
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    await waitFor(() => out.includes('listening'), {
      timeoutMs: 20_000,
      what: `${name} to listen`,
    });
    return {
      peer: hostPeer({ name, address, port, ...spec }),
      started: () => out.includes('started'),
      kill: async () => {
        child.kill('SIGKILL');
        await once(child, 'exit');
      },
    };
  }

  function self(): PeerView {
    return hostPeer({
      name: 'pi',
      id: 'id-pi',
      self: true,
      docker: false,
      address: '127.0.5.99',
      port: 1,
    });
  }

  const summary = (events: RemoteRunEvent[]) =>
    events.map((e) =>
      e.type === 'placed' || e.type === 'host_lost'
        ? `${e.type}:${e.node}`
        : e.type === 'accepted'
          ? `accepted:${e.hostName}`
          : e.type,
    );

  /** runAnywhere over this view with fresh clients: lights on in the kitchen unless overridden. */
  const run = (
    view: PeerView[] | (() => PeerView[]),
    opts: Partial<Omit<Parameters<typeof runAnywhere>[0], 'view' | 'clients'>> = {},
  ) =>
    collect(
      runAnywhere({
        view: typeof view === 'function' ? view : () => view,
        clients: clients(),
        manifest: lights,
        intent: 'on',
        args: { room: 'kitchen' },
        traceId: 't',
        ...opts,
      }),
    );

  it('runs a warm agent on the peer with an idle warm container and streams its events', async () => {
    const laptop = await host('laptop', 1, quick('laptop'));
    const desk = await host('desk', 2, quick('desk', 'kitchen lights on'), {
      warm: { lights: 1 },
      running: 2,
    });
    const view = [self(), laptop.peer, desk.peer];
    const events = await run(view, {
      traceId: 'tr-1',
    });
    expect(summary(events)).toEqual(['placed:desk', 'accepted:desk', 'progress', 'result']);
    expect(events[0]).toMatchObject({
      warm: true,
      attempt: 1,
      reason: expect.stringMatching(/idle warm lights/),
    });
    expect(events[2]).toEqual({ type: 'progress', message: 'working', percent: 50 });
    expect(events[3]).toEqual({
      type: 'result',
      text: 'kitchen lights on (desk)',
      data: { host: 'desk' },
      hostName: 'desk',
    });
    expect(desk.executor.runs[0]!.request).toMatchObject({
      traceId: 'tr-1',
      callerNode: 'id-pi',
      args: { room: 'kitchen' },
    });
    expect(laptop.executor.runs).toHaveLength(0);
  });

  it('--on sends the run to the named node', async () => {
    const laptop = await host('laptop', 1, quick('laptop'), { running: 5 });
    const desk = await host('desk', 2, quick('desk'), { warm: { lights: 1 } });
    const view = [self(), laptop.peer, desk.peer];
    const events = await run(view, {
      args: { room: 'hall' },
      onNode: 'laptop',
    });
    expect(summary(events)).toEqual(['placed:laptop', 'accepted:laptop', 'progress', 'result']);
    expect(desk.executor.runs).toHaveLength(0);
  });

  it('places an idempotent run again, once, when its host is killed mid-run', async () => {
    const desk = await childHost('desk', 3, { warm: { lights: 1 } });
    const laptop = await host('laptop', 4, quick('laptop', 'kitchen lights on'));
    const view = [self(), desk.peer, laptop.peer];
    const pending = run(view, {
      traceId: 'tr-2',
    });
    await waitFor(desk.started, { timeoutMs: 10_000, what: 'the run to start on desk' });
    await desk.kill();
    const events = await pending;
    expect(summary(events)).toEqual([
      'placed:desk',
      'accepted:desk',
      'host_lost:desk',
      'placed:laptop',
      'accepted:laptop',
      'progress',
      'result',
    ]);
    expect(events[2]).toMatchObject({
      type: 'host_lost',
      retrying: true,
      reason: expect.stringMatching(/connection to desk broke/),
    });
    expect(events[3]).toMatchObject({ type: 'placed', attempt: 2 });
    expect(events.at(-1)).toMatchObject({
      type: 'result',
      text: 'kitchen lights on (laptop)',
      hostName: 'laptop',
    });
    expect(laptop.executor.runs[0]!.request.traceId).toBe('tr-2');
  });

  it('ends a non-idempotent run whose host is killed mid-run with an error naming the lost node, and does not run it again', async () => {
    const desk = await childHost('desk', 5);
    const laptop = await host('laptop', 6, quick('laptop'), { running: 3 });
    const view = [self(), desk.peer, laptop.peer];
    const pending = run(view, {
      manifest: door,
      intent: 'open',
      args: {},
    });
    await waitFor(desk.started, { timeoutMs: 10_000, what: 'the run to start on desk' });
    await desk.kill();
    const events = await pending;
    expect(summary(events)).toEqual(['placed:desk', 'accepted:desk', 'host_lost:desk', 'error']);
    expect(events.at(-1)).toMatchObject({
      type: 'error',
      code: 'host_lost',
      node: 'desk',
      retryable: false,
      message: expect.stringMatching(
        /lost desk while it ran door\.open .*door is not idempotent, so it was not run again/,
      ),
    });
    expect(laptop.executor.runs).toHaveLength(0);
  });

  it('moves an idempotent run when membership declares its host dead mid-run', async () => {
    let started = false;
    const desk = await host(
      'desk',
      7,
      hanging(() => (started = true)),
      { warm: { lights: 1 } },
    );
    const laptop = await host('laptop', 8, quick('laptop'));
    let view = [self(), desk.peer, laptop.peer];
    const pending = run(() => view, {
      args: { room: 'hall' },
      watchIntervalMs: 50,
    });
    await waitFor(() => started, { timeoutMs: 5000, what: 'the run to start on desk' });
    view = [self(), { ...desk.peer, state: 'dead' }, laptop.peer];
    const events = await pending;
    expect(summary(events)).toEqual([
      'placed:desk',
      'accepted:desk',
      'host_lost:desk',
      'placed:laptop',
      'accepted:laptop',
      'progress',
      'result',
    ]);
    expect(events[2]).toMatchObject({ reason: 'the mesh reports desk dead', retrying: true });
    // the abandoned call was cancelled, so the (still running) host stopped the run
    await waitFor(() => desk.executor.runs[0]!.aborted, {
      timeoutMs: 5000,
      what: 'desk to stop the abandoned run',
    });
  });

  it('moves an idempotent run as soon as its host is suspect, before it is dead', async () => {
    let started = false;
    const desk = await host(
      'desk',
      12,
      hanging(() => (started = true)),
      { warm: { lights: 1 } },
    );
    const laptop = await host('laptop', 13, quick('laptop'));
    let view = [self(), desk.peer, laptop.peer];
    const pending = run(() => view, { args: { room: 'hall' }, watchIntervalMs: 50 });
    await waitFor(() => started, { timeoutMs: 5000, what: 'the run to start on desk' });
    view = [self(), { ...desk.peer, state: 'suspect' }, laptop.peer];
    const events = await pending;
    // desk never went dead: the move happened on suspect alone
    expect(view.find((p) => p.name === 'desk')?.state).toBe('suspect');
    expect(summary(events).filter((e) => e !== 'accepted:desk')).toEqual([
      'placed:desk',
      'host_lost:desk',
      'placed:laptop',
      'accepted:laptop',
      'progress',
      'result',
    ]);
    expect(events[2]).toMatchObject({ reason: 'the mesh reports desk suspect', retrying: true });
    await waitFor(() => desk.executor.runs[0]!.aborted, {
      timeoutMs: 5000,
      what: 'desk to stop the abandoned run',
    });
  });

  it('keeps a non-idempotent run on a suspect host (it may come back)', async () => {
    let started = false;
    const desk = await host(
      'desk',
      14,
      hanging(() => (started = true)),
      { running: 0 },
    );
    const laptop = await host('laptop', 15, quick('laptop', 'door open'), { running: 3 });
    let view = [self(), desk.peer, laptop.peer];
    const pending = run(() => view, {
      manifest: door,
      intent: 'open',
      args: {},
      watchIntervalMs: 50,
    });
    await waitFor(() => started, { timeoutMs: 5000, what: 'the run to start on desk' });
    view = [self(), { ...desk.peer, state: 'suspect' }, laptop.peer];
    await new Promise((r) => setTimeout(r, 300));
    expect(desk.executor.runs[0]!.aborted).toBe(false);
    view = [self(), { ...desk.peer, state: 'dead' }, laptop.peer];
    const events = await pending;
    expect(summary(events).filter((e) => e !== 'accepted:desk')).toEqual([
      'placed:desk',
      'host_lost:desk',
      'error',
    ]);
    expect(laptop.executor.runs).toHaveLength(0);
  });

  it('moves even a non-idempotent run off a host it never reached', async () => {
    const port = await freePort(); // nothing listens here
    const gone = hostPeer({ name: 'desk', address: '127.0.5.9', port });
    const laptop = await host('laptop', 10, quick('laptop', 'door open'), { running: 2 });
    const view = [self(), gone, laptop.peer];
    const events = await run(view, {
      manifest: door,
      intent: 'open',
      args: {},
    });
    expect(summary(events)).toEqual([
      'placed:desk',
      'placed:laptop',
      'accepted:laptop',
      'progress',
      'result',
    ]);
    expect(events.at(-1)).toMatchObject({ text: 'door open (laptop)' });
  });

  it('moves a run off a host that does not know the agent', async () => {
    const desk = await host('desk', 11, quick('desk'), {}, [lights]);
    const laptop = await host('laptop', 12, quick('laptop'), { running: 2 });
    const view = [self(), desk.peer, laptop.peer];
    const events = await run(view, {
      manifest: door,
      intent: 'open',
      args: {},
    });
    expect(summary(events)).toEqual([
      'placed:desk',
      'placed:laptop',
      'accepted:laptop',
      'progress',
      'result',
    ]);
    expect(desk.executor.runs).toHaveLength(0);
  });

  it('moves a run at most once and then says what happened on both hosts', async () => {
    const a = hostPeer({ name: 'desk', address: '127.0.5.13', port: await freePort() });
    const b = hostPeer({
      name: 'laptop',
      address: '127.0.5.14',
      port: await freePort(),
      running: 1,
    });
    const nas = await host('nas', 15, quick('nas'), { running: 2 });
    const view = [self(), a, b, nas.peer];
    const events = await run(view, {
      args: { room: 'x' },
    });
    expect(summary(events)).toEqual(['placed:desk', 'placed:laptop', 'error']);
    expect(events.at(-1)).toMatchObject({
      type: 'error',
      code: 'unavailable',
      node: 'laptop',
      message: expect.stringMatching(/desk is unreachable.*then laptop is unreachable/),
    });
    expect(nas.executor.runs).toHaveLength(0);
  });

  it('says why when no node can host the run', async () => {
    const view = [self(), hostPeer({ name: 'tv', docker: false, address: '127.0.5.16', port: 1 })];
    const events = await run(view, {
      args: {},
    });
    expect(events).toEqual([
      {
        type: 'error',
        code: 'no_host',
        retryable: false,
        message: expect.stringMatching(/no node in the mesh runs Docker/),
        node: undefined,
      },
    ]);
  });

  it('cancelling stops the run on its host and ends the stream with a cancelled error', async () => {
    let started = false;
    const desk = await host(
      'desk',
      17,
      hanging(() => (started = true)),
    );
    const view = [self(), desk.peer];
    const cancel = new AbortController();
    const pending = run(view, {
      args: { room: 'kitchen' },
      signal: cancel.signal,
    });
    await waitFor(() => started, { timeoutMs: 5000, what: 'the run to start' });
    cancel.abort();
    const events = await pending;
    expect(summary(events)).toEqual(['placed:desk', 'accepted:desk', 'error']);
    expect(events.at(-1)).toMatchObject({ code: 'cancelled' });
    await waitFor(() => desk.executor.runs[0]!.aborted, {
      timeoutMs: 5000,
      what: 'desk to stop the run',
    });
  });
});
