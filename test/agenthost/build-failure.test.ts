/**
 * An agent whose main.go does not compile: the run ends with build_failed and the compiler's
 * message, on the node that tried, and is not placed elsewhere (it was once reported as
 * "no Docker node is available … (desk lost during this run)"). Real `go build`; the engine is
 * a stand-in that holds no image.
 */
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  agentHostService,
  ImageUnavailableError,
  PeerImageProvisioner,
  type ImageProvisioner,
  runAnywhere,
  type RemoteRunEvent,
} from '../../node/agenthost/index.js';
import { buildImage, loadAgent, type AgentRuntime } from '../../node/agents/index.js';
import { AgentHostService, RpcClients, RpcServer } from '../../node/rpc/index.js';
import type { PeerView } from '../../node/types.js';
import { freePort } from '../support/ports.js';
import { collect, hostPeer, manifest, meshSecret, quick, ScriptedExecutor } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An engine that holds nothing and would build anything: only `go build` can fail. */
const engine = {
  engine: 'Fake',
  check: async () => {},
  platform: async () => 'linux/amd64',
  inspectImage: async () => null,
  build: async () => {},
  has: async () => false,
} as unknown as AgentRuntime;

describe('an agent whose source does not compile', () => {
  it('ends with build_failed and the compiler message, not placed elsewhere', async () => {
    const parent = await mkdtemp(path.join(os.tmpdir(), 'helix-broken-agent-'));
    cleanups.push(() => rm(parent, { recursive: true, force: true }));
    const dir = path.join(parent, 'echo');
    await mkdir(dir);
    await cp(path.resolve('agents/echo/agent.toml'), path.join(dir, 'agent.toml'));
    await writeFile(path.join(dir, 'main.go'), 'package main\n\nfunc main() {\n\tx := \n}\n');
    const broken = await loadAgent(dir);
    const secret = meshSecret();

    const hosts: Array<{ executor: ScriptedExecutor; peer: PeerView }> = [];
    for (const [name, n] of [
      ['desk', 1],
      ['laptop', 2],
    ] as const) {
      const executor = new ScriptedExecutor([broken.manifest], quick(name), broken.hash);
      const address = `127.0.5.${40 + n}`;
      const view = () => [];
      const images = new PeerImageProvisioner({
        engine,
        platform: async () => 'linux/amd64',
        view,
        clients: new RpcClients({ nodeId: `id-${name}`, secret }),
        build: (_agent, o) =>
          buildImage(broken, { runtime: engine, ...o }).then(() => ({ buildMs: 1 })),
      });
      const server = new RpcServer({
        addresses: [address],
        port: await freePort(),
        secret,
        shutdownTimeoutMs: 200,
      });
      server.addService(
        AgentHostService,
        agentHostService({ executor, self: { id: `id-${name}`, name }, images }),
      );
      await server.start();
      cleanups.push(() => server.stop());
      hosts.push({ executor, peer: hostPeer({ name, address, port: server.port, running: n }) });
    }
    const clients = new RpcClients({ nodeId: 'id-pi', secret });
    cleanups.push(() => clients.close());
    const self = hostPeer({
      name: 'pi',
      id: 'id-pi',
      self: true,
      docker: false,
      address: '127.0.5.99',
      port: 1,
    });
    const events: RemoteRunEvent[] = await collect(
      runAnywhere({
        view: () => [self, ...hosts.map((h) => h.peer)],
        clients,
        manifest: broken.manifest,
        intent: 'echo',
        args: { text: 'hi' },
        traceId: 't-broken',
        imageHash: broken.hash,
      }),
    );
    const final = events.at(-1)!;
    expect(final, JSON.stringify(events)).toMatchObject({
      type: 'error',
      code: 'build_failed',
      retryable: false,
      node: 'desk',
    });
    const message = (final as { message: string }).message;
    expect(message).toMatch(
      /building agent echo failed: go build: .*main\.go:\d+:\d+: syntax error/s,
    );
    expect(message).not.toMatch(/lost|no Docker node/);
    expect(events.filter((e) => e.type === 'placed')).toHaveLength(1);
    expect(events.some((e) => e.type === 'host_lost')).toBe(false);
    for (const h of hosts) expect(h.executor.runs).toHaveLength(0);
  }, 60_000);

  it('a host that cannot get an image, alone in the mesh: image_missing with why, not "lost"', async () => {
    const secret = meshSecret();
    const m = manifest({ name: 'lights', tier: 'cold' });
    const executor = new ScriptedExecutor([m], quick('desk'));
    const images: ImageProvisioner = {
      has: async () => false,
      ensure: async () => {
        throw new ImageUnavailableError('no alive peer offers it, and it has no Go toolchain');
      },
    };
    const server = new RpcServer({
      addresses: ['127.0.5.43'],
      port: await freePort(),
      secret,
      shutdownTimeoutMs: 200,
    });
    server.addService(
      AgentHostService,
      agentHostService({ executor, self: { id: 'id-desk', name: 'desk' }, images }),
    );
    await server.start();
    cleanups.push(() => server.stop());
    const clients = new RpcClients({ nodeId: 'id-pi', secret });
    cleanups.push(() => clients.close());
    const desk = hostPeer({ name: 'desk', address: '127.0.5.43', port: server.port });
    const events: RemoteRunEvent[] = await collect(
      runAnywhere({
        view: () => [desk],
        clients,
        manifest: m,
        intent: 'on',
        args: { room: 'kitchen' },
        traceId: 't-missing',
      }),
    );
    const final = events.at(-1)!;
    expect(final, JSON.stringify(events)).toMatchObject({ type: 'error', code: 'image_missing' });
    const message = (final as { message: string }).message;
    expect(message).toMatch(/^desk could not run lights\.on \(.*no Go toolchain\)/);
    expect(message).toMatch(/desk already tried in this run/);
    expect(message).not.toMatch(/lost/);
  });
});
