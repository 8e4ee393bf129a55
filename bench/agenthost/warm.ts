/**
 * Warm path over the mesh: `run lights on` placed by runAnywhere and carried by AgentHost.Run over
 * gRPC (mesh-proof auth, loopback) to a warm container on the host, against the bare container
 * stdin/stdout round trip (bench/agents/baseline.ts) measured in the same run. In between, the same
 * runs without gRPC (AgentRunner.run in process) split the cost into runner and gRPC.
 *
 * Caller and host share this process (two RpcClients/RpcServer ends over 127.0.5.51); runs are
 * sequential, so that costs no parallelism. lights publishes to a real mosquitto (QoS 1, so each
 * run waits for the broker's PUBACK); echo does no host call and is the like-for-like comparison
 * with the bare baseline, which runs the echo image.
 *
 *   npx tsx bench/agenthost/warm.ts [--runs 500] [--json]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  AgentRunner,
  DockerRuntime,
  buildImage,
  createMqttPublisher,
  loadAgents,
} from '../../node/agents/index.js';
import type { RunEvent } from '../../node/agentspec/index.js';
import {
  agentHostService,
  runAnywhere,
  runnerExecutor,
  type RemoteRunEvent,
} from '../../node/agenthost/index.js';
import { hostOnlyCapabilities } from '../../node/capabilities/index.js';
import { AgentHostService, RpcClients, RpcServer } from '../../node/rpc/index.js';
import type { PeerView } from '../../node/types.js';
import { ensureDockerEngine, removeContainers, removeImages } from '../../test/support/docker.js';
import { measureBareRoundTrip, percentiles, type Percentiles } from '../agents/baseline.js';
import { freePort } from '../../test/support/ports.js';
import { platformOfNodeArch } from '../../node/platform.js';

const PREFIX = 'helix-bench-ah-';
const HOST_ADDRESS = '127.0.5.51';
const RPC_PORT = await freePort();
const MQTT_PORT = await freePort();

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '500' },
    warmup: { type: 'string', default: '20' },
    json: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const warmup = Number(values.warmup);

async function lastOf<T extends { type: string }>(events: AsyncIterable<T>): Promise<T> {
  let last: T | undefined;
  for await (const e of events) last = e;
  if (!last || last.type !== 'result') throw new Error(`run failed: ${JSON.stringify(last)}`);
  return last;
}

async function startMosquitto(dir: string): Promise<ChildProcess> {
  await chmod(dir, 0o755); // mosquitto started as root drops to its own user
  const conf = path.join(dir, 'mosquitto.conf');
  await writeFile(
    conf,
    [`listener ${MQTT_PORT} 127.0.0.1`, 'allow_anonymous true', 'persistence false', ''].join('\n'),
  );
  const broker = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(MQTT_PORT, '127.0.0.1', () => (s.end(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (up) return broker;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${MQTT_PORT}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<void> {
  const docker = await ensureDockerEngine();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'helix-bench-ah-'));
  const broker = await startMosquitto(dir);
  const publisher = createMqttPublisher({
    url: `mqtt://127.0.0.1:${MQTT_PORT}`,
    topicPrefix: 'zigbee2mqtt',
  });
  let runner: AgentRunner | undefined;
  let server: RpcServer | undefined;
  let clients: RpcClients | undefined;
  try {
    const agents = (await loadAgents([path.resolve('agents')])).filter(
      (a) => a.manifest.name === 'echo' || a.manifest.name === 'lights',
    );
    const built = new Map<string, string>();
    for (const a of agents)
      built.set(
        a.manifest.name,
        (await buildImage(a, { runtime: new DockerRuntime({ docker }), imagePrefix: PREFIX })).tag,
      );
    const echo = agents.find((a) => a.manifest.name === 'echo')!;
    const lights = agents.find((a) => a.manifest.name === 'lights')!;

    runner = new AgentRunner({
      runtime: new DockerRuntime({ docker }),
      agents,
      host: 'desk',
      imagePrefix: PREFIX,
      containerPrefix: PREFIX,
      warmPoolSize: 1,
      config: {
        mqtt: { base_topic: 'zigbee2mqtt' },
        lights: { rooms: { kitchen: ['kitchen_ceiling'] } },
      },
      handlers: { 'mqtt.publish': (params, ctx) => publisher.publish(params, ctx) },
    });
    await runner.start();
    const secret = randomBytes(32);
    server = new RpcServer({ addresses: [HOST_ADDRESS], port: RPC_PORT, secret });
    server.addService(
      AgentHostService,
      agentHostService({ executor: runnerExecutor(runner), self: { id: 'id-desk', name: 'desk' } }),
    );
    await server.start();
    clients = new RpcClients({ nodeId: 'id-pi', secret });
    const view = meshView(runner);

    // Interleaved (each round runs every variant once) so that load from elsewhere on the machine
    // hits all variants alike; the bare baseline runs half before and half after.
    const bareSamples = await measureBareRoundTrip(docker, built.get('echo')!, echo.manifest, {
      runs: Math.ceil(runs / 2),
      name: `${PREFIX}bare`,
    });
    const variants: Array<[string, () => Promise<unknown>]> = [
      [
        'runnerEcho',
        () =>
          lastOf<RunEvent>(runner!.run({ agent: 'echo', intent: 'echo', args: { text: 'ping' } })),
      ],
      [
        'grpcEcho',
        () =>
          lastOf<RemoteRunEvent>(
            runAnywhere({
              view: () => view,
              clients: clients!,
              manifest: echo.manifest,
              imageHash: echo.hash,
              intent: 'echo',
              args: { text: 'ping' },
              traceId: 'bench',
            }),
          ),
      ],
      [
        'runnerLightsOn',
        () =>
          lastOf<RunEvent>(
            runner!.run({ agent: 'lights', intent: 'on', args: { room: 'kitchen' } }),
          ),
      ],
      [
        'grpcLightsOn',
        () =>
          lastOf<RemoteRunEvent>(
            runAnywhere({
              view: () => view,
              clients: clients!,
              manifest: lights.manifest,
              imageHash: lights.hash,
              intent: 'on',
              args: { room: 'kitchen' },
              traceId: 'bench',
            }),
          ),
      ],
    ];
    const samples = new Map<string, number[]>(variants.map(([name]) => [name, []]));
    for (let i = 0; i < warmup + runs; i++) {
      for (const [name, once] of variants) {
        const t0 = process.hrtime.bigint();
        await once();
        if (i >= warmup) samples.get(name)!.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }
    bareSamples.push(
      ...(await measureBareRoundTrip(docker, built.get('echo')!, echo.manifest, {
        runs: Math.floor(runs / 2),
        name: `${PREFIX}bare`,
      })),
    );
    const results = {
      runs,
      loadAvg1: os.loadavg()[0]!,
      bareRoundTripEcho: percentiles(bareSamples),
      ...Object.fromEntries([...samples].map(([name, xs]) => [name, percentiles(xs)])),
    };
    report(results);
  } finally {
    clients?.close();
    await server?.stop();
    await runner?.stop();
    await publisher.close();
    broker.kill('SIGTERM');
    await removeContainers(docker, PREFIX);
    await removeImages(docker, PREFIX);
    await rm(dir, { recursive: true, force: true });
  }
}

/** This node (no Docker) and the host with its warm pool, as membership would show them. */
function meshView(runner: AgentRunner): PeerView[] {
  const base = {
    version: 'bench',
    lastSeenMs: 0,
    warmPool: [],
    images: [],
    capabilities: hostOnlyCapabilities({ cpus: os.cpus().length, memTotalMiB: 1024 }),
    load: { runningAgents: 0, loadAvg1: 0, loadPerCore: 0, memFreeMiB: 1024 },
  } satisfies Partial<PeerView>;
  return [
    {
      ...base,
      id: 'id-pi',
      name: 'pi',
      state: 'alive',
      self: true,
      addresses: ['127.0.0.1'],
      rttMs: 0,
      ports: { rpc: 1, cluster: 0 },
    },
    {
      ...base,
      id: 'id-desk',
      name: 'desk',
      state: 'alive',
      self: false,
      addresses: [HOST_ADDRESS],
      rttMs: 0.1,
      ports: { rpc: RPC_PORT, cluster: 0 },
      capabilities: {
        ...base.capabilities,
        docker: { version: 'bench', platform: platformOfNodeArch(process.arch) },
      },
      warmPool: runner.poolState(),
    },
  ];
}

