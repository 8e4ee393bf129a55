/**
 * Test scaffolding for real nats-server processes. Every supervisor, bus, pid and temp dir made
 * here is tracked and removed by cleanup(), which each test file calls from afterEach.
 * Addresses: 127.0.1.1-127.0.1.20 only; ports come from the OS (test/support/ports.ts).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  connectBus,
  NatsSupervisor,
  routedServers,
  type Bus,
  type NatsSupervisorOptions,
  type RouteTarget,
} from '../../node/bus/index.js';
import { natsCredentials } from '../../node/identity/derive.js';
import { silentLogger, createLogger, type Logger } from '../../node/log.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

export const testLogger: Logger = process.env.HELIX_TEST_LOG
  ? createLogger(process.env.HELIX_TEST_LOG)
  : silentLogger;

export interface TestNode {
  sup: NatsSupervisor;
  cluster: RouteTarget;
  clientPort: number;
  clientCreds: { user: string; pass: string };
  /** every pid this node's supervisor started */
  pids: number[];
}

export class BusHarness {
  private readonly supervisors: NatsSupervisor[] = [];
  private readonly buses: Bus[] = [];
  private readonly dirs: string[] = [];
  private readonly pids = new Set<number>();

  async tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'helix-bus-test-'));
    this.dirs.push(dir);
    return dir;
  }

  /** Options for a node at `host` with credentials derived from `secret` (fresh ports and dir). */
  async options(
    host: string,
    secret: Uint8Array,
    extra: Partial<NatsSupervisorOptions> = {},
  ): Promise<NatsSupervisorOptions> {
    const [clusterPort, clientPort, monitorPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    return {
      natsServerPath: 'nats-server',
      confDir: await this.tempDir(),
      logger: testLogger,
      backoffMs: 100,
      serverName: `test-${host.replace(/\./g, '-')}-${clusterPort}`,
      clusterName: 'helix-test',
      clientHost: '127.0.0.1',
      clientPort,
      clientCreds: natsCredentials(secret, 'nats-client'),
      monitorPort,
      clusterHost: host,
      clusterPort,
      routeCreds: natsCredentials(secret, 'nats-route'),
      ...extra,
    };
  }

  /** A supervisor for a node at `host` with credentials derived from `secret`; not started. */
  async node(
    host: string,
    secret: Uint8Array,
    extra: Partial<NatsSupervisorOptions> = {},
  ): Promise<TestNode> {
    const o = await this.options(host, secret, extra);
    const sup = new NatsSupervisor(o);
    const clientPort = o.clientPort;
    const clusterPort = o.clusterPort;
    const clientCreds = o.clientCreds;
    this.supervisors.push(sup);
    const pids: number[] = [];
    sup.on((e) => {
      if (e.type === 'started') {
        pids.push(e.pid);
        this.pids.add(e.pid);
      }
    });
    return { sup, cluster: { host, port: clusterPort }, clientPort, clientCreds, pids };
  }

  /** node() + setRoutes + start() */
  async started(
    host: string,
    secret: Uint8Array,
    routes: RouteTarget[] = [],
    extra: Partial<NatsSupervisorOptions> = {},
  ): Promise<TestNode> {
    const n = await this.node(host, secret, extra);
    await n.sup.setRoutes(routes);
    await n.sup.start();
    return n;
  }

  async bus(n: TestNode, name = 'test'): Promise<Bus> {
    const bus = await connectBus({
      port: n.clientPort,
      creds: n.clientCreds,
      name,
      logger: testLogger,
      signal: AbortSignal.timeout(10_000),
    });
    this.buses.push(bus);
    return bus;
  }

  trackPid(pid: number): void {
    this.pids.add(pid);
  }

  /** Closes buses, stops supervisors, kills anything still alive, removes temp dirs. */
  async cleanup(): Promise<void> {
    // a SIGSTOPped server would sit on SIGTERM until the stop timeout
    for (const pid of this.pids) signal(pid, 'SIGCONT');
    await Promise.allSettled(this.buses.splice(0).map((b) => b.close()));
    await Promise.allSettled(this.supervisors.splice(0).map((s) => s.stop()));
    for (const pid of this.pids) signal(pid, 'SIGKILL');
    this.pids.clear();
    await Promise.allSettled(
      this.dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })),
    );
  }
}

export function newSecret(): Uint8Array {
  return randomBytes(32);
}

export function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Running (a zombie, which runs nothing and holds no port, counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** Pids of running processes whose command line contains `needle` (e.g. a config path). */
export async function pidsWithArg(needle: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const status = await readFile(`/proc/${entry}/status`, 'utf8').catch(() => '');
    if (/^State:\s+Z/m.test(status)) continue; // a zombie holds no port and runs nothing
    if (cmdline.split('\0').includes(needle)) found.push(Number(entry));
  }
  return found;
}

/** Server ids of the peers this node has a route to right now. */
export async function routedIds(n: TestNode): Promise<string[]> {
  const routez = await n.sup.routez();
  return routedServers(routez)
    .map((r) => r.remote_id)
    .sort();
}

export async function serverId(n: TestNode): Promise<string> {
  return (await n.sup.varz()).server_id;
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Collects what a subscription receives. */
export function collect(bus: Bus, subject: string): { messages: string[]; stop: () => void } {
  const messages: string[] = [];
  const sub = bus.subscribe(subject, (m) => messages.push(dec(m.data)));
  return { messages, stop: () => sub.unsubscribe() };
}

/**
 * Publishes `payload` every 100 ms until `received()` says it arrived: subscription interest
 * takes a moment to cross routes, and a reconnecting client takes a moment to come back.
 */
export async function publishUntil(
  bus: Bus,
  subject: string,
  payload: string,
  received: () => boolean,
  timeoutMs = 15_000,
  intervalMs = 100,
): Promise<void> {
  await waitFor(
    async () => {
      bus.publish(subject, enc(payload));
      // a flush waits for the server; while reconnecting that could be long
      await Promise.race([
        bus.flush().catch(() => undefined),
        new Promise((r) => setTimeout(r, 500)),
      ]);
      return received();
    },
    { timeoutMs, intervalMs, what: `"${payload}" on ${subject} to arrive` },
  );
}
