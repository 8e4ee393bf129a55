/**
 * A Raspberry Pi beside laptops, on three real daemons in network namespaces (issue 12):
 *
 *   desk    no Docker: commands are given here
 *   laptop  a private dockerd of this machine's platform, and Go
 *   pi      a private dockerd configured as an arm64 host (agents.platform = "linux/arm64"; the
 *           engine runs arm64 under qemu-user-static through binfmt_misc), no Go, and Debian's
 *           mosquitto in its namespace (its [mqtt] url), watched by mosquitto_sub
 *
 * `lights on` pinned to pi: the arm64 image is cross-built on laptop (ImageStore.Fetch with build),
 * transferred, run under emulation, and the lights message arrives at mosquitto. An amd64 image
 * laptop offers is never fetched or started on pi. Skipped, saying what is missing, where the
 * kernel does not let qemu be registered. Bounded: set-up at most 110 s, each test at most 90 s.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
import type { AgentList } from '../../node/agenthost/index.js';
import { platformOfNodeArch } from '../../node/platform.js';
import { MQTT_PORT, MqttWatch, startBroker } from '../e2e/lab.js';
import { missingFor } from '../mesh/helpers.js';
import { emulationUnavailable } from '../support/emulation.js';
import { waitFor } from '../support/wait.js';
import { agentMeshAvailable, runAgent, useAgentMesh, waitForView } from './helpers.js';

const DESK = 'desk';
const LAPTOP = 'laptop';
const PI = 'pi';
const LAMP = 'garage_lamp';
const ROOMS = { lights: { rooms: { garage: [LAMP] } } };
const NATIVE = platformOfNodeArch(process.arch);

const missing =
  (agentMeshAvailable ? null : 'needs root, ip, nats-server, dockerd and go') ??
  missingFor([
    ['mosquitto', ['-h']],
    ['mosquitto_sub', ['--help']],
    ['stdbuf', ['--version']],
  ]) ??
  emulationUnavailable() ??
  (NATIVE === 'linux/arm64' ? 'this machine is arm64 already: pi would not be emulated' : null);
if (missing) console.warn(`[platforms mesh] skipped: ${missing}`);

/** Every agent image an engine holds: tag -> platform (from the image's own config). */
async function agentImages(docker: Docker): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const image of await docker.listImages({ filters: { label: ['helix.agent'] } })) {
    const info = (await docker.getImage(image.Id).inspect()) as {
      Os: string;
      Architecture: string;
      Variant?: string;
    };
    const platform = [info.Os, info.Architecture, info.Variant].filter(Boolean).join('/');
    for (const tag of image.RepoTags ?? []) out.set(tag, platform);
  }
  return out;
}

/** The platforms of the images of every container the engine created since `sinceS`. */
async function createdPlatforms(docker: Docker, sinceS: number): Promise<string[]> {
  const stream = (await docker.getEvents({
    since: sinceS,
    until: Math.ceil(Date.now() / 1000),
    filters: { type: ['container'], event: ['create'] },
  })) as NodeJS.ReadableStream;
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  const images = text
    .split('\n')
    .filter(Boolean)
    .map(
      (l) => (JSON.parse(l) as { Actor: { Attributes: { image: string } } }).Actor.Attributes.image,
    );
  const held = await agentImages(docker);
  return images.map((tag) => held.get(tag) ?? `unknown (${tag})`);
}

