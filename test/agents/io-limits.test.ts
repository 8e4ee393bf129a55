/**
 * What one agent may cost the host (issue 11), over a plain-object ContainerRuntime whose
 * "agent" is a script: an agent that stops reading its stdin while it floods calls, one that
 * keeps too many calls outstanding. Bounds are measured in bytes and calls, not time.
 */
import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../node/agentspec/index.js';
import { agentWith, runner, scriptedRuntime, status } from '../support/scripted-agent.js';
import { collect } from '../support/wait.js';

describe('an agent cannot grow the host through its stdin', () => {
  it('stops reading a flooding agent that does not read its replies, then ends it with a clear error', async () => {
    const CALLS = 2000;
    const REPLY = 32 * 1024;
    let answered = 0;
    let sent = 0;
    const { runtime, started } = scriptedRuntime(async (a) => {
      const task = await a.read();
      a.stopReading();
      for (let i = 0; i < CALLS && !a.gone; i++) {
        sent++;
        await a.say({
          v: 1,
          type: 'call',
          id: task.id,
          call_id: `c${i}`,
          method: 'mesh.status',
          params: {},
        });
      }
      await a.say({ v: 1, type: 'result', id: task.id, text: 'done' });
    });
    const r = runner(
      runtime,
      agentWith(['mesh.status']),
      {
        async 'mesh.status'() {
          answered++;
          return status('x'.repeat(REPLY)) as never;
        },
      },
      { stdinStallMs: 300 },
    );
    const events: RunEvent[] = await collect(r.run({ agent: 'flood', intent: 'go', args: {} }));
    const last = events.at(-1);
    expect(last).toMatchObject({ type: 'error', code: 'protocol' });
    expect((last as { message: string }).message).toMatch(
      /flood broke the agent protocol: it stopped reading its stdin: \d+ bytes of replies waited more than 300 ms/,
    );
    expect(started[0]!.killedWith).toBe('killed');
    // Without the limits every call was answered: 2000 x 32 KiB = 64 MiB queued toward it.
    // With them the host stops reading once the pipe is full: a pipe's worth of calls at most.
    expect(answered).toBeLessThan(100);
    expect(sent).toBeLessThan(CALLS);
    expect(started[0]!.written).toBeLessThan(4 * 1024 * 1024);
    await r.stop();
  });

  it('ends an agent at once when the replies waiting for it pass the byte bound', async () => {
    const REPLY = 256 * 1024;
    let answered = 0;
    const { runtime, started } = scriptedRuntime(async (a) => {
      const task = await a.read();
      a.stopReading();
      // 20 calls in one write: all taken (under 32 outstanding), no reply read
      await a.say(
        ...Array.from({ length: 20 }, (_, i) => ({
          v: 1,
          type: 'call',
          id: task.id,
          call_id: `c${i}`,
          method: 'mesh.status',
          params: {},
        })),
      );
      await new Promise(() => undefined);
    });
    const r = runner(
      runtime,
      agentWith(['mesh.status']),
      {
        async 'mesh.status'() {
          answered++;
          return status('x'.repeat(REPLY)) as never;
        },
      },
      { maxQueuedStdinBytes: 1024 * 1024, stdinStallMs: 60_000 },
    );
    const events = await collect(r.run({ agent: 'flood', intent: 'go', args: {} }));
    expect(events.at(-1)).toMatchObject({ type: 'error', code: 'protocol' });
    expect((events.at(-1) as { message: string }).message).toMatch(
      /it stopped reading its stdin: \d+ bytes of replies were waiting for it, more than the 1048576 the host keeps/,
    );
    expect(answered).toBe(20);
    // the bound, plus the one reply that crossed it
    expect(started[0]!.written).toBeLessThanOrEqual(1024 * 1024 + 2 * (REPLY + 1024));
    await r.stop();
  });

  it('answers calls past 32 outstanding with an error, without running them', async () => {
    const CALLS = 100;
    let running = 0;
    let release!: () => void;
    const never = new Promise<never>(
      (_resolve, reject) => (release = () => reject(new Error('end'))),
    );
    const replies: Array<{ ok: boolean; error?: string }> = [];
    const { runtime } = scriptedRuntime(async (a) => {
      const task = await a.read();
      for (let i = 0; i < CALLS; i++)
        await a.say({
          v: 1,
          type: 'call',
          id: task.id,
          call_id: `c${i}`,
          method: 'mesh.status',
          params: {},
        });
      while (replies.length < CALLS - 32) replies.push((await a.read()) as never);
      await a.say({ v: 1, type: 'result', id: task.id, text: 'done' });
    });
    const r = runner(runtime, agentWith(['mesh.status']), {
      // never answers until the task ends
      'mesh.status'() {
        running++;
        return never;
      },
    });
    const events = await collect(r.run({ agent: 'flood', intent: 'go', args: {} }));
    expect(events.at(-1)).toMatchObject({ type: 'result', text: 'done' });
    expect(running).toBe(32);
    expect(replies).toHaveLength(CALLS - 32);
    expect(replies.every((x) => !x.ok)).toBe(true);
    expect(replies[0]!.error).toMatch(
      /^mesh.status refused: flood already has 32 host calls outstanding, the most one container may have/,
    );
    release();
    await r.stop();
  });
});

