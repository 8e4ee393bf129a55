/**
 * Warm path over the mesh: `run lights on` placed by runAnywhere and carried by AgentHost.Run over
 * gRPC (mesh-proof auth, loopback) to a warm container on the host, against the bare container
 * stdin/stdout round trip (bench/agents/baseline.ts) measured in the same run. In between, the same
 * runs without gRPC (AgentRunner.run in process) split the cost into runner and gRPC.
 *
 * The gRPC variants run twice, over plaintext and over the mesh's TLS 1.3 with client certificates
 * (issue 11 point 7: the daemon always uses TLS; goal: TLS adds at most 0.5 ms to a warm run).
 *
 * Caller and host share this process (two RpcClients/RpcServer ends over 127.0.5.51); runs are
 * sequential, so that costs no parallelism. lights publishes to a real mosquitto (QoS 1, so each
 * run waits for the broker's PUBACK); echo does no host call and is the like-for-like comparison
 * with the bare baseline, which runs the echo image.
 *
 *   npx tsx bench/agenthost/warm.ts [--runs 500] [--json] [--lights]
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
import { ensureNodeTls } from '../../node/identity/index.js';
import type { PeerView } from '../../node/types.js';
import { ensureDockerEngine, removeContainers, removeImages } from '../../test/support/docker.js';
import { measureBareRoundTrip, percentiles, type Percentiles } from '../agents/baseline.js';
import { freePort } from '../../test/support/ports.js';
import { platformOfNodeArch } from '../../node/platform.js';

const PREFIX = 'helix-bench-ah-';
const HOST_ADDRESS = '127.0.5.51';
const RPC_PORT = await freePort();
const TLS_RPC_PORT = await freePort();
const MQTT_PORT = await freePort();

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '500' },
    warmup: { type: 'string', default: '20' },
    json: { type: 'boolean', default: false },
    // The lights variants need a home.call_service handler since lights switched to it; until
    // this bench gives the runner one they fail ("this node does not provide home.call_service").
    lights: { type: 'boolean', default: false },
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
  let tlsServer: RpcServer | undefined;
  let tlsClients: RpcClients | undefined;
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
        // what the settings overlay gives agents (node/settings/overlay.ts): the lights agent
        // reads its rooms from home.rooms
        home: {
          rooms: { kitchen: [{ id: 'kitchen_ceiling', name: 'kitchen_ceiling', dims: true }] },
        },
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
    const view = meshView(runner, RPC_PORT);
    // The same service over mesh TLS: certificates from the mesh CA, as the daemon makes them.
    const hostTls = await ensureNodeTls(path.join(dir, 'desk'), secret, {
      nodeId: 'id-desk',
      addresses: [HOST_ADDRESS],
    });
    const callerTls = await ensureNodeTls(path.join(dir, 'pi'), secret, {
      nodeId: 'id-pi',
      addresses: ['127.0.0.1'],
    });
    tlsServer = new RpcServer({
      addresses: [HOST_ADDRESS],
      port: TLS_RPC_PORT,
      secret,
      tls: hostTls.tls,
    });
    tlsServer.addService(
      AgentHostService,
      agentHostService({ executor: runnerExecutor(runner), self: { id: 'id-desk', name: 'desk' } }),
    );
    await tlsServer.start();
    tlsClients = new RpcClients({
      nodeId: 'id-pi',
      secret,
      transport: { kind: 'mesh', tls: callerTls.tls },
    });
    const tlsView = meshView(runner, TLS_RPC_PORT);

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
        'grpcTlsEcho',
        () =>
          lastOf<RemoteRunEvent>(
            runAnywhere({
              view: () => tlsView,
              clients: tlsClients!,
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
      [
        'grpcTlsLightsOn',
        () =>
          lastOf<RemoteRunEvent>(
            runAnywhere({
              view: () => tlsView,
              clients: tlsClients!,
              manifest: lights.manifest,
              imageHash: lights.hash,
              intent: 'on',
              args: { room: 'kitchen' },
              traceId: 'bench',
            }),
          ),
      ],
    ];
    if (!values.lights)
      variants.splice(0, variants.length, ...variants.filter(([name]) => !/Lights/.test(name)));
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
    tlsClients?.close();
    await server?.stop();
    await tlsServer?.stop();
    await runner?.stop();
    await publisher.close();
    broker.kill('SIGTERM');
    await removeContainers(docker, PREFIX);
    await removeImages(docker, PREFIX);
    await rm(dir, { recursive: true, force: true });
  }
}

/** This node (no Docker) and the host with its warm pool, as membership would show them. */
function meshView(runner: AgentRunner, rpcPort: number): PeerView[] {
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
      ports: { rpc: rpcPort, cluster: 0 },
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
  const rows: Array<[string, Percentiles | undefined]> = [
    ['bare stdin/stdout round trip (echo)', bare],
    ['AgentRunner.run echo, in process', r.runnerEcho as Percentiles],
    ['runAnywhere echo over gRPC', r.grpcEcho as Percentiles],
    ['runAnywhere echo over gRPC + TLS 1.3', r.grpcTlsEcho as Percentiles],
    ['AgentRunner.run lights on (MQTT QoS 1)', r.runnerLightsOn as Percentiles],
    ['runAnywhere lights on over gRPC', r.grpcLightsOn as Percentiles],
    ['runAnywhere lights on over gRPC + TLS 1.3', r.grpcTlsLightsOn as Percentiles],
  ];
  for (const [name, p] of rows) {
    if (!p) continue;
    console.log(
      `  ${name.padEnd(44)} p50 ${ms(p.p50).padStart(7)} ms (x${(p.p50 / bare.p50).toFixed(1)})   p99 ${ms(p.p99).padStart(7)} ms (x${(p.p99 / bare.p99).toFixed(1)})`,
    );
  }
  tlsCost(r);
}

function tlsCost(r: Record<string, Percentiles | number>): void {
  const delta = (tls: string, plain: string) =>
    (r[tls] as Percentiles).p50 - (r[plain] as Percentiles).p50;
  const lights = r.grpcTlsLightsOn
    ? `, lights on ${ms3(delta('grpcTlsLightsOn', 'grpcLightsOn'))} ms`
    : '';
  console.log(
    `  TLS cost at p50: echo ${ms3(delta('grpcTlsEcho', 'grpcEcho'))} ms${lights} (goal: at most 0.5 ms)`,
  );
}

function ms3(x: number): string {
  return (x >= 0 ? '+' : '') + x.toFixed(3);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