describe.skipIf(missing !== null)('an arm64 node beside amd64 nodes (emulated)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'helix-test-platform-mesh-'));
  // mosquitto drops to its own user and must read its config here
  chmodSync(dir, 0o755);
  let broker: ChildProcess | undefined;
  let watch: MqttWatch | undefined;
  const startedS = Math.floor(Date.now() / 1000) - 1;

  const agentMesh = useAgentMesh(
    {
      subnet: '100.64.108',
      nodes: [
        { name: DESK, config: ROOMS },
        { name: LAPTOP, docker: true, config: ROOMS },
        {
          name: PI,
          docker: true,
          go: false,
          platform: 'linux/arm64',
          config: { ...ROOMS, mqtt: { url: `mqtt://127.0.0.1:${MQTT_PORT}` } },
        },
      ],
    },
    {
      setup: async (m) => {
        broker = await startBroker(m.mesh, m.index(PI), dir);
        watch = await MqttWatch.start(m.mesh, m.index(PI), 'zigbee2mqtt/#');
      },
    },
  );
  const mesh = () => agentMesh().mesh;
  const desk = () => agentMesh().index(DESK);

  afterAll(async () => {
    await watch?.stop().catch(() => undefined);
    broker?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('each Docker node advertises the platform it runs agents as', async () => {
    await waitForView(mesh(), desk(), (view) => {
      const platforms = [LAPTOP, PI].map(
        (n) => view.find((p) => p.name === n)?.capabilities.docker?.platform,
      );
      return platforms[0] === NATIVE && platforms[1] === 'linux/arm64'
        ? true
        : `platforms advertised: ${platforms.join(', ')}`;
    });
  });

  it('runs lights on pi: cross-built on laptop, fetched, run under emulation, message at mosquitto', async () => {
    const from = watch!.messages.length;
    const run = await runAgent(mesh(), desk(), 'lights', 'on', {
      args: { room: 'garage' },
      extra: ['--on', PI],
      timeoutMs: 80_000,
    });
    expect(run.final, `${run.stderr}\n${JSON.stringify(run.events)}`).toMatchObject({
      type: 'result',
      hostName: PI,
    });
    const placed = run.events.find((e) => e.type === 'placed');
    expect(placed?.type === 'placed' && placed.reason).toMatch(
      /linux\/arm64.*will have the linux\/arm64 image built on laptop/,
    );
    const progress = run.events.flatMap((e) => (e.type === 'progress' ? [e.message] : []));
    const built = progress.find((m) => /^built for linux\/arm64 on laptop, \d+\.\d s$/.test(m));
    const fetched = progress.find((m) =>
      /^fetched \S+lights:[0-9a-f]{16}-linux-arm64 from laptop /.test(m),
    );
    expect(built, progress.join('\n')).toBeDefined();
    expect(fetched, progress.join('\n')).toBeDefined();
    console.log(`[platforms mesh] lights on pi: ${built}; ${fetched}`);

    const message = await watch!.next((m) => m.topic === `zigbee2mqtt/${LAMP}/set`, {
      from,
      timeoutMs: 10_000,
    });
    expect(message.payload).toMatch(/"state":"ON"/);

    // laptop holds the arm64 image it cross-built; pi holds only arm64 images.
    const onLaptop = await agentImages(agentMesh().engine(LAPTOP).docker);
    expect([...onLaptop.values()]).toContain('linux/arm64');
    const onPi = await agentImages(agentMesh().engine(PI).docker);
    expect([...onPi.entries()]).toEqual([
      [expect.stringMatching(/lights:.*-linux-arm64$/), 'linux/arm64'],
    ]);
  }, 90_000);

  it('never fetches or starts an amd64 image on pi, even one laptop offers', async () => {
    // laptop runs echo: its amd64 image becomes shareable, and pi sees it offered.
    const onLaptop = await runAgent(mesh(), desk(), 'echo', 'echo', {
      args: { text: 'laptop' },
      extra: ['--on', LAPTOP],
    });
    expect(onLaptop.final, onLaptop.stderr).toMatchObject({ type: 'result', hostName: LAPTOP });
    await waitForView(mesh(), agentMesh().index(PI), (view) =>
      view
        .find((p) => p.name === LAPTOP)
        ?.images.some((i) => i.agent === 'echo' && i.shareable && i.platform === NATIVE)
        ? true
        : `${LAPTOP} does not offer its ${NATIVE} echo yet`,
    );

    const onPi = await runAgent(mesh(), desk(), 'echo', 'echo', {
      args: { text: 'pi' },
      extra: ['--on', PI],
      timeoutMs: 80_000,
    });
    expect(onPi.final, onPi.stderr).toMatchObject({ type: 'result', text: 'pi', hostName: PI });
    const progress = onPi.events.flatMap((e) => (e.type === 'progress' ? [e.message] : []));
    expect(progress.filter((m) => m.includes(NATIVE.replaceAll('/', '-')))).toEqual([]);
    expect(progress.some((m) => /^built for linux\/arm64 on laptop/.test(m))).toBe(true);

    // Every container pi's engine ever created ran an arm64 image; it never held another.
    const created = await createdPlatforms(agentMesh().engine(PI).docker, startedS);
    expect(created.length).toBeGreaterThanOrEqual(2);
    expect(new Set(created)).toEqual(new Set(['linux/arm64']));
    const held = await agentImages(agentMesh().engine(PI).docker);
    expect(new Set(held.values())).toEqual(new Set(['linux/arm64']));

    // `agents list` shows, per agent, the platforms each node holds (peers' from their next
    // heartbeat: polled until it arrives).
    const want = { [LAPTOP]: [NATIVE, 'linux/arm64'].sort(), [PI]: ['linux/arm64'] };
    const byNode = await waitFor(
      async () => {
        const list = await mesh().cli(desk(), ['agents', 'list', '--json']);
        const echo = (JSON.parse(list.stdout) as AgentList).agents.find((a) => a.name === 'echo')!;
        const got = Object.fromEntries(
          echo.platforms.map((n) => [n.node, n.images.map((i) => i.platform).sort()]),
        );
        return JSON.stringify(got) === JSON.stringify(want) ? got : null;
      },
      { timeoutMs: 15_000, intervalMs: 500, what: 'agents list to show the platforms held' },
    );
    expect(byNode).toEqual(want);
  }, 90_000);

  it('agents build --platform builds for another platform, and refuses one agents are not built for', async () => {
    const laptop = agentMesh().index(LAPTOP);
    const ok = await mesh().cli(laptop, ['agents', 'build', 'echo', '--platform', 'linux/arm/v7']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^echo\s+\S+echo:[0-9a-f]{16}-linux-arm-v7\s+linux\/arm\/v7\s/m);

    const bad = await mesh().cli(laptop, ['agents', 'build', 'echo', '--platform', 'linux/s390x']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain(
      '"linux/s390x" is not a platform agents are built for; use one of linux/amd64, linux/arm64, linux/arm/v7',
    );
  }, 90_000);
});
