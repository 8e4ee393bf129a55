import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentRunner, DockerRuntime } from '../../node/agents/index.js';
import type { LoadedAgent, NotifyParams } from '../../node/agentspec/index.js';
import { ensureDockerEngine, removeContainers, removeImages } from '../support/docker.js';
import {
  buildAgents,
  collect,
  CONTAINER_PREFIX,
  IMAGE_PREFIX,
  liveContainers,
  outcome,
} from './helpers.js';
import { waitFor } from '../support/wait.js';

describe('agent runner', () => {
  let docker: Docker;
  let agents: LoadedAgent[];
  let runner: AgentRunner;
  const notified: NotifyParams[] = [];

  beforeAll(async () => {
    docker = await ensureDockerEngine();
    await removeContainers(docker, CONTAINER_PREFIX);
    agents = await buildAgents(docker, ['echo', 'timer', 'protocol-breaker']);
    runner = new AgentRunner({
      runtime: new DockerRuntime({ docker }),
      agents,
      host: 'test-host',
      imagePrefix: IMAGE_PREFIX,
      containerPrefix: CONTAINER_PREFIX,
      warmPoolSize: 1,
      handlers: {
        async notify(params) {
          notified.push(params);
          return {};
        },
      },
    });
    await runner.start();
  });

  afterAll(async () => {
    await runner?.stop();
    await removeContainers(docker, CONTAINER_PREFIX);
    await removeImages(docker, IMAGE_PREFIX);
  });

  it('starts one ready warm container per warm agent and reports it in the pool state', () => {
    expect(
      runner
        .poolState()
        .map((e) => [e.agent, e.idle, e.busy])
        .sort(),
    ).toEqual([
      ['echo', 1, 0],
      ['protocol-breaker', 1, 0],
      ['timer', 1, 0],
    ]);
  });

  it('round-trips echo through a warm container, reusing it', async () => {
    const first = await collect(
      runner.run({
        agent: 'echo',
        intent: 'echo',
        args: { text: 'hello' },
        callerNode: 'pi-kitchen',
      }),
    );
    expect(first[0]).toMatchObject({
      type: 'accepted',
      agent: 'echo',
      warm: true,
      host: 'test-host',
    });
    expect(first).toContainEqual({ type: 'progress', message: 'echoing' });
    const result = outcome(first);
    expect(result).toMatchObject({ type: 'result', text: 'hello' });
    const data = (result as { data: { context: { node: string; host: string } } }).data;
    expect(data.context).toMatchObject({ node: 'pi-kitchen', host: 'test-host' });

    const second = await collect(
      runner.run({ agent: 'echo', intent: 'echo', args: { text: 'again' } }),
    );
    expect(outcome(second)).toMatchObject({ type: 'result', text: 'again' });
    expect((second[0] as { container: string }).container).toBe(
      (first[0] as { container: string }).container,
    );
  });

  it('keeps N warm containers per agent, spreads concurrent tasks over them, and removes them on stop', async () => {
    const prefix = `${CONTAINER_PREFIX}pool2-`;
    const echo = agents.filter((a) => a.manifest.name === 'echo');
    const pool2 = new AgentRunner({
      runtime: new DockerRuntime({ docker }),
      agents: echo,
      host: 'pool2',
      imagePrefix: IMAGE_PREFIX,
      containerPrefix: prefix,
      warmPoolSize: 2,
    });
    await pool2.start();
    expect(pool2.poolState()).toEqual([
      expect.objectContaining({ agent: 'echo', idle: 2, busy: 0 }),
    ]);
    expect(await liveContainers(docker, prefix)).toHaveLength(2);
    const runs = await Promise.all(
      [1, 2].map((i) =>
        collect(pool2.run({ agent: 'echo', intent: 'echo', args: { text: `n${i}` } })),
      ),
    );
    const used = new Set(runs.map((r) => (r[0] as { container: string }).container));
    expect(used.size).toBe(2);
    expect(runs.map((r) => (outcome(r) as { text: string }).text).sort()).toEqual(['n1', 'n2']);
    await pool2.stop();
    expect(await liveContainers(docker, prefix)).toEqual([]);
  });

  it('round-trips echo through a cold container that is removed afterwards', async () => {
    const cold = new AgentRunner({
      runtime: new DockerRuntime({ docker }),
      agents,
      host: 'cold-host',
      imagePrefix: IMAGE_PREFIX,
      containerPrefix: `${CONTAINER_PREFIX}cold-`,
      warmPoolSize: 0,
    });
    const events = await collect(
      cold.run({ agent: 'echo', intent: 'echo', args: { text: 'cold hello' } }),
    );
    expect(events[0]).toMatchObject({ type: 'accepted', warm: false });
    expect(outcome(events)).toMatchObject({ type: 'result', text: 'cold hello' });
    await cold.stop();
    const name = (events[0] as { container: string }).container;
    await waitFor(async () => !(await liveContainers(docker)).includes(name), {
      timeoutMs: 10_000,
      what: 'cold container removal',
    });
  });

  // Intents and arguments are checked once, by the host: test/agenthost/server.test.ts.
  it('refuses an agent it does not have', async () => {
    const cases = [
      [{ agent: 'nope', intent: 'x', args: {} }, 'unknown_agent', /no agent "nope"/],
    ] as const;
    for (const [req, code, message] of cases) {
      const events = await collect(runner.run(req));
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ type: 'error', code });
      expect((events[0] as { message: string }).message).toMatch(message);
    }
  });

  it('ends each protocol violation with a clear error, replaces the container, and keeps serving', async () => {
    const cases = [
      ['invalid_json', 'protocol', /not valid JSON/],
      ['too_long', 'protocol', /longer than 1048576 bytes/],
      ['unknown_type', 'protocol', /unknown message type "teleport"/],
      [
        'undeclared_call',
        'agent_error',
        /call "mqtt\.publish" is not declared in protocol-breaker's agent\.toml/,
      ],
    ] as const;
    for (const [intent, code, message] of cases) {
      const events = await collect(runner.run({ agent: 'protocol-breaker', intent, args: {} }));
      const end = outcome(events);
      expect(end, intent).toMatchObject({ type: 'error', code });
      expect((end as { message: string }).message, intent).toMatch(message);
      // The pool is still up: the next task is served (by a replacement where the old one broke).
      const ok = await collect(runner.run({ agent: 'protocol-breaker', intent: 'ok', args: {} }));
      expect(outcome(ok), `after ${intent}`).toMatchObject({ type: 'result', text: 'fine' });
    }
  });

  it('replaces a warm container that crashes, reporting the crash with its last stderr line', async () => {
    const before = await collect(runner.run({ agent: 'protocol-breaker', intent: 'ok', args: {} }));
    const crashed = await collect(
      runner.run({ agent: 'protocol-breaker', intent: 'crash', args: {} }),
    );
    const end = outcome(crashed);
    expect(end).toMatchObject({ type: 'error', code: 'crashed' });
    expect((end as { message: string }).message).toMatch(
      /exited with status 3 before answering.*crashing on purpose/,
    );

    await waitFor(() => runner.pool.idle('protocol-breaker') === 1, {
      timeoutMs: 20_000,
      what: 'replacement container',
    });
    const after = await collect(runner.run({ agent: 'protocol-breaker', intent: 'ok', args: {} }));
    expect(outcome(after)).toMatchObject({ type: 'result' });
    expect((after[0] as { container: string }).container).not.toBe(
      (before[0] as { container: string }).container,
    );
  });

  it('kills a warm container that hangs past its timeout and replaces it', async () => {
    const hung = await collect(runner.run({ agent: 'protocol-breaker', intent: 'hang', args: {} }));
    expect(outcome(hung)).toMatchObject({ type: 'error', code: 'timeout' });
    expect((outcome(hung) as { message: string }).message).toMatch(
      /did not finish within its 3 s timeout/,
    );
    await waitFor(() => runner.pool.idle('protocol-breaker') === 1, {
      timeoutMs: 20_000,
      what: 'replacement container',
    });
  });

  it('cancels a run when its signal aborts, killing the container', async () => {
    const controller = new AbortController();
    const events: string[] = [];
    let container = '';
    for await (const ev of runner.run(
      { agent: 'protocol-breaker', intent: 'hang', args: {} },
      { signal: controller.signal },
    )) {
      events.push(ev.type === 'error' ? `error:${ev.code}` : ev.type);
      if (ev.type === 'accepted') {
        container = ev.container;
        controller.abort();
      }
    }
    expect(events).toEqual(['accepted', 'error:cancelled']);
    await waitFor(async () => !(await liveContainers(docker)).includes(container), {
      timeoutMs: 10_000,
      what: 'cancelled container removal',
    });
    await waitFor(() => runner.pool.idle('protocol-breaker') === 1, {
      timeoutMs: 20_000,
      what: 'replacement container',
    });
  });

  it('lets a warm timer tell the asking node when it fires, between tasks', async () => {
    const set = await collect(
      runner.run({
        agent: 'timer',
        intent: 'set',
        args: { seconds: 2, label: 'tea' },
        callerNode: 'pi-kitchen',
      }),
    );
    expect(outcome(set)).toMatchObject({
      type: 'result',
      text: 'Set the tea timer for 2 seconds.',
    });
    // plain replies: "Set a 5-minute timer.", "Cancelled the 5-minute timer." (issue 10)
    const plain = await collect(
      runner.run({ agent: 'timer', intent: 'set', args: { minutes: 5 } }),
    );
    expect(outcome(plain)).toMatchObject({ type: 'result', text: 'Set a 5-minute timer.' });
    const cancel = await collect(
      runner.run({ agent: 'timer', intent: 'cancel', args: { minutes: 5 } }),
    );
    expect(outcome(cancel)).toMatchObject({
      type: 'result',
      text: 'Cancelled the 5-minute timer.',
    });
    const listed = await collect(runner.run({ agent: 'timer', intent: 'list', args: {} }));
    expect((outcome(listed) as { text: string }).text).toMatch(
      /^You have one timer: the tea timer with [12] seconds? left\.$/,
    );

    await waitFor(() => notified.length > 0, { timeoutMs: 10_000, what: 'timer notification' });
    expect(notified[0]).toMatchObject({ node: 'pi-kitchen', text: 'Your tea timer is done.' });
    const after = await collect(runner.run({ agent: 'timer', intent: 'list', args: {} }));
    expect(outcome(after)).toMatchObject({ type: 'result', text: 'There are no timers.' });
  });
});
