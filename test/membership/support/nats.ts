/**
 * Real nats-server processes clustered on loopback, and a Bus over @nats-io/transport-node for
 * the membership tests (node/bus's own connection is built elsewhere; this stays independent).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Bus, BusMessage, Subscription } from '../../../node/bus/types.js';
import { waitFor } from '../../support/wait.js';

export interface NatsServerSpec {
  name: string;
  host: string;
  clientPort: number;
  clusterPort: number;
  monitorPort: number;
  /** host:port of other servers' cluster listeners */
  routes: string[];
}

export interface RunningNatsServer {
  spec: NatsServerSpec;
  url: string;
  process: ChildProcess;
  /** SIGKILL, as a crash would */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after 3 s; resolves once the process has exited */
  stop(): Promise<void>;
  /** stdout+stderr so far, for failure messages */
  output(): string;
}

const NATS_SERVER = process.env.HELIX_TEST_NATS_SERVER ?? 'nats-server';

export async function startNatsServer(
  spec: NatsServerSpec,
  dir: string,
): Promise<RunningNatsServer> {
  const conf = path.join(dir, `${spec.name}.conf`);
  const routes = spec.routes.map((r) => `"nats-route://${r}"`).join(', ');
  await writeFile(
    conf,
    [
      `server_name: ${spec.name}`,
      `listen: "${spec.host}:${spec.clientPort}"`,
      `http: "${spec.host}:${spec.monitorPort}"`,
      'cluster {',
      '  name: helix-membership-test',
      `  listen: "${spec.host}:${spec.clusterPort}"`,
      `  routes: [${routes}]`,
      '}',
      '',
    ].join('\n'),
  );
  const child = spawn(NATS_SERVER, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));

  const stop = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(killer);
  };
  const server: RunningNatsServer = {
    spec,
    url: `nats://${spec.host}:${spec.clientPort}`,
    process: child,
    kill: () => stop('SIGKILL'),
    stop: () => stop('SIGTERM'),
    output: () => out,
  };
  try {
    await Promise.race([
      spawnError,
      waitFor(() => out.includes('Server is ready'), {
        timeoutMs: 10_000,
        what: `${spec.name} ready`,
      }),
      exited.then(() => {
        throw new Error(`nats-server ${spec.name} exited early:\n${out}`);
      }),
    ]);
  } catch (err) {
    await server.kill();
    throw err;
  }
  return server;
}

/** Number of routes a server has, from its monitoring endpoint. */
export async function routeCount(server: RunningNatsServer): Promise<number> {
  const { host, monitorPort } = server.spec;
  const res = await fetch(`http://${host}:${monitorPort}/routez`, {
    signal: AbortSignal.timeout(2000),
  });
  const body = (await res.json()) as { num_routes?: number };
  return body.num_routes ?? 0;
}

/** A Bus over one NATS client connection. */
export async function connectTestBus(url: string): Promise<Bus & { connection: NatsConnection }> {
  const nc = await connect({
    servers: url,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 100,
    timeout: 5000,
    // A node talks to its own server only; following the cluster's client URLs would let a
    // node whose server died keep beating through another one.
    ignoreClusterUpdates: true,
  });
  return {
    connection: nc,
    publish: (subject, data) => nc.publish(subject, data),
    subscribe(subject, onMessage: (msg: BusMessage) => void): Subscription {
      const sub = nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) return;
          onMessage({ subject: msg.subject, data: msg.data, respond: (d) => void msg.respond(d) });
        },
      });
      return { unsubscribe: () => sub.unsubscribe() };
    },
    async request(subject, data, { timeoutMs }) {
      const reply = await nc.request(subject, data, { timeout: timeoutMs });
      return reply.data;
    },
    flush: () => nc.flush(),
    close: () => nc.close(),
  };
}

export async function makeTempDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'helix-membership-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
