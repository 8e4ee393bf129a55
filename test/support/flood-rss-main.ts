/**
 * One flood against the host's real code, in a process of its own, with its resident memory
 * sampled every 5 ms (test/hardening/flood-rss.test.ts): prints one JSON line
 * { flood, baselineMb, peakMb, growthMb, retainedMb, offeredMb, outcome }; retainedMb is the heap
 * still in use once the flood is over and garbage-collected (a leak shows there).
 *
 *   node --expose-gc --import tsx test/support/flood-rss-main.ts NAME
 *
 * Floods (each offers far more than the bounds let through; the figures in offeredMb):
 *   stdin-stall   an agent stops reading its stdin and makes 20,000 calls with 64 KiB replies
 *   outstanding   an agent keeps 100,000 calls outstanding (the host never answers them)
 *   progress      an agent sends 200,000 progress lines of 0.9 KB
 *   control-stall a control client asks for a stream of 10 KB events and never reads
 *   dev-zero      `transcribe /dev/zero` (the file reader asked for a device)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ControlServer } from '../../node/control/index.js';
import { silentLogger } from '../../node/log.js';
import { readWavFile } from '../../node/voice/index.js';
import { agentWith, runner, scriptedRuntime, status } from './scripted-agent.js';

const gc = (globalThis as { gc?: () => void }).gc;
const MB = 1024 * 1024;
const rss = (): number => process.memoryUsage.rss();

async function stdinStall(): Promise<{ offeredMb: number; outcome: string }> {
  const CALLS = 20_000;
  const REPLY = 64 * 1024;
  const { runtime } = scriptedRuntime(async (a) => {
    const task = await a.read();
    a.stopReading();
    for (let i = 0; i < CALLS && !a.gone; i++)
      await a.say({
        v: 1,
        type: 'call',
        id: task.id,
        call_id: `c${i}`,
        method: 'mesh.status',
        params: {},
      });
  });
  const r = runner(
    runtime,
    agentWith(['mesh.status'], 60),
    { 'mesh.status': async () => status('x'.repeat(REPLY)) as never },
    { stdinStallMs: 1000 },
  );
  let outcome = '';
  for await (const e of r.run({ agent: 'flood', intent: 'go', args: {} }))
    outcome = `${e.type}${'code' in e ? ` ${String(e.code)}` : ''}`;
  await r.stop();
  return { offeredMb: (CALLS * REPLY) / MB, outcome };
}

async function outstanding(): Promise<{ offeredMb: number; outcome: string }> {
  const CALLS = Number(process.env.CALLS ?? 100_000);
  let refused = 0;
  const { runtime } = scriptedRuntime(async (a) => {
    const task = await a.read();
    // reads its replies as they come, as a real agent's reader would
    const reading = (async () => {
      while (refused < CALLS - 32) {
        const reply = await a.read();
        if (reply.ok === false) refused++;
      }
    })();
    for (let i = 0; i < CALLS; i += 100)
      await a.say(
        ...Array.from({ length: 100 }, (_, j) => ({
          v: 1,
          type: 'call',
          id: task.id,
          call_id: `c${i + j}`,
          method: 'mesh.status',
          params: { pad: 'p'.repeat(200) },
        })),
      );
    await reading;
    await a.say({ v: 1, type: 'result', id: task.id, text: 'done' });
  });
  const never = new Promise<never>(() => undefined);
  const r = runner(runtime, agentWith(['mesh.status'], 60), { 'mesh.status': () => never });
  let outcome = '';
  for await (const e of r.run({ agent: 'flood', intent: 'go', args: {} })) outcome = e.type;
  await r.stop();
  return { offeredMb: (CALLS * 300) / MB, outcome: `${outcome}, ${refused} refused` };
}

async function progress(): Promise<{ offeredMb: number; outcome: string }> {
  const LINES = 200_000;
  const { runtime } = scriptedRuntime(async (a) => {
    const task = await a.read();
    for (let i = 0; i < LINES; i += 100)
      await a.say(
        ...Array.from({ length: 100 }, (_, j) => ({
          v: 1,
          type: 'progress',
          id: task.id,
          message: `step ${i + j} ${'x'.repeat(900)}`,
        })),
      );
    await a.say({ v: 1, type: 'result', id: task.id, text: 'done' });
  });
  const r = runner(runtime, agentWith([], 120), {});
  let shown = 0;
  let outcome = '';
  for await (const e of r.run({ agent: 'flood', intent: 'go', args: {} })) {
    if (e.type === 'progress') shown++;
    outcome = e.type === 'error' ? `error: ${e.message}` : e.type;
  }
  await r.stop();
  return { offeredMb: (LINES * 930) / MB, outcome: `${outcome}, ${shown} progress shown` };
}

async function controlStall(): Promise<{ offeredMb: number; outcome: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'helix-flood-'));
  const socketPath = path.join(dir, 'control.sock');
  const control = new ControlServer(socketPath, silentLogger);
  const EVENTS = 20_000;
  let pulled = 0;
  let stoppedBy = '';
  control.route('POST', '/v1/flood', async (_body, _req, res) => {
    for (; pulled < EVENTS && !res.signal.aborted; pulled++) {
      res.event({ type: 'step', text: 'b'.repeat(10_000) });
      if (pulled % 10 === 9) await new Promise((r) => setImmediate(r));
    }
    stoppedBy = res.signal.aborted ? 'ended by the server' : 'all sent';
    return undefined;
  });
  await control.start();
  const socket = net.connect(socketPath);
  socket.write('POST /v1/flood HTTP/1.1\r\nHost: local\r\nContent-Length: 2\r\n\r\n{}');
  socket.pause();
  socket.on('error', () => undefined);
  const deadline = Date.now() + 60_000;
  while (stoppedBy === '' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  socket.destroy();
  await control.stop();
  rmSync(dir, { recursive: true, force: true });
  return { offeredMb: (EVENTS * 10_000) / MB, outcome: `${stoppedBy} after ${pulled} events` };
}

async function devZero(): Promise<{ offeredMb: number; outcome: string }> {
  try {
    await readWavFile('/dev/zero');
    return { offeredMb: Infinity, outcome: 'read' };
  } catch (err) {
    return { offeredMb: Infinity, outcome: `refused: ${(err as Error).message}` };
  }
}

const FLOODS: Record<string, () => Promise<{ offeredMb: number; outcome: string }>> = {
  'stdin-stall': stdinStall,
  outstanding,
  progress,
  'control-stall': controlStall,
  'dev-zero': devZero,
};

const name = process.argv[2] ?? '';
const flood = FLOODS[name];
if (!flood) {
  console.error(`unknown flood ${name}; known: ${Object.keys(FLOODS).join(', ')}`);
  process.exit(64);
}
// The baseline: every module loaded and the heap settled, before the flood starts.
gc?.();
await new Promise((r) => setTimeout(r, 100));
gc?.();
const baseline = rss();
const heapAtBaseline = process.memoryUsage().heapUsed;
let peak = baseline;
const sampler = setInterval(() => (peak = Math.max(peak, rss())), 5);
const { offeredMb, outcome } = await flood();
peak = Math.max(peak, rss());
clearInterval(sampler);
// What stays once the flood is over and collected: a leak shows here, garbage does not.
const heapBefore = heapAtBaseline;
gc?.();
await new Promise((r) => setTimeout(r, 50));
gc?.();
const retainedMb = (process.memoryUsage().heapUsed - heapBefore) / MB;
console.log(
  JSON.stringify({
    flood: name,
    baselineMb: baseline / MB,
    peakMb: peak / MB,
    growthMb: (peak - baseline) / MB,
    retainedMb,
    offeredMb,
    outcome,
  }),
);
process.exit(0);
