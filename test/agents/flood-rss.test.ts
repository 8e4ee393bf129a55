/**
 * No input can exhaust a node (issue 11, point 2), measured as memory: each flood runs against the
 * host's real code (AgentRunner and its host calls, the ControlServer, the audio file reader) in
 * a process of its own (test/support/flood-rss-main.ts), whose resident set is sampled every 5 ms.
 *
 * Two figures per flood:
 * - retained: the heap still used once the flood is over and collected. What the bounds keep is
 *   small (32 outstanding calls, 1 MiB of replies toward an agent, 64 KiB of progress, 16 MiB
 *   toward a control client, all released at the end), so the bound is 4 MiB; an unbounded queue
 *   (before: 1.15 GB after 20 s of one agent's calls) shows here.
 * - peak growth over the baseline: what the flood's garbage and the bounded buffers cost before
 *   V8 collects them. V8 sizes its young generation (16 MiB semi-spaces) and grows the old one
 *   with the allocation rate, so garbage alone can reach tens of MiB; the bounds are 64 MiB where
 *   the host keeps at most a few MiB (stdin, progress, control) and 128 MiB for the outstanding
 *   call flood, whose 100,000-300,000 refusals are each a fresh reply. The outstanding flood runs
 *   at two sizes: a bounded host's peak does not follow the size of the flood.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

interface Figures {
  flood: string;
  baselineMb: number;
  peakMb: number;
  growthMb: number;
  retainedMb: number;
  offeredMb: number | null;
  outcome: string;
}

function flood(name: string, env: Record<string, string> = {}): Figures {
  const r = spawnSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', 'test/support/flood-rss-main.ts', name],
    { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 90_000 },
  );
  if (r.status !== 0) throw new Error(`flood ${name} exited ${r.status}: ${r.stderr}`);
  const figures = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Figures;
  console.log(
    `${name}: offered ${figures.offeredMb === null ? 'unbounded' : `${figures.offeredMb.toFixed(0)} MB`}, peak +${figures.growthMb.toFixed(1)} MB over ${figures.baselineMb.toFixed(0)} MB, retained ${figures.retainedMb.toFixed(2)} MB: ${figures.outcome.slice(0, 80)}`,
  );
  return figures;
}

describe('floods leave the host bounded in memory', () => {
  it('an agent that stops reading its stdin while it calls (1.25 GB of replies offered)', () => {
    const f = flood('stdin-stall');
    expect(f.outcome).toBe('error protocol');
    expect(f.growthMb).toBeLessThan(64);
    expect(f.retainedMb).toBeLessThan(4);
  }, 60_000);

  it('an agent that keeps 100,000 and then 300,000 calls outstanding', () => {
    const small = flood('outstanding', { CALLS: '100000' });
    const large = flood('outstanding', { CALLS: '300000' });
    expect(small.outcome).toBe('result, 99968 refused');
    expect(large.outcome).toBe('result, 299968 refused');
    for (const f of [small, large]) {
      expect(f.growthMb).toBeLessThan(128);
      expect(f.retainedMb).toBeLessThan(4);
    }
  }, 120_000);

  it('an agent that sends 177 MB of progress', () => {
    const f = flood('progress');
    expect(f.outcome).toMatch(/^result, \d+ progress shown$/);
    expect(f.growthMb).toBeLessThan(64);
    expect(f.retainedMb).toBeLessThan(4);
  }, 60_000);

  it('a control client that asks for a stream and never reads (190 MB offered)', () => {
    const f = flood('control-stall');
    expect(f.outcome).toMatch(/^ended by the server after \d+ events$/);
    expect(f.growthMb).toBeLessThan(64);
    expect(f.retainedMb).toBeLessThan(4);
  }, 60_000);

  it('transcribe /dev/zero', () => {
    const f = flood('dev-zero');
    expect(f.outcome).toMatch(/^refused: \/dev\/zero is a character device, not a regular file/);
    expect(f.growthMb).toBeLessThan(8);
    expect(f.retainedMb).toBeLessThan(1);
  }, 30_000);
});
