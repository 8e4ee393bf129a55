/**
 * Real nats-server processes clustered on loopback, with ports the OS picks (port -1: the server
 * binds port 0 and logs the port it got, which is read back here), and settings nodes on them.
 * Shared by the replication tests and bench/settings/converge.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectBus, type Bus } from '../../../node/bus/index.js';
import { silentLogger, type Logger } from '../../../node/log.js';
import { SettingsService } from '../../../node/settings/index.js';

const NATS_SERVER = process.env.HELIX_TEST_NATS_SERVER ?? 'nats-server';
const HOST = '127.0.0.1';

export interface MeshServer {
  name: string;
  clientPort: number;
  clusterPort: number;
  /** SIGKILL, as a crash or a pulled cable would look to the others */
  kill(): Promise<void>;
  /** start again on the same ports, with routes to `routes` (cluster ports) */
  restart(routes: number[]): Promise<void>;
  output(): string;
}

export interface SettingsNode {
  id: string;
  server: MeshServer;
  bus: Bus;
  service: SettingsService;
  stateDir: string;
}

export class SettingsMesh {
  readonly meshId = 'mesh-test';
  readonly secret = randomBytes(32);
  readonly servers: MeshServer[] = [];
  readonly nodes: SettingsNode[] = [];
  #dir: string | null = null;
  #children = new Set<ChildProcess>();

  constructor(
    readonly options: { digestIntervalMs?: number; logger?: Logger; maxMessageBytes?: number } = {},
  ) {}

  async dir(): Promise<string> {
    this.#dir ??= await mkdtemp(path.join(tmpdir(), 'helix-settings-mesh-'));
    return this.#dir;
  }

  /** A nats-server routed to the given cluster ports (the first needs none: gossip does the rest). */
  async server(name: string, routes: number[] = []): Promise<MeshServer> {
    const dir = await this.dir();
    let ports = { client: -1, cluster: -1 };
    let child: ChildProcess | null = null;
    let out = '';
    const start = async (routeTo: number[]) => {
      const conf = path.join(dir, `${name}.conf`);
      await writeFile(
        conf,
        [
          `server_name: ${name}`,
          `host: ${HOST}`,
          `port: ${ports.client}`,
          'cluster {',
          '  name: helix-settings-test',
          `  host: ${HOST}`,
          `  port: ${ports.cluster}`,
          `  routes: [${routeTo.map((p) => `"nats-route://${HOST}:${p}"`).join(', ')}]`,
          '}',
          '',
        ].join('\n'),
      );
      out = '';
      const c = spawn(NATS_SERVER, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      this.#children.add(c);
      c.once('exit', () => this.#children.delete(c));
      c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      c.stderr?.on('data', (d: Buffer) => (out += d.toString()));
      // the route listener may log after "Server is ready": wait for both ports
      const client = () => /Listening for client connections on [\d.]+:(\d+)/.exec(out);
      const cluster = () => /Listening for route connections on [\d.]+:(\d+)/.exec(out);
      await waitFor(
        `${name} to log its ports`,
        () => (out.includes('Server is ready') && !!client() && !!cluster()) || c.exitCode !== null,
        10_000,
      );
      if (c.exitCode !== null) throw new Error(`nats-server ${name} exited:\n${out}`);
      ports = { client: Number(client()![1]), cluster: Number(cluster()![1]) };
    };
    await start(routes);
    const server: MeshServer = {
      name,
      get clientPort() {
        return ports.client;
      },
      get clusterPort() {
        return ports.cluster;
      },
      kill: async () => {
        const c = child;
        if (!c || c.exitCode !== null || c.signalCode !== null) return;
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGKILL');
        await exited;
      },
      restart: (routeTo) => start(routeTo),
      output: () => out,
    };
    this.servers.push(server);
    return server;
  }

  /** `count` servers, each routed to the first. */
  async cluster(count: number): Promise<MeshServer[]> {
    const first = await this.server('s0');
    const rest: MeshServer[] = [];
    for (let i = 1; i < count; i++) rest.push(await this.server(`s${i}`, [first.clusterPort]));
    return [first, ...rest];
  }

  /** A settings node on `server` (its own state dir, its own bus client), started. */
  async node(id: string, server: MeshServer, stateDir?: string): Promise<SettingsNode> {
    const dir = stateDir ?? (await mkdtemp(path.join(await this.dir(), `${id}-`)));
    const logger = this.options.logger ?? silentLogger;
    const bus = await connectBus({
      port: server.clientPort,
      creds: { user: 'helix', pass: 'unused' },
      name: id,
      logger,
      signal: AbortSignal.timeout(10_000),
      reconnectTimeWaitMs: 50,
    });
    const service = new SettingsService({
      stateDir: dir,
      selfId: id,
      meshId: this.meshId,
      secret: this.secret,
      bus,
      logger,
      digestIntervalMs: this.options.digestIntervalMs ?? 250,
      ...(this.options.maxMessageBytes && { maxMessageBytes: this.options.maxMessageBytes }),
    });
    await service.start();
    const node = { id, server, bus, service, stateDir: dir };
    this.nodes.push(node);
    return node;
  }

  async stopNode(node: SettingsNode): Promise<void> {
    const i = this.nodes.indexOf(node);
    if (i >= 0) this.nodes.splice(i, 1);
    await node.service.stop();
    await node.bus.close();
  }

  async cleanup(): Promise<void> {
    await Promise.allSettled(this.nodes.splice(0).map((n) => this.stopNode(n)));
    await Promise.allSettled(this.servers.splice(0).map((s) => s.kill()));
    for (const c of this.#children) c.kill('SIGKILL');
    if (this.#dir) await rm(this.#dir, { recursive: true, force: true });
  }
}

/** Every node holds exactly the same writes. */
export function converged(nodes: SettingsNode[]): boolean {
  const states = nodes.map((n) => JSON.stringify(sorted(n.service.store.entries())));
  return states.every((s) => s === states[0]);
}

function sorted<T extends { key: string }>(xs: T[]): T[] {
  return [...xs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Polls `check` every 10 ms until true; throws naming `what` after timeoutMs. */
export async function waitFor(
  what: string,
  check: () => boolean,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