describe('a progress flood reaches the caller bounded', () => {
  const progressBytes = (events: RunEvent[]): number =>
    events
      .filter((e) => e.type === 'progress')
      .reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e)), 0);

  it('passes at most 10 updates a second, cut short, keeping the latest', async () => {
    const LINES = 20_000;
    const { runtime } = scriptedRuntime(async (a) => {
      const task = await a.read();
      for (let i = 0; i < LINES; i += 100)
        await a.say(
          ...Array.from({ length: 100 }, (_, j) => ({
            v: 1,
            type: 'progress',
            id: task.id,
            message: `step ${i + j} ${'x'.repeat(980)}`,
            percent: ((i + j) * 100) / LINES,
          })),
        );
      await a.say({ v: 1, type: 'result', id: task.id, text: 'done' });
    });
    const r = runner(runtime, agentWith([]), {});
    const started = performance.now();
    const events = await collect(r.run({ agent: 'flood', intent: 'go', args: {} }));
    const seconds = (performance.now() - started) / 1000;
    expect(events.at(-1)).toMatchObject({ type: 'result', text: 'done' });
    const progress = events.filter((e) => e.type === 'progress');
    // 20 MB of progress went in; before, all 20,000 lines came out
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.length).toBeLessThanOrEqual(2 + Math.ceil(seconds * 10));
    expect(progress.every((p) => p.message.length <= 240)).toBe(true);
    expect(progress.at(-1)!.message).toMatch(/^step 19999 x+…$/);
    expect(progressBytes(events)).toBeLessThan(64 * 1024);
    await r.stop();
  });

  it('passes at most 64 KiB of progress per task, then says the rest is not shown', async () => {
    const { runtime } = scriptedRuntime(async (a) => {
      const task = await a.read();
      for (let i = 0; i < 2000; i++)
        await a.say({ v: 1, type: 'progress', id: task.id, message: `${i} ${'y'.repeat(200)}` });
      await a.say({ v: 1, type: 'result', id: task.id, text: 'done' });
    });
    // no rate limit here: the byte bound alone
    const r = runner(runtime, agentWith([]), {}, { progressPerSecond: 1e9 });
    const events = await collect(r.run({ agent: 'flood', intent: 'go', args: {} }));
    expect(events.at(-1)).toMatchObject({ type: 'result', text: 'done' });
    const progress = events.filter((e) => e.type === 'progress');
    expect(progress.at(-1)!.message).toBe(
      '(further progress not shown: over the 65536 bytes of progress a task may send)',
    );
    expect(progressBytes(events)).toBeLessThan(64 * 1024 + 1024);
    expect(progress.length).toBeLessThan(2000);
    await r.stop();
  });
});
