/**
 * node/v8-tier.ts: which nodes leave V8's optimising compiler out, and that holding, releasing and
 * capping it do what they say on a real V8. The V8 checks run in child processes (the flags are
 * process-wide: capping vitest's own process would slow every test after it), on a hot function
 * whose tier V8's own %GetOptimizationStatus reports.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../node/log.js';
import {
  cappedByCommandLine,
  jitNeed,
  quickTierFacts,
  settleV8Tier,
  type TierFacts,
} from '../node/v8-tier.js';
import { parseConfig } from '../node/config/index.js';
import { REPO_ROOT } from './harness/index.js';

const none: TierFacts = { voice: false, stt: null, docker: false };

describe('jitNeed', () => {
  it('keeps the compiler for voice, speech-to-text or Docker, and leaves it out otherwise', () => {
    expect(jitNeed('auto', none)).toBeNull();
    expect(jitNeed('auto', { ...none, voice: true })).toMatch(/voice/);
    expect(jitNeed('auto', { ...none, stt: 'whisper' })).toMatch(/whisper/);
    expect(jitNeed('auto', { ...none, docker: true })).toMatch(/Docker/);
  });

  it('node.jit overrides: "full" always keeps it, "interpreter" never does', () => {
    expect(jitNeed('full', none)).toMatch(/full/);
    expect(jitNeed('interpreter', { voice: true, stt: 'phrase', docker: true })).toBeNull();
  });
});

describe('quickTierFacts', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'helix-tier-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads voice from the config, a model from the disk, and Docker from its socket', async () => {
    const model = path.join(dir, 'ggml-tiny.bin');
    writeFileSync(model, Buffer.from('lmgg0000', 'latin1')); // ggml's magic, little-endian
    const bare = parseConfig({
      capabilities: { docker_socket: path.join(dir, 'no-docker.sock') },
      stt: { engine: 'whisper', model: '' },
    });
    expect(await quickTierFacts(bare)).toEqual(none);
    const voice = parseConfig({
      capabilities: { docker_socket: path.join(dir, 'no-docker.sock') },
      voice: { enabled: true },
      stt: { engine: 'whisper', model },
    });
    expect(await quickTierFacts(voice)).toEqual({ voice: true, stt: 'whisper', docker: false });
    // a file that is not a socket is not an engine
    const notSocket = parseConfig({ capabilities: { docker_socket: model } });
    expect((await quickTierFacts(notSocket)).docker).toBe(false);
  });
});

function logged(): { logger: ReturnType<typeof createLogger>; lines: () => string[] } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return {
    logger: createLogger('debug', {}, stream),
    lines: () => out.map((l) => (JSON.parse(l) as { msg: string }).msg),
  };
}

describe('settleV8Tier', () => {
  it('caps a control-plane node, says so, and warns once when a part that needs it appears', () => {
    const { logger, lines } = logged();
    const calls: string[] = [];
    const tier = settleV8Tier('auto', none, logger, {
      cap: () => calls.push('cap'),
      release: () => calls.push('release'),
      startedCapped: false,
    });
    expect(tier.capped).toBe(true);
    expect(calls).toEqual(['cap']);
    expect(lines().at(-1)).toMatch(/interpreter only: this node has no voice/);
    tier.recheck(none);
    tier.recheck({ ...none, docker: true });
    tier.recheck({ ...none, docker: true, stt: 'whisper' });
    const warnings = lines().filter((l) => /restart the node/.test(l));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/Docker/);
  });

  it('releases the hold on a node that needs the compiler, and never warns', () => {
    const { logger, lines } = logged();
    const calls: string[] = [];
    const tier = settleV8Tier('auto', { ...none, voice: true }, logger, {
      cap: () => calls.push('cap'),
      release: () => calls.push('release'),
      startedCapped: false,
    });
    expect(tier.capped).toBe(false);
    expect(calls).toEqual(['release']);
    tier.recheck({ ...none, docker: true });
    expect(lines().some((l) => /restart/.test(l))).toBe(false);
  });
});

describe('a process capped by its command line (the unit of a control-plane node)', () => {
  it("is recognised by --max-opt=0 among node's flags", () => {
    expect(cappedByCommandLine(['--max-semi-space-size=1', '--max-opt=0'])).toBe(true);
    expect(cappedByCommandLine(['--max-semi-space-size=1'])).toBe(false);
  });

  it('says at once to write the unit again when the node needs the compiler', () => {
    const { logger, lines } = logged();
    const calls: string[] = [];
    const tier = settleV8Tier('auto', { ...none, voice: true }, logger, {
      cap: () => calls.push('cap'),
      release: () => calls.push('release'),
      startedCapped: true,
    });
    expect(tier.capped).toBe(true);
    // nothing to release: the command line's cap stays whatever is set now
    expect(calls).toEqual([]);
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatch(/voice is on.*service install. again, then restart/);
    tier.recheck({ ...none, docker: true });
    expect(lines()).toHaveLength(1);
  });

  it('is quiet about a node that needs none, and warns once when one appears', () => {
    const { logger, lines } = logged();
    const tier = settleV8Tier('auto', none, logger, { startedCapped: true, cap: () => {} });
    expect(lines()).toEqual([expect.stringMatching(/interpreter only/)]);
    tier.recheck({ ...none, stt: 'phrase' });
    expect(lines().at(-1)).toMatch(/phrase.*service install/);
  });
});

/**
 * Runs `body` in a child Node with natives syntax: `hot` is a function that V8 optimises after a
 * few thousand calls, `tier(fn)` says which tier it runs in now. Prints one JSON line.
 */
function inChild(body: string): Record<string, unknown> {
  const script = `
    import { holdTierUp, releaseTierUp, capAtInterpreter } from './node/v8-tier.ts';
    const status = new Function('f', 'return %GetOptimizationStatus(f)');
    // V8's status bits (src/runtime/runtime.h, OptimizationStatus): 1<<4 optimised, 1<<7 interpreted
    const tier = (f) => ((status(f) & (1 << 4)) !== 0 ? 'optimised' : 'not optimised');
    const arr = new Float64Array(1000).fill(1);
    const make = () => function hot(a) { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * 2; return s; };
    const run = (f, n) => { for (let k = 0; k < n; k++) f(arr); return tier(f); };
    ${body}
  `;
  const r = spawnSync(
    process.execPath,
    ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', script],
    { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 },
  );
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

describe('holding, releasing and capping on a real V8', () => {
  it('a hot function is optimised as usual (the check itself)', () => {
    expect(inChild(`console.log(JSON.stringify({ free: run(make(), 20000) }));`)).toEqual({
      free: 'optimised',
    });
  });

  it('held: nothing is optimised; released: the same function is', () => {
    expect(
      inChild(`
        holdTierUp();
        const f = make();
        const held = run(f, 20000);
        releaseTierUp();
        const released = run(f, 100000);
        console.log(JSON.stringify({ held, released }));
      `),
    ).toEqual({ held: 'not optimised', released: 'optimised' });
  });

  it('capped after a hold: never optimised, however hot', () => {
    expect(
      inChild(`
        holdTierUp();
        const f = make();
        run(f, 5000);
        capAtInterpreter();
        console.log(JSON.stringify({ capped: run(f, 20000), fresh: run(make(), 20000) }));
      `),
    ).toEqual({ capped: 'not optimised', fresh: 'not optimised' });
  });
});
