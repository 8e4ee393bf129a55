/**
 * Stand-in node programs for testing the harness itself (and dry-running the benchmark) while the
 * daemon is elsewhere: toy-node.mjs (UDP heartbeats, a status view) and bare nats-server.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MeshCommand, MeshNodeInfo } from './mesh.js';

export const TOY_NODE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'toy-node.mjs');

function others(node: MeshNodeInfo, all: readonly MeshNodeInfo[]): MeshNodeInfo[] {
  return all.filter((o) => o.index !== node.index);
}

/** toy-node.mjs: heartbeats every 100 ms; suspect and dead after the given silences. */
export function toyNodeCommand({ suspectMs = 600, deadMs = 1500 } = {}): MeshCommand {
  return {
    start: (n, extra, all) => [
      process.execPath,
      TOY_NODE,
      'join',
      ...['--state-dir', n.stateDir, '--name', n.name, '--address', n.address],
      ...[
        '--peers',
        others(n, all)
          .map((o) => o.address)
          .join(','),
      ],
      ...['--suspect-ms', String(suspectMs), '--dead-ms', String(deadMs)],
      ...extra,
    ],
    cli: (n, args) => [process.execPath, TOY_NODE, ...args, '--state-dir', n.stateDir],
  };
}

/**
 * nats-server per node: clients and monitoring (8222) on loopback, cluster routes on the mesh
 * address. seedOnly: routes to node 0 only (gossip completes the mesh); else to every other node.
 */
export function natsServerCommand({ seedOnly = false, bin = 'nats-server' } = {}): MeshCommand {
  return {
    start: (n, extra, all) => {
      const peers = seedOnly
        ? all.filter((o) => o.index === 0 && o.index !== n.index)
        : others(n, all);
      return [
        bin,
        ...['-a', '127.0.0.1', '-p', '4222', '-m', '8222', '-n', n.name],
        ...['--cluster_name', 'hxt', '--cluster', `nats://${n.address}:6222`],
        ...(peers.length
          ? ['--routes', peers.map((o) => `nats://${o.address}:6222`).join(',')]
          : []),
        ...extra,
      ];
    },
    cli: (_n, args) => ['echo', ...args],
  };
}