function report(
  r: { runs: number; bareRoundTripEcho: Percentiles } & Record<string, Percentiles | number>,
): void {
  if (values.json) {
    console.log(JSON.stringify(r, null, 2));
    return;
  }
  const ms = (x: number) => (x < 10 ? x.toFixed(3) : x.toFixed(1));
  const bare = r.bareRoundTripEcho;
  console.log(
    `warm path, ${r.runs} runs each (after ${warmup} warm-up rounds), ${os.cpus().length} CPUs, load average ${(r.loadAvg1 as number).toFixed(1)}; ratios against the bare round trip`,
  );
  const rows: Array<[string, Percentiles]> = [
    ['bare stdin/stdout round trip (echo)', bare],
    ['AgentRunner.run echo, in process', r.runnerEcho as Percentiles],
    ['runAnywhere echo over gRPC', r.grpcEcho as Percentiles],
    ['AgentRunner.run lights on (MQTT QoS 1)', r.runnerLightsOn as Percentiles],
    ['runAnywhere lights on over gRPC', r.grpcLightsOn as Percentiles],
  ];
  for (const [name, p] of rows) {
    console.log(
      `  ${name.padEnd(40)} p50 ${ms(p.p50).padStart(7)} ms (x${(p.p50 / bare.p50).toFixed(1)})   p99 ${ms(p.p99).padStart(7)} ms (x${(p.p99 / bare.p99).toFixed(1)})`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
