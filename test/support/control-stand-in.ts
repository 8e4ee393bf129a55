/**
 * A stand-in daemon on a state dir's control socket: `/v1/status` answers a one-node
 * helix.status/v1 report and `/v1/run` streams the events of a warm run (placed, accepted,
 * result) at once. For what the CLI itself costs and loads (test/cli/lazy-load.test.ts,
 * bench/cli/start.ts), without a node, nats-server or Docker.
 */
import http from 'node:http';
import { hostOnlyCapabilities } from '../../node/capabilities/index.js';
import { controlSocketPath } from '../../node/control/server.js';
import { statusReport } from '../../node/control/status.js';

export interface StandIn {
  /** requests answered, by path */
  readonly calls: string[];
  close(): Promise<void>;
}

export function standInStatus() {
  const self = {
    id: 'id-12D3KooWstandin1',
    name: 'standin',
    state: 'alive' as const,
    self: true,
    addresses: ['127.0.0.1'],
    version: '0.1.0',
    capabilities: hostOnlyCapabilities({ cpus: 2, memTotalMiB: 4096 }),
    load: { runningAgents: 0, loadAvg1: 0, loadPerCore: 0, memFreeMiB: 2048 },
    warmPool: [],
    images: [],
    rttMs: 0,
    lastSeenMs: 0,
    ports: { rpc: 7700, cluster: 6222 },
  };
  return statusReport({
    self: { id: self.id, shortId: self.id.slice(-8), name: self.name },
    meshId: 'mesh-standin',
    version: '0.1.0',
    address: '127.0.0.1',
    startedAt: Date.now(),
    tailnet: { kind: 'disabled' },
    routes: [],
    natsRestarts: 0,
    drops: {},
    view: [self],
  });
}

export async function startControlStandIn(stateDir: string): Promise<StandIn> {
  const calls: string[] = [];
  const status = JSON.stringify(standInStatus());
  const server = http.createServer((req, res) => {
    req.resume();
    const url = req.url ?? '/';
    calls.push(url);
    if (url.startsWith('/v1/status')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(status);
    } else if (url.startsWith('/v1/run')) {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      const events = [
        {
          type: 'placed',
          node: 'standin',
          nodeId: 'id',
          warm: true,
          reason: 'warm here',
          attempt: 1,
        },
        { type: 'accepted', hostNode: 'id', hostName: 'standin', warm: true },
        { type: 'result', text: 'echo', data: { echo: true }, hostName: 'standin' },
      ];
      res.end(events.map((event) => JSON.stringify({ type: 'event', event }) + '\n').join(''));
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ error: { name: 'UsageError', message: `no route ${url}`, exitCode: 64 } }),
      );
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(controlSocketPath(stateDir), resolve);
  });
  return {
    calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
