/**
 * Shared by the agent services tests (ports come from test/support/ports.ts): loopback
 * addresses 127.0.7.x, image and container names "helix-test-svc-…", and a daemon-like node:
 * RpcServer + ControlServer + startAgentServices on a real Docker engine, with a view that
 * holds this node as membership would (its advert read live).
 */
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import {
  startAgentServices,
  type AgentServices,
  type AgentServicesComponents,
} from '../../node/agenthost/index.js';
import type { Bus } from '../../node/bus/index.js';
import { DockerRuntime } from '../../node/agents/index.js';
import { parseConfig, type ConfigInput } from '../../node/config/index.js';
import { ControlServer, controlSocketPath } from '../../node/control/index.js';
import { addAgentRoutes } from '../../node/control/routes/index.js';
import { createLogger, silentLogger } from '../../node/log.js';
import { RpcClients, RpcServer } from '../../node/rpc/index.js';
import type { Capabilities, PeerView } from '../../node/types.js';
import { platformOfNodeArch } from '../../node/platform.js';
export { collect } from '../support/wait.js';

export const IMAGE_PREFIX = 'helix-test-svc-';
export const CONTAINER_PREFIX = 'helix-test-svc-';
export const EGRESS_NETWORK = 'helix-test-svc-egress';
export const testLogger = process.env.HELIX_TEST_LOG
  ? createLogger(process.env.HELIX_TEST_LOG)
  : silentLogger;

/** A temp folder holding copies of the named agents (shipped ones and this folder's fixtures). */
export async function agentsDir(names: string[]): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'helix-svc-agents-'));
  for (const name of names) {
    const shipped = path.resolve('agents', name);
    const fixture = path.resolve('test/agenthost/agents', name);
    const from = ['echo', 'lights', 'mesh', 'research', 'timer'].includes(name) ? shipped : fixture;
    await cp(from, path.join(dir, name), { recursive: true });
  }
  return dir;
}

export interface TestNodeOptions {
  docker: Docker;
  agents: string[];
  address: string;
  port: number;
  name?: string;
  config?: ConfigInput;
  bus?: Bus | null;
  capabilities?: Partial<Capabilities>;
  /** other nodes in this node's view */
  peers?: () => PeerView[];
  /** the mesh secret (nodes of one test mesh share it) */
  secret?: Buffer;
  extra?: Partial<AgentServicesComponents>;
}

export interface TestNode {
  id: string;
  name: string;
  stateDir: string;
  svc: AgentServices;
  rpc: RpcServer;
  clients: RpcClients;
  control: ControlServer;
  view: () => PeerView[];
  /** this node as a peer sees it in its view */
  asPeer: () => PeerView;
  stop(): Promise<void>;
}

/** A node as the daemon wires it: services registered before rpc.start(), then control. */
export async function startTestNode(o: TestNodeOptions): Promise<TestNode> {
  const name = o.name ?? 'desk';
  const id = `12D3KooWtest${name}${randomBytes(4).toString('hex')}`;
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'helix-svc-state-'));
  const dir = await agentsDir(o.agents);
  const secret = o.secret ?? randomBytes(32);
  const rpc = new RpcServer({
    addresses: [o.address],
    port: o.port,
    secret,
    shutdownTimeoutMs: 500,
  });
  const clients = new RpcClients({ nodeId: id, secret });
  const control = new ControlServer(controlSocketPath(stateDir), testLogger);
  // Several nodes share this process's loopback: each mirror takes a free port.
  const config = parseConfig({ registry: { port: 0 }, ...o.config });
  let svc: AgentServices | null = null;
  const self = (): PeerView => {
    const advert = svc?.advert() ?? { warmPool: [], images: [], runningAgents: 0 };
    return {
      id,
      name,
      state: 'alive',
      self: true,
      addresses: [o.address],
      version: 'test',
      capabilities: {
        mic: null,
        gpu: [],
        docker: { version: 'test', platform: platformOfNodeArch(process.arch) },
        stt: null,
        ollama: null,
        tts: [],
        go: true,
        cpus: 2,
        memTotalMiB: 4096,
        ...o.capabilities,
      },
      load: { runningAgents: advert.runningAgents, loadAvg1: 0, loadPerCore: 0, memFreeMiB: 2048 },
      warmPool: advert.warmPool,
      images: advert.images,
      rttMs: 0,
      lastSeenMs: 0,
      ports: { rpc: rpc.port, cluster: 0 },
    };
  };
  const view = () => [self(), ...(o.peers?.() ?? [])];
  svc = await startAgentServices({
    config,
    stateDir,
    identity: { id, name },
    rpc,
    clients,
    view,
    bus: o.bus ?? null,
    logger: testLogger,
    runtime: new DockerRuntime({
      docker: o.docker,
      egressNetwork: o.extra?.egressNetwork ?? EGRESS_NETWORK,
      log: testLogger,
    }),
    agentDirs: [dir],
    imagePrefix: IMAGE_PREFIX,
    containerPrefix: CONTAINER_PREFIX,
    egressNetwork: EGRESS_NETWORK,
    ...o.extra,
  });
  const started = svc;
  addAgentRoutes(control, started.control);
  await rpc.start();
  await control.start();
  return {
    id,
    name,
    stateDir,
    svc: started,
    rpc,
    clients,
    control,
    view,
    asPeer: () => ({ ...self(), self: false, rttMs: 1 }),
    async stop() {
      await control.stop();
      await started.stop();
      clients.close();
      await rpc.stop();
      await rm(stateDir, { recursive: true, force: true });
      await rm(dir, { recursive: true, force: true });
    },
  };
}
