/**
 * startAgentServices on a real Docker engine behind a real RpcServer and control socket: the warm
 * pool in the advert, runs through the control route (warm echo, cold shout, mesh.status and
 * notify from real agents), agents list/inspect/build/rm, and clear refusals.
 */
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RemoteRunEvent } from '../../node/agenthost/index.js';
import type {
  AgentDetail,
  AgentList,
  BuildEvent,
  Notification,
  RemoveResult,
} from '../../node/agenthost/index.js';
import { controlCall, controlEvents, RemoteError } from '../../node/control/index.js';
import {
  ensureDockerEngine,
  removeContainers,
  removeImages,
  removeNetworks,
} from '../support/docker.js';
import {
  CONTAINER_PREFIX,
  EGRESS_NETWORK,
  IMAGE_PREFIX,
  collect,
  startTestNode,
  type TestNode,
} from './service-helpers.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

describe('agent services on a real Docker engine', () => {
  let docker: Docker;
  let node: TestNode;
  const notes: Notification[] = [];

  beforeAll(async () => {
    docker = await ensureDockerEngine();
    await removeContainers(docker, CONTAINER_PREFIX);
    node = await startTestNode({
      docker,
      agents: ['echo', 'mesh', 'timer', 'shout', 'nap'],
      address: '127.0.7.1',
      port: await freePort(),
      name: 'desk',
    });
    node.svc.onNotify((n) => notes.push(n));
    await node.svc.ready();
  }, 240_000);

  afterAll(async () => {
    await node?.stop();
    if (docker) {
      await removeContainers(docker, CONTAINER_PREFIX);
      await removeImages(docker, IMAGE_PREFIX);
      await removeNetworks(docker, EGRESS_NETWORK);
    }
  }, 60_000);

  const run = (body: Record<string, unknown>) =>
    collect(controlEvents<RemoteRunEvent>(node.stateDir, '/v1/run', { method: 'POST', body }));

  it('puts every warm agent in the pool and says so in the advert', () => {
    const advert = node.svc.advert();
    const pool = Object.fromEntries(advert.warmPool.map((e) => [e.agent, e]));
    expect(Object.keys(pool).sort()).toEqual(['echo', 'mesh', 'timer']);
    for (const e of advert.warmPool) {
      expect(e.idle).toBe(1);
      expect(e.image.startsWith(`${IMAGE_PREFIX}${e.agent}:`)).toBe(true);
    }
    // Built here, held, but not offered to peers before one successful run.
    const echo = advert.images.find((i) => i.agent === 'echo');
    expect(echo).toMatchObject({ shareable: false });
    expect(echo!.sizeBytes).toBeGreaterThan(0);
    expect(advert.runningAgents).toBe(0);
  });

  it('streams placed, accepted and the result of a warm echo run through the control route', async () => {
    const events = await run({ agent: 'echo', intent: 'echo', args: { text: 'hello mesh' } });
    expect(events.map((e) => e.type)).toEqual(['placed', 'accepted', 'progress', 'result']);
    expect(events[0]).toMatchObject({ type: 'placed', node: 'desk', warm: true });
    expect(events[1]).toMatchObject({ type: 'accepted', hostName: 'desk', warm: true });
    const result = events[3] as Extract<RemoteRunEvent, { type: 'result' }>;
    expect(result.text).toBe('hello mesh');
    expect(result.hostName).toBe('desk');
    // A success makes the image shareable.
    await waitFor(() => node.svc.advert().images.some((i) => i.agent === 'echo' && i.shareable), {
      timeoutMs: 5000,
      what: 'echo shareable',
    });
  });

  it('runs a cold agent in a container of its own and removes it afterwards', async () => {
    const events = await run({ agent: 'shout', intent: 'say', args: { text: 'tea is ready' } });
    expect(events.at(-1)).toMatchObject({ type: 'result', text: 'TEA IS READY' });
    expect(events.find((e) => e.type === 'accepted')).toMatchObject({ warm: false });
    await waitFor(
      async () =>
        !(await docker.listContainers({ all: true })).some((c) =>
          c.Names.some((n) => n.includes(`${CONTAINER_PREFIX}shout-cold`)),
        ),
      { timeoutMs: 15_000, what: 'the cold container to go' },
    );
  });

  it('answers mesh.status from the view: the mesh agent names this node and its warm agents', async () => {
    const online = await run({ agent: 'mesh', intent: 'online' });
    expect(online.at(-1)).toMatchObject({ type: 'result', text: 'One device is online: desk.' });
    const running = await run({ agent: 'mesh', intent: 'running' });
    const text = (running.at(-1) as { text: string }).text;
    expect(text).toMatch(/^On desk, /);
    expect(text).toMatch(/echo/);
    expect(text).toMatch(/timer/);
  });

  it("delivers a timer agent's notify to the node that asked", async () => {
    const events = await run({
      agent: 'timer',
      intent: 'set',
      args: { seconds: '1', label: 'tea' },
    });
    expect(events.at(-1)?.type).toBe('result');
    await waitFor(() => notes.length > 0, { timeoutMs: 10_000, what: 'the timer notification' });
    expect(notes[0]).toMatchObject({ agent: 'timer', from: 'desk' });
    expect(notes[0]!.text).toMatch(/tea/i);
  });

  it('stops the container when the client goes away mid-run (Ctrl-C on helix-node run)', async () => {
    const abort = new AbortController();
    const seen: RemoteRunEvent[] = [];
    const napping = async () =>
      (await docker.listContainers({ all: true })).some((c) =>
        c.Names.some((n) => n.includes(`${CONTAINER_PREFIX}nap-cold`)),
      );
    let wasNapping = false;
    await (async () => {
      for await (const ev of controlEvents<RemoteRunEvent>(node.stateDir, '/v1/run', {
        method: 'POST',
        body: { agent: 'nap', intent: 'nap', args: { seconds: 60 } },
        signal: abort.signal,
      })) {
        seen.push(ev);
        if (ev.type === 'progress' && ev.message === 'napping') {
          wasNapping = await napping();
          abort.abort();
        }
      }
    })().catch(() => undefined);
    expect(wasNapping).toBe(true);
    expect(seen.at(-1)).toMatchObject({ type: 'progress', message: 'napping' });
    expect(seen.some((e) => e.type === 'result' || e.type === 'error')).toBe(false);
    await waitFor(async () => !(await napping()), {
      timeoutMs: 15_000,
      what: 'the nap container to be removed',
    });
    await waitFor(() => node.svc.advert().runningAgents === 0, {
      timeoutMs: 5000,
      what: 'no runs left',
    });
  }, 120_000);

  it('refuses an unknown agent with the agents it has (exit 64), before running anything', async () => {
    const err = await run({ agent: 'kettle', intent: 'boil' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).exitCode).toBe(64);
    expect((err as RemoteError).message).toMatch(
      /no agent "kettle".*echo, mesh, nap, shout, timer/,
    );
  });

  it('refuses an unknown intent and bad arguments with what is allowed', async () => {
    const intent = await run({ agent: 'echo', intent: 'shout' }).catch((e: unknown) => e);
    expect((intent as RemoteError).message).toMatch(/echo has no intent "shout"; it serves: echo/);
    const args = await run({ agent: 'echo', intent: 'echo', args: { colour: 'red' } }).catch(
      (e: unknown) => e,
    );
    expect((args as RemoteError).exitCode).toBe(64);
    expect((args as RemoteError).message).toMatch(/unknown argument "colour".*"text" is required/);
  });

  it('ends with no_host and the reason when --on names a node that is not in the mesh', async () => {
    const events = await run({
      agent: 'echo',
      intent: 'echo',
      args: { text: 'x' },
      onNode: 'attic',
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'error', code: 'no_host' });
    expect((events[0] as { message: string }).message).toMatch(/attic/);
  });

  it('lists agents with tier, intents, image size, held and warm containers', async () => {
    const list = await controlCall<AgentList>(node.stateDir, '/v1/agents');
    expect(list.docker).toBe(true);
    expect(list.agents.map((a) => a.name)).toEqual(['echo', 'mesh', 'nap', 'shout', 'timer']);
    const echo = list.agents.find((a) => a.name === 'echo')!;
    expect(echo).toMatchObject({ tier: 'warm', intents: ['echo'], warm: { idle: 1, busy: 0 } });
    expect(echo.image).toMatchObject({ held: true, shareable: true });
    expect(echo.image.sizeBytes).toBeGreaterThan(100_000);
    expect(echo.image.sizeBytes).toBeLessThan(10_000_000);
    expect(list.agents.find((a) => a.name === 'shout')).toMatchObject({ tier: 'cold', warm: null });
  });

  it('inspects one agent with its manifest and refuses an unknown one', async () => {
    const detail = await controlCall<AgentDetail>(node.stateDir, '/v1/agents/inspect?name=timer');
    expect(detail.manifest.intents.map((i) => i.name)).toEqual(['set', 'cancel', 'list', 'add']);
    expect(detail.manifest.calls).toEqual(['notify']);
    const err = await controlCall(node.stateDir, '/v1/agents/inspect?name=nope').catch(
      (e: unknown) => e,
    );
    expect((err as RemoteError).exitCode).toBe(64);
  });

  it('build streams progress and does nothing for an image that is up to date', async () => {
    const events = await collect(
      controlEvents<BuildEvent>(node.stateDir, '/v1/agents/build', {
        method: 'POST',
        body: { name: 'echo' },
      }),
    );
    expect(events.some((e) => e.type === 'progress' && /up to date/.test(e.message))).toBe(true);
    expect(events.find((e) => e.type === 'built')).toMatchObject({
      agent: 'echo',
      built: false,
      overLimit: false,
    });
    expect(events.at(-1)).toEqual({ type: 'done', built: 0, upToDate: 1, failed: 0 });
  });

  it('rm refuses an image the warm pool uses, removes a cold one, and build makes it again', async () => {
    const busy = await controlCall(node.stateDir, '/v1/agents/rm', {
      method: 'POST',
      body: { name: 'echo' },
    }).catch((e: unknown) => e);
    expect((busy as RemoteError).exitCode).toBe(75);
    expect((busy as RemoteError).message).toMatch(/in use by echo's warm containers/);

    const removed = await controlCall<RemoveResult>(node.stateDir, '/v1/agents/rm', {
      method: 'POST',
      body: { name: 'shout' },
    });
    expect(removed.removed).toHaveLength(1);
    expect(removed.freedBytes).toBeGreaterThan(0);
    expect(node.svc.advert().images.some((i) => i.agent === 'shout')).toBe(false);
    const tag = removed.removed[0]!.tag;
    await expect(docker.getImage(tag).inspect()).rejects.toMatchObject({ statusCode: 404 });

    const events = await collect(
      controlEvents<BuildEvent>(node.stateDir, '/v1/agents/build', {
        method: 'POST',
        body: { name: 'shout' },
      }),
    );
    expect(events.find((e) => e.type === 'built')).toMatchObject({ tag, built: true });
    expect(node.svc.advert().images.some((i) => i.agent === 'shout')).toBe(true);
  }, 120_000);
});
