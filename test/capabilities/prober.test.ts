import os from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../node/config/index.js';
import { CapabilityProber, baselineCapabilities, readLoad } from '../../node/capabilities/index.js';
import { LoadSchema, type Capabilities } from '../../node/types.js';
import { happensWithin } from '../support/wait.js';

/** A probe that answers from a script of results, one per call (the last one repeats). */
function scriptedProbe(results: (Capabilities | Error)[]) {
  let calls = 0;
  const waiters: (() => void)[] = [];
  const probe = async (): Promise<Capabilities> => {
    const r = results[Math.min(calls, results.length - 1)];
    calls++;
    for (const w of waiters.splice(0)) w();
    if (!r || r instanceof Error) throw r ?? new Error('no result');
    return structuredClone(r);
  };
  return {
    probe,
    get calls() {
      return calls;
    },
    async until(n: number) {
      while (calls < n) await new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
}

const base = baselineCapabilities();
const withDocker: Capabilities = {
  ...base,
  docker: { version: '20.10.24+dfsg1', apiVersion: '1.41', platform: 'linux/amd64' },
};
const withMic: Capabilities = { ...withDocker, mic: { devices: ['hw:2,0 USB PnP Sound Device'] } };

const probers: CapabilityProber[] = [];
afterEach(async () => {
  await Promise.all(probers.splice(0).map((p) => p.stop()));
});

function prober(results: (Capabilities | Error)[], config: object = {}) {
  const script = scriptedProbe(results);
  const p = new CapabilityProber({ config: parseConfig(config), probe: script.probe });
  probers.push(p);
  return { p, script };
}

describe('CapabilityProber', () => {
  it('claims only host facts before the first probe', () => {
    const { p } = prober([withDocker]);
    expect(p.current()).toEqual(base);
    expect(p.current().cpus).toBeGreaterThanOrEqual(1);
  });

  it('probes at start and tells listeners about changes only', async () => {
    const { p } = prober([withDocker, withDocker, withMic, withMic]);
    const seen: Capabilities[] = [];
    p.onChange((c) => seen.push(c));
    await p.start();
    expect(p.current()).toEqual(withDocker);
    await p.probeNow();
    await p.probeNow();
    await p.probeNow();
    expect(seen).toEqual([withDocker, withMic]);
  });

  it('keeps the last result when a probe run fails', async () => {
    const { p } = prober([withDocker, new Error('probe bug')]);
    await p.start();
    await p.probeNow();
    expect(p.current()).toEqual(withDocker);
  });

  it('re-probes every probe_interval_s until stopped', async () => {
    const { p, script } = prober([withDocker, withMic], { capabilities: { probe_interval_s: 1 } });
    await p.start();
    await script.until(2);
    expect(p.current()).toEqual(withMic);
    await p.stop();
    const after = script.calls;
    // longer than probe_interval_s: a probe after stop() would show at once
    await happensWithin(1200, () => script.calls !== after);
    expect(script.calls).toBe(after);
  });

  it('stops telling a listener after it unsubscribes', async () => {
    const { p } = prober([withDocker, withMic]);
    const seen: Capabilities[] = [];
    const off = p.onChange((c) => seen.push(c));
    await p.start();
    off();
    await p.probeNow();
    expect(seen).toEqual([withDocker]);
  });
});

describe('readLoad', () => {
  it('reports running agents, load per core and available memory within the host’s bounds', () => {
    const load = readLoad(3);
    expect(LoadSchema.parse(load)).toEqual(load);
    expect(load.runningAgents).toBe(3);
    expect(load.loadPerCore).toBeCloseTo(load.loadAvg1 / os.availableParallelism(), 1);
    expect(load.memFreeMiB).toBeGreaterThan(0);
    expect(load.memFreeMiB).toBeLessThanOrEqual(Math.round(os.totalmem() / 1024 / 1024));
  });

  it('never reports a negative or fractional agent count', () => {
    expect(readLoad(-2).runningAgents).toBe(0);
    expect(readLoad(2.7).runningAgents).toBe(2);
  });
});
