/**
 * The runner, the warm pool and the protocol over a plain-object ContainerRuntime (no Docker):
 * the runtime's exit causes (OOM, timeout, crash) become the run's errors, and a warm container
 * that dies is replaced.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  AgentRunner,
  type ContainerExit,
  type ContainerHandle,
  type ContainerUsage,
  type ContainerRuntime,
  type SandboxSpec,
} from '../../node/agents/index.js';
import { parseManifest, type LoadedAgent, type RunEvent } from '../../node/agentspec/index.js';
import { collect, waitFor } from '../support/wait.js';

interface FakeContainer extends ContainerHandle {
  spec: SandboxSpec;
  readonly stderr: PassThrough;
  /** task lines the host wrote */
  tasks: Array<{ id: string; intent: string }>;
  say(line: object): void;
  exitWith(exit: ContainerExit): void;
  killedWith: string | null;
  /** what usage() answers (the engine's count against the limits) */
  usageNow: ContainerUsage | null;
}

/** Each started container is handed to `behave`, which plays the agent. */
function fakeRuntime(behave: (c: FakeContainer) => void): {
  runtime: ContainerRuntime;
  started: FakeContainer[];
} {
  const started: FakeContainer[] = [];
  const runtime: ContainerRuntime = {
    engine: 'Fake',
    platform: async () => 'linux/amd64',
    async start(spec) {
      let settle!: (exit: ContainerExit) => void;
      const exit = new Promise<ContainerExit>((resolve) => (settle = resolve));
      const stdin = new PassThrough();
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let gone = false;
      const c: FakeContainer = {
        id: `id-${started.length}`,
        name: spec.name,
        spec,
        stdin,
        stdout,
        stderr,
        exit,
        tasks: [],
        killedWith: null,
        usageNow: {
          pids: 3,
          pidsLimit: spec.pids,
          pidsLimitHits: 0,
          memoryBytes: 2 * 1024 * 1024,
          memoryLimitBytes: spec.memoryBytes,
          oomKills: 0,
          openFiles: 6,
        },
        usage: async () => c.usageNow,
        say: (line) => stdout.write(`${JSON.stringify(line)}\n`),
        exitWith: (e) => {
          if (gone) return;
          gone = true;
          stdout.end();
          stderr.end();
          settle(e);
        },
        async kill(cause) {
          c.killedWith ??= cause;
          c.exitWith({ cause, statusCode: 137, detail: '' });
        },
        async remove() {},
      };
      let buffered = '';
      stdin.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        for (let at = buffered.indexOf('\n'); at >= 0; at = buffered.indexOf('\n')) {
          c.tasks.push(JSON.parse(buffered.slice(0, at)));
          buffered = buffered.slice(at + 1);
          behave(c);
        }
      });
      // A well-behaved agent exits when its stdin closes.
      stdin.on('end', () => c.exitWith({ cause: 'normal', statusCode: 0, detail: '' }));
      started.push(c);
      queueMicrotask(() => behave(c));
      return c;
    },
    findImage: async () => ({ sizeBytes: 1 }),
    ensureEgressNetwork: async () => {},
    removeLeftovers: async () => {},
  };
  return { runtime, started };
}

const agent = (tier: 'warm' | 'cold', timeout = 30): LoadedAgent => ({
  manifest: parseManifest(
    `name = "fake"\ntier = "${tier}"\nmemory_mb = 32\ntimeout_s = ${timeout}\n[[intents]]\nname = "go"\n`,
  ),
  dir: '/nonexistent',
  hash: 'f'.repeat(64),
});

function runnerOn(runtime: ContainerRuntime, a: LoadedAgent): AgentRunner {
  return new AgentRunner({
    runtime,
    agents: [a],
    host: 'fake-host',
    resolveImage: async () => 'fake:1',
  });
}

const last = (events: RunEvent[]): RunEvent | undefined => events.at(-1);

