/**
 * A node without Docker (a Raspberry Pi in the kitchen): the agent services start all the same,
 * run nothing themselves, and say why when asked to build or run here.
 */
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RemoteRunEvent } from '../../node/agenthost/index.js';
import type { AgentList } from '../../node/agenthost/index.js';
import { controlCall, controlEvents, RemoteError } from '../../node/control/index.js';
import { collect, startTestNode, type TestNode } from './service-helpers.js';
import { freePort } from '../support/ports.js';

describe('agent services on a node without Docker', () => {
  let node: TestNode;

  beforeAll(async () => {
    node = await startTestNode({
      docker: new Docker({ socketPath: '/nonexistent/helix-test/docker.sock' }),
      agents: ['echo', 'shout'],
      address: '127.0.7.6',
      port: await freePort(),
      name: 'pi-kitchen',
      capabilities: { docker: null },
    });
    await node.svc.ready();
  });

  afterAll(async () => {
    await node?.stop();
  });

  it('advertises no warm pool and no images', () => {
    expect(node.svc.advert()).toEqual({ warmPool: [], images: [], runningAgents: 0 });
  });

  it('lists its agents and says it runs none itself', async () => {
    const list = await controlCall<AgentList>(node.stateDir, '/v1/agents');
    expect(list.docker).toBe(false);
    expect(list.agents.map((a) => [a.name, a.image.held, a.warm])).toEqual([
      ['echo', false, null],
      ['shout', false, null],
    ]);
  });

  it('refuses to build with the fix for a missing Docker engine (exit 69)', async () => {
    const err = await collect(
      controlEvents(node.stateDir, '/v1/agents/build', { method: 'POST', body: {} }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).exitCode).toBe(69);
    expect((err as RemoteError).message).toMatch(/Docker engine .* is not available; start it/);
  });

  it('ends a run with no_host when no node of the mesh has Docker', async () => {
    const events = await collect(
      controlEvents<RemoteRunEvent>(node.stateDir, '/v1/run', {
        method: 'POST',
        body: { agent: 'echo', intent: 'echo', args: { text: 'hi' } },
      }),
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'error', code: 'no_host' });
    expect((events[0] as { message: string }).message).toMatch(/Docker/);
  });
});
