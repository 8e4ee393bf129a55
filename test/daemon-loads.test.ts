/**
 * What a node's daemon loads (issue 12, point 4: a node starts fast on small hardware): a node
 * without Docker, a mic, an MQTT broker, Home Assistant or mDNS never loads dockerode, mqtt, ws,
 * smart-whisper or multicast-dns, nor the libp2p key libraries, nor undici (global fetch); no
 * node loads an X.509 library, not even on its first start, when it makes its certificate. The
 * real daemon (`helix-node join` in a network namespace, subnet 100.64.150.x) runs with
 * test/support/load-recorder.mjs, which writes down every module it loads; the node runs until
 * its background work has been tried (the capability probes, the agent engine check, an MQTT
 * connection attempt) and leaves cleanly.
 * Timings are bench/node/start.ts's.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, helixNodeCommandWith, runsBundle } from './harness/index.js';
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
/**
 * Packages no node loads: certificates are our own DER and node:crypto (node/identity/x509.ts);
 * @peculiar/x509 and what it brought cost 2.3-3.5 MB on a first start (docs/architecture.md).
 */
const NEVER = ['@peculiar', 'reflect-metadata', 'tsyringe', 'asn1js', 'pvtsutils'];

/** The bundle's chunks (file URLs, as the recorder writes them) and the sources each holds. */
function bundleSources(): Map<string, string[]> {
  const chunks = new Map<string, string[]>();
  const meta = path.join(REPO_ROOT, 'dist', 'bundle', 'meta.json');
  if (!existsSync(meta)) return chunks;
  const { outputs } = JSON.parse(readFileSync(meta, 'utf8')) as {
    outputs: Record<string, { inputs: Record<string, unknown> }>;
  };
  for (const [out, { inputs }] of Object.entries(outputs))
    chunks.set(
      pathToFileURL(path.join(REPO_ROOT, out)).href,
      Object.keys(inputs).map((i) => `/${i}`),
    );
  return chunks;
}

/** The daemon as tsc builds it (one file per module) and as the minified bundle ships it. */
const BUILDS = [
  {
    name: 'the modules',
    bundle: false,
    // the recorder saw the daemon and what it does need (ES modules and CommonJS alike)
    sawDaemon: (files: string[], loaded: (pkg: string) => boolean) =>
      files.some((f) => /\/node\/daemon\.(js|ts)$/.test(f)) &&
      loaded('@nats-io/transport-node') &&
      loaded('pino'),
  },
  {
    name: 'the bundle',
    bundle: true,
    // the daemon's chunks, and thread-stream (pino's, kept outside the bundle: it spawns workers)
    sawDaemon: (files: string[], loaded: (pkg: string) => boolean) =>
      files.some((f) => f.includes('/dist/bundle/')) && loaded('thread-stream'),
  },
];

describe.skipIf(!meshAvailable)('what the daemon loads', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'helix-loads-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const runs = BUILDS.filter((b) => !b.bundle || runsBundle());
  const commands = runs.map((b) => helixNodeCommandWith({ bundle: b.bundle }));
  const mesh = useMeshHarness(() =>
    daemonMesh({
      nodes: runs.length,
      // each node alone (the other is not running when one is measured): no discovery at all
      tailnet: false,
      config: { discovery: { mdns: false } },
      subnet: '100.64.150',
      // debug: the MQTT attempt's line
      logLevel: 'debug',
      // no Docker engine is the harness's default (capabilities.docker_socket nowhere)
      node: (i) => ({
        env: { NODE_OPTIONS: `--import ${recorder}`, HX_LOAD_LOG: path.join(dir, `${i}.log`) },
      }),
      // node i runs build i
      command: {
        start: (n, extra, all) => commands[n.index]!.start(n, extra, all),
        cli: (n, args) => commands[n.index]!.cli(n, args),
      },
    }),
  );

  for (const [i, build] of runs.entries()) {
    it(`${build.name}: a node without Docker, a mic or a broker loads none of dockerode, mqtt, ws, smart-whisper, multicast-dns or libp2p, nor an X.509 library`, async () => {
      const m = mesh();
      m.startNode(i);
      await m.waitForStatus(i, { timeoutMs: 30_000 });
      // the background work a node without these parts still tries
      await waitFor(
        () =>
          ['capabilities changed', 'no Docker engine', 'home: mqtt error'].every((line) =>
            m.log(i).includes(line),
          ),
        { timeoutMs: 20_000, what: 'the capability probes, the engine check and an MQTT attempt' },
      );
      await m.stopNode(i);
      const loadLog = path.join(dir, `${i}.log`);
      expect(existsSync(loadLog), 'the recorder wrote nothing').toBe(true);
      const files = readFileSync(loadLog, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => l.slice(4));
      const loaded = (pkg: string) => files.some((f) => f.includes(`/node_modules/${pkg}/`));
      expect(build.sawDaemon(files, loaded), files.join('\n')).toBe(true);
      expect(LAZY.filter(loaded)).toEqual([]);
      // nor V8's optimising compiler: its work is the control plane only (node/v8-tier.ts)
      expect(m.log(i)).toContain('V8 runs its interpreter only');
      // its polls of local JSON (nats-server's /routez every second, Ollama's model list) go
      // through node:http: global fetch would load undici and its WebAssembly parser (~9 MB)
      expect(files, 'something called fetch').not.toContain('node:internal/deps/undici/undici');
      expect(files, 'the recorder saw no built-in module').toContain('node:http');
      // It made its mesh CA and certificate on this first start (a fresh node) with none of
      // them; a bundle chunk counts as every source esbuild put in it (dist/bundle/meta.json).
      expect(m.log(i)).toContain('issued this node a mesh certificate');
      const chunks = build.bundle ? bundleSources() : null;
      if (chunks) expect(chunks.size, 'dist/bundle/meta.json is missing').toBeGreaterThan(0);
      const sources = files.flatMap((f) => chunks?.get(f) ?? [f]);
      expect(
        sources.filter((f) => NEVER.some((pkg) => f.includes(`/node_modules/${pkg}/`))),
      ).toEqual([]);
    }, 90_000);
  }
});