describe('runner and warm pool over a fake ContainerRuntime', () => {
  it('gives the runtime the sandbox and answers a cold run from the agent', async () => {
    const { runtime, started } = fakeRuntime((c) => {
      const task = c.tasks.at(-1);
      if (task) c.say({ v: 1, type: 'result', id: task.id, text: 'done' });
    });
    const runner = runnerOn(runtime, agent('cold'));
    const events = await collect(runner.run({ agent: 'fake', intent: 'go', args: {} }));
    expect(events[0]).toMatchObject({ type: 'accepted', warm: false, host: 'fake-host' });
    expect(last(events)).toMatchObject({ type: 'result', text: 'done' });
    expect(started[0]!.spec).toMatchObject({
      image: 'fake:1',
      user: '65534:65534',
      memoryBytes: 32 * 1024 * 1024,
      network: 'none',
      readOnlyRoot: true,
      dropAllCapabilities: true,
      noNewPrivileges: true,
      labels: { 'helix.agent': 'fake', 'helix.tier': 'cold', 'helix.node': 'fake-host' },
    });
    expect(started[0]!.spec.timeoutMs).toBeGreaterThan(0);
    await runner.stop();
  });

  it('hands the agent a URL from helix.toml without its credentials (failed before: the password went with mqtt.url)', async () => {
    const { runtime, started } = fakeRuntime((c) => {
      const task = c.tasks.at(-1);
      if (task) c.say({ v: 1, type: 'result', id: task.id, text: 'done' });
    });
    const a: LoadedAgent = {
      ...agent('cold'),
      manifest: parseManifest(
        `name = "fake"\ntier = "cold"\ncontext = ["mqtt.url", "home.servers"]\n[[intents]]\nname = "go"\n`,
      ),
    };
    const config = {
      mqtt: { url: 'mqtt://alice:s3cret@broker:1883', base_topic: 'z2m' },
      home: { servers: [{ url: 'wss://alice:s3cret@ha.local/api/websocket' }, 'http://ha.local'] },
    };
    const runner = new AgentRunner({
      runtime,
      agents: [a],
      host: 'fake-host',
      resolveImage: async () => 'fake:1',
      config,
    });
    const events = await collect(runner.run({ agent: 'fake', intent: 'go', args: {} }));
    expect(last(events)).toMatchObject({ type: 'result', text: 'done' });
    const task = started[0]!.tasks[0] as unknown as { context: { config: unknown } };
    expect(task.context.config).toEqual({
      'mqtt.url': 'mqtt://***@broker:1883',
      'home.servers': [{ url: 'wss://***@ha.local/api/websocket' }, 'http://ha.local'],
    });
    expect(JSON.stringify(started[0]!.tasks)).not.toMatch(/s3cret|alice/);
    expect(config.mqtt.url).toBe('mqtt://alice:s3cret@broker:1883'); // the node's own copy
    await runner.stop();
  });

  it.each([
    [
      'oom',
      { cause: 'oom', statusCode: 137, detail: '' },
      /fake ran out of memory: it used more than its 32 MB/,
    ],
    [
      'timeout',
      { cause: 'timeout', statusCode: 137, detail: '' },
      /fake did not finish within its 30 s timeout/,
    ],
    [
      'crashed',
      { cause: 'crash', statusCode: 3, detail: '' },
      /fake exited with status 3 before answering; its last words on stderr: panic: boom/,
    ],
  ] as const)('maps the runtime exit cause to a %s error', async (code, exit, message) => {
    const { runtime } = fakeRuntime((c) => {
      if (c.tasks.length === 0) return;
      c.stderr.write('panic: boom\n');
      setTimeout(() => c.exitWith({ ...exit }), 10);
    });
    const runner = runnerOn(runtime, agent('cold'));
    const events = await collect(runner.run({ agent: 'fake', intent: 'go', args: {} }));
    expect(last(events)).toMatchObject({ type: 'error', code });
    expect((last(events) as { message: string }).message).toMatch(message);
    await runner.stop();
  });

  it("kills a container that outlives the task's deadline, and says it timed out", async () => {
    const { runtime, started } = fakeRuntime(() => undefined);
    const runner = runnerOn(runtime, agent('cold', 1));
    const events = await collect(runner.run({ agent: 'fake', intent: 'go', args: {} }));
    expect(last(events)).toMatchObject({ type: 'error', code: 'timeout' });
    expect(started[0]!.killedWith).toBe('timeout');
    await runner.stop();
  });

  it('replaces a warm container the runtime reports killed for memory, and runs on the new one', async () => {
    const { runtime, started } = fakeRuntime((c) => {
      if (c.tasks.length === 0) return c.say({ v: 1, type: 'ready' });
      const task = c.tasks.at(-1)!;
      c.say({ v: 1, type: 'result', id: task.id, text: `from ${c.id}` });
    });
    const runner = runnerOn(runtime, agent('warm'));
    await runner.start();
    expect(runner.poolState()).toEqual([{ agent: 'fake', image: 'fake:1', idle: 1, busy: 0 }]);
    started[0]!.exitWith({ cause: 'oom', statusCode: 137, detail: '' });
    await waitFor(() => started.length === 2 && runner.pool.idle('fake') === 1, {
      timeoutMs: 5000,
      what: 'replacement',
    });
    const events = await collect(runner.run({ agent: 'fake', intent: 'go', args: {} }));
    expect(events[0]).toMatchObject({ type: 'accepted', warm: true, container: started[1]!.name });
    expect(last(events)).toMatchObject({ type: 'result', text: 'from id-1' });
    await runner.stop();
  });

  it('ends a warm task whose container dies mid-task with the cause, and keeps serving', async () => {
    const { runtime, started } = fakeRuntime((c) => {
      if (c.tasks.length === 0) return c.say({ v: 1, type: 'ready' });
      if (c.id === 'id-0') return c.exitWith({ cause: 'crash', statusCode: 2, detail: '' });
      c.say({ v: 1, type: 'result', id: c.tasks.at(-1)!.id, text: 'ok' });
    });
    const runner = runnerOn(runtime, agent('warm'));
    await runner.start();
    const first = await collect(runner.run({ agent: 'fake', intent: 'go', args: {} }));
    expect(last(first)).toMatchObject({ type: 'error', code: 'crashed', retryable: true });
    await waitFor(() => runner.pool.idle('fake') === 1, { timeoutMs: 5000, what: 'replacement' });
    const second = await collect(runner.run({ agent: 'fake', intent: 'go', args: {} }));
    expect(last(second)).toMatchObject({ type: 'result', text: 'ok' });
    expect(started).toHaveLength(2);
    await runner.stop();
  });
});

