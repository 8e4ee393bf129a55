/**
 * Route policy and route repair, as tables; then the RouteManager's timers and calls with
 * plain-object stand-ins for nats-server and discovery.
 */
import { describe, expect, it } from 'vitest';
import {
  RouteManager,
  RouteRepair,
  routeTargets,
  type NatsRoutez,
  type RouteServer,
} from '../../node/bus/index.js';
import type { RouteTarget } from '../../node/bus/index.js';
import type { PeerCandidate } from '../../node/types.js';
import { waitFor } from '../support/wait.js';

const c = (address: string, dial: PeerCandidate['dial'] = 'lower-address'): PeerCandidate => ({
  address,
  source: dial === 'always' ? 'static' : 'tailscale',
  dial,
});

describe('routeTargets: which candidates this node dials', () => {
  it.each<[string, PeerCandidate[], string, string[]]>([
    [
      'symmetric candidates only towards lower addresses',
      [c('10.0.0.1', 'lower-address'), c('10.0.0.5', 'lower-address'), c('10.0.0.9')],
      '10.0.0.5',
      ['10.0.0.1'],
    ],
    [
      'one-sided knowledge (static, invite) always',
      [c('10.0.0.9', 'always'), c('10.0.0.7', 'lower-address')],
      '10.0.0.5',
      ['10.0.0.9'],
    ],
    ['no dial field counts as symmetric', [c('10.0.0.4'), c('10.0.0.6')], '10.0.0.5', ['10.0.0.4']],
    [
      'addresses compare as numbers, not text',
      [c('10.0.0.10', 'lower-address'), c('10.0.0.9', 'lower-address')],
      '10.0.0.20',
      ['10.0.0.10', '10.0.0.9'],
    ],
    [
      'the lowest node dials only its always-peers',
      [c('100.64.0.2'), c('100.64.0.3'), c('100.64.0.4', 'always')],
      '100.64.0.1',
      ['100.64.0.4'],
    ],
    ['nothing to dial', [], '10.0.0.1', []],
  ])('%s', (_name, candidates, self, expected) => {
    expect(routeTargets(candidates, self).map((t) => t.address)).toEqual(expected);
  });
});

function routez(ids: string[]): NatsRoutez {
  return {
    server_id: 'self',
    now: new Date().toISOString(),
    num_routes: ids.length,
    routes: ids.map((id, i) => ({ rid: i, remote_id: id, ip: `10.0.0.${i + 1}`, port: 6222 })),
  };
}

class FakeServer implements RouteServer {
  readonly applied: RouteTarget[][] = [];
  readonly redialed: string[][] = [];
  ids: string[] = [];
  async redial(hosts: string[]): Promise<void> {
    this.redialed.push(hosts);
  }
  async setRoutes(routes: RouteTarget[]): Promise<boolean> {
    this.applied.push(routes);
    return true;
  }
  async routez(): Promise<NatsRoutez> {
    return routez(this.ids);
  }
}

function fakeDiscovery(initial: PeerCandidate[]) {
  let current = initial;
  const listeners = new Set<(c: PeerCandidate[]) => void>();
  return {
    candidates: () => current,
    onCandidates(l: (c: PeerCandidate[]) => void) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    set(next: PeerCandidate[]) {
      current = next;
      for (const l of listeners) l(next);
    },
    listeners,
  };
}

describe('RouteRepair', () => {
  it.each<[string, [configured: string[], routed: string[], at: number][], string[][]]>([
    [
      'a configured route that is up needs nothing',
      [
        [['a', 'b'], ['a', 'b'], 0],
        [['a', 'b'], ['a', 'b'], 5000],
      ],
      [[], []],
    ],
    [
      'a route missing 2 s is dialled again, once',
      [
        [['a', 'b'], ['a'], 0],
        [['a', 'b'], ['a'], 1999],
        [['a', 'b'], ['a'], 2000],
        [['a', 'b'], ['a'], 3000],
        [['a', 'b'], ['a'], 31_999],
      ],
      [[], [], ['b'], [], []],
    ],
    [
      'one still missing 30 s after its re-dial is dialled again',
      [
        [['b'], [], 0],
        [['b'], [], 2000],
        [['b'], [], 32_000],
      ],
      [[], ['b'], ['b']],
    ],
    [
      'a route that comes back starts a new count when it drops again',
      [
        [['b'], [], 0],
        [['b'], [], 2000],
        [['b'], ['b'], 3000],
        [['b'], [], 4000],
        [['b'], [], 6000],
      ],
      [[], ['b'], [], [], ['b']],
    ],
    [
      'a route by the peer (either direction) counts; unconfigured peers are not dialled',
      [
        [['a'], ['a', 'c'], 0],
        [['a'], ['a', 'c'], 9000],
      ],
      [[], []],
    ],
  ])('%s', (_name, steps, expected) => {
    const repair = new RouteRepair(2000, 30_000);
    expect(steps.map(([conf, routed, at]) => repair.observe(conf, routed, at))).toEqual(expected);
  });
});

describe('RouteManager', () => {
  it('dials a configured route again when routez lacks it', async () => {
    const server = new FakeServer();
    server.ids = ['a']; // routez: one route, from 10.0.0.1
    const manager = new RouteManager({
      server,
      discovery: fakeDiscovery([c('10.0.0.1'), c('10.0.0.2')]),
      selfAddress: '10.0.0.5',
      clusterPort: 6222,
      pollMs: 10,
      redialAfterMs: 30,
    });
    await manager.start();
    await waitFor(() => server.redialed.length > 0, { timeoutMs: 2000, what: 'a re-dial' });
    await manager.stop();
    expect(server.redialed[0]).toEqual(['10.0.0.2']);
  });

  it('points nats-server at the admitted targets, and again when discovery changes', async () => {
    const server = new FakeServer();
    const discovery = fakeDiscovery([
      c('10.0.0.1'),
      { ...c('10.0.0.2', 'always'), clusterPort: 7222 },
    ]);
    const manager = new RouteManager({
      server,
      discovery,
      selfAddress: '10.0.0.5',
      clusterPort: 6222,
      admit: (targets) => targets.filter((t) => t.address !== '10.0.0.3'),
    });
    await manager.start();
    expect(server.applied).toEqual([
      [
        { host: '10.0.0.1', port: 6222 },
        { host: '10.0.0.2', port: 7222 },
      ],
    ]);
    discovery.set([c('10.0.0.3'), c('10.0.0.4'), c('10.0.0.9')]);
    expect(server.applied.at(-1)).toEqual([{ host: '10.0.0.4', port: 6222 }]);
    await manager.stop();
    expect(discovery.listeners.size).toBe(0);
  });
});
