/**
 * A run pinned with `--on NODE` stays on that node: when the node cannot start it, or is lost
 * mid-run, the caller gets the node's reason (naming it), never a quiet move to another node.
 * Real gRPC servers on loopback with scripted executors; the mesh tests cover real daemons.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  agentHostService,
  runAnywhere,
  type ImageProvisioner,
  type RemoteRunEvent,
} from '../../node/agenthost/index.js';
import { AgentHostService, RpcClients, RpcServer } from '../../node/rpc/index.js';
import {
  ScriptedExecutor,
  collect,
  hanging,
  hostPeer,
  manifest,
  meshSecret,
  quick,
  type Script,
} from '../agenthost/helpers.js';
import { waitFor } from '../support/wait.js';

const sleeper = manifest({ name: 'sleeper', tier: 'cold', intents: [{ name: 'sleep' }] });

describe('runs pinned with --on', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const secret = meshSecret();

  async function host(name: string, address: string, script: Script, images?: ImageProvisioner) {
    const executor = new ScriptedExecutor([sleeper], script);
    const server = new RpcServer({ addresses: [address], port: 0, secret, shutdownTimeoutMs: 100 });
    server.addService(
      AgentHostService,
      agentHostService({ executor, images, self: { id: `id-${name}`, name } }),
    );
    await server.start();
    cleanups.push(() => server.stop());
    return { executor, server, peer: hostPeer({ name, address, port: server.port }) };
  }

  function clients(): RpcClients {
    const c = new RpcClients({ nodeId: 'id-pi', secret });
    cleanups.push(() => c.close());
    return c;
  }

  const pi = hostPeer({ name: 'pi', self: true, docker: false, address: '127.0.88.99', port: 1 });
  const summary = (events: RemoteRunEvent[]) =>
    events.map((e) => ('node' in e && e.node ? `${e.type}:${e.node}` : e.type));

  it('ends with the pinned node’s reason when it cannot get the image, instead of moving', async () => {
    const noImage: ImageProvisioner = {
      has: async () => false,
      ensure: async () => {
        throw new Error('this node lacks the image and has no Go');
      },
    };
    const laptop = await host('laptop', '127.0.88.1', quick('laptop'), noImage);
    const desk = await host('desk', '127.0.88.2', quick('desk'));
    const events = await collect(
      runAnywhere({
        view: () => [pi, laptop.peer, desk.peer],
        clients: clients(),
        manifest: sleeper,
        intent: 'sleep',
        args: {},
        traceId: 't-pinned-image',
        onNode: 'laptop',
      }),
    );
    expect(summary(events)).toEqual(['placed:laptop', 'accepted', 'error:laptop']);
    expect(events.at(-1)).toMatchObject({ code: 'image_missing' });
    const message = (events.at(-1) as { message: string }).message;
    expect(message).toMatch(/^laptop could not run sleeper\.sleep \(.*has no Go\)$/);
    expect(desk.executor.runs).toHaveLength(0);
  });

  it('ends an idempotent run with host_lost naming the pinned node when it is lost mid-run', async () => {
    let started = false;
    const laptop = await host(
      'laptop',
      '127.0.88.3',
      hanging(() => (started = true)),
    );
    const desk = await host('desk', '127.0.88.4', quick('desk'));
    const run = collect(
      runAnywhere({
        view: () => [pi, laptop.peer, desk.peer],
        clients: clients(),
        manifest: sleeper,
        intent: 'sleep',
        args: {},
        traceId: 't-pinned-lost',
        onNode: 'laptop',
      }),
    );
    await waitFor(() => started, { timeoutMs: 10_000, what: 'the run to start on laptop' });
    // The server cancels the call in flight after its 100 ms shutdown grace: the host is gone.
    await laptop.server.stop();
    const events = await run;
    expect(summary(events)).toEqual([
      'placed:laptop',
      'accepted',
      'host_lost:laptop',
      'error:laptop',
    ]);
    expect(events.at(-1)).toMatchObject({ code: 'host_lost' });
    expect((events.at(-1) as { message: string }).message).toMatch(
      /^lost laptop while it ran sleeper\.sleep .*pinned there with --on/,
    );
    expect(desk.executor.runs).toHaveLength(0);
  });
});