describe('warm containers whose task hit a limit', () => {
  const full = (c: FakeContainer): ContainerUsage => ({
    ...c.usageNow!,
    pids: c.spec.pids,
  });
  /** The agent's first task does `damage` and answers; later tasks answer where they ran. */
  async function afterDamage(
    damage: (c: FakeContainer, taskId: string) => void,
    opts: { timeout?: number } = {},
  ) {
    const { runtime, started } = fakeRuntime((c) => {
      if (c.tasks.length === 0) return c.say({ v: 1, type: 'ready' });
      const task = c.tasks.at(-1)!;
      if (c.id === 'id-0' && c.tasks.length === 1) return damage(c, task.id);
      c.say({ v: 1, type: 'result', id: task.id, text: `from ${c.id}` });
    });
    const runner = runnerOn(runtime, agent('warm', opts.timeout));
    await runner.start();
    const first = await collect(runner.run({ agent: 'fake', intent: 'go', args: {} }));
    const second = await collect(runner.run({ agent: 'fake', intent: 'go', args: {} }));
    await runner.stop();
    return { first, second, started };
  }

  it.each([
    [
      'a fork bomb whose children stay (pids at the limit) behind a result',
      (c: FakeContainer, id: string) => {
        c.usageNow = full(c);
        c.say({ v: 1, type: 'result', id, text: 'fine, really' });
      },
    ],
    [
      'a fork bomb refused at the limit whose children are gone again (the count of refusals)',
      (c: FakeContainer, id: string) => {
        c.usageNow = { ...c.usageNow!, pidsLimitHits: 7 };
        c.say({ v: 1, type: 'result', id, text: 'nothing to see' });
      },
    ],
    [
      'a child process killed for memory while the agent lives on',
      (c: FakeContainer, id: string) => {
        c.usageNow = { ...c.usageNow!, oomKills: 1 };
        c.say({ v: 1, type: 'result', id, text: 'a helper died' });
      },
    ],
    [
      'a file hog that keeps its files open behind a result',
      (c: FakeContainer, id: string) => {
        c.usageNow = { ...c.usageNow!, openFiles: c.spec.openFiles };
        c.say({ v: 1, type: 'result', id, text: 'all closed, promise' });
      },
    ],
    [
      'a file hog that reports running out of files',
      (c: FakeContainer, id: string) =>
        c.say({ v: 1, type: 'error', id, message: 'open /dev/shm/x: too many open files' }),
    ],
    [
      'a fork refused, said on stderr only',
      (c: FakeContainer, id: string) => {
        c.stderr.write('fork/exec /agent: resource temporarily unavailable\n');
        setTimeout(() => c.say({ v: 1, type: 'result', id, text: 'done anyway' }), 20);
      },
    ],
    [
      'memory left at its limit',
      (c: FakeContainer, id: string) => {
        c.usageNow = { ...c.usageNow!, memoryBytes: c.spec.memoryBytes - 1024 };
        c.say({ v: 1, type: 'result', id, text: 'kept it all' });
      },
    ],
  ])('retires the container after %s: the next task runs in a fresh one', async (_, damage) => {
    const { first, second, started } = await afterDamage(damage);
    expect(first[0]).toMatchObject({ type: 'accepted', container: started[0]!.name });
    expect(second[0]).toMatchObject({ type: 'accepted', warm: true, container: started[1]!.name });
    expect(last(second)).toMatchObject({ type: 'result', text: 'from id-1' });
    expect(started[0]!.killedWith).toBe('killed');
  });

  it('replaces a warm container killed at its timeout', async () => {
    const { first, second, started } = await afterDamage(() => undefined, { timeout: 1 });
    expect(last(first)).toMatchObject({ type: 'error', code: 'timeout' });
    expect(started[0]!.killedWith).toBe('timeout');
    expect(last(second)).toMatchObject({ type: 'result', text: 'from id-1' });
  });

  it('keeps a healthy container for the next task', async () => {
    const { second, started } = await afterDamage((c, id) =>
      c.say({ v: 1, type: 'result', id, text: 'ok' }),
    );
    expect(last(second)).toMatchObject({ type: 'result', text: 'from id-0' });
    expect(started).toHaveLength(1);
  });
});

