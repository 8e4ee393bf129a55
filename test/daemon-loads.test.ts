/**
 * What a node's daemon loads (issue 12, point 4: a node starts fast on small hardware): a node
 * without Docker, a mic, an MQTT broker, Home Assistant or mDNS never loads dockerode, mqtt, ws,
 * smart-whisper or multicast-dns, nor the libp2p key libraries. The real daemon (`helix-node join`
 * in a network namespace, subnet 100.64.150.x) runs with test/support/load-recorder.mjs, which
 * writes down every module it loads; the node runs until its background work has been tried (the
 * capability probes, the agent engine check, an MQTT connection attempt) and leaves cleanly.
 * Timings are bench/node/start.ts's.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './harness/index.js';
import { useMeshHarness } from './harness/vitest.js';
import { daemonMesh, meshAvailable } from './mesh/helpers.js';
import { waitFor } from './support/wait.js';

const recorder = path.join(REPO_ROOT, 'test', 'support', 'load-recorder.mjs');
/** Packages a node may not need, each loaded only when its part is used. */
const LAZY = [
  'dockerode',
  'mqtt',
  'ws',
  'smart-whisper',
  'multicast-dns',
  '@libp2p/crypto',
  '@libp2p/peer-id',
  '@noble/curves',
];

describe.skipIf(!meshAvailable)('what the daemon loads', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'helix-loads-'));
  const loadLog = path.join(dir, 'loads.log');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const mesh = useMeshHarness(() =>
    daemonMesh({
      nodes: 1,
      subnet: '100.64.150',
      // debug: the MQTT attempt's line
      logLevel: 'debug',
      // no Docker engine is the harness's default (capabilities.docker_socket nowhere)
      node: () => ({ env: { NODE_OPTIONS: `--import ${recorder}`, HX_LOAD_LOG: loadLog } }),
    }),
  );

  it('a node without Docker, a mic or a broker loads none of dockerode, mqtt, ws, smart-whisper, multicast-dns or libp2p', async () => {
    const m = mesh();
    m.startNode(0);
    await m.waitForStatus(0, { timeoutMs: 30_000 });
    // the background work a node without these parts still tries
    await waitFor(
      () =>
        ['capabilities changed', 'no Docker engine', 'home: mqtt error'].every((line) =>
          m.log(0).includes(line),
        ),
      { timeoutMs: 20_000, what: 'the capability probes, the engine check and an MQTT attempt' },
    );
    await m.stopNode(0);
    expect(existsSync(loadLog), 'the recorder wrote nothing').toBe(true);
    const files = readFileSync(loadLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(4));
    const loaded = (pkg: string) => files.some((f) => f.includes(`/node_modules/${pkg}/`));
    // the recorder saw the daemon and what it does need (ES modules and CommonJS alike)
    expect(files.some((f) => /\/node\/daemon\.(js|ts)$/.test(f))).toBe(true);
    expect(loaded('@nats-io/transport-node')).toBe(true);
    expect(loaded('pino')).toBe(true);
    expect(LAZY.filter(loaded)).toEqual([]);
  }, 60_000);
});