describe('host call limits per task', () => {
  it('answers a notify flood from a running task with refusals past the burst', async () => {
    const notes: string[] = [];
    const flood = 200;
    const replies: Array<{ ok: boolean; error?: string }> = [];
    const { runtime } = fakeRuntime((c) => {
      const line = c.tasks.at(-1) as unknown as
        | { type: 'task'; id: string }
        | { type: 'reply'; ok: boolean; error?: string; id: string }
        | undefined;
      if (!line) return;
      if (line.type === 'task') {
        for (let i = 0; i < flood; i++)
          c.say({
            v: 1,
            type: 'call',
            id: line.id,
            call_id: `n${i}`,
            method: 'notify',
            params: { text: `ding ${i}` },
          });
      } else if (line.type === 'reply') {
        replies.push(line);
        if (replies.length === flood) c.say({ v: 1, type: 'result', id: line.id, text: 'done' });
      }
    });
    const a: LoadedAgent = {
      manifest: parseManifest(
        'name = "fake"\ntier = "cold"\nmemory_mb = 32\ncalls = ["notify"]\n[[intents]]\nname = "go"\n',
      ),
      dir: '/nonexistent',
      hash: 'f'.repeat(64),
    };
    const runner = new AgentRunner({
      runtime,
      agents: [a],
      host: 'fake-host',
      resolveImage: async () => 'fake:1',
      handlers: {
        async notify(p) {
          notes.push(p.text);
          return { node: 'fake-host' };
        },
      },
    });
    const events = await collect(runner.run({ agent: 'fake', intent: 'go', args: {} }));
    expect(last(events)).toMatchObject({ type: 'result', text: 'done' });
    // a burst of 10, and 5 a second after it: the flood takes well under a second here
    expect(notes.length).toBeGreaterThanOrEqual(10);
    expect(notes.length).toBeLessThanOrEqual(15);
    expect(replies.filter((r) => r.ok)).toHaveLength(notes.length);
    expect(replies.find((r) => !r.ok)?.error).toMatch(
      /^notify refused: over its limit of 5 calls a second/,
    );
    await runner.stop();
  });
});
