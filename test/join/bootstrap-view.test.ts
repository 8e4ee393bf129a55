import { describe, expect, it } from 'vitest';
import {
  BootstrapView,
  compareNodes,
  type BootstrapAnnouncement,
  type BootstrapDecision,
} from '../../node/join/index.js';
import { compareAddresses } from '../../node/order.js';

const SELF = { nodeId: 'node-self', address: '100.64.0.5' };
const TIMINGS = { settleMs: 2000, forgetAfterMs: 5000 };

function peer(
  nodeId: string,
  address: string,
  phase: BootstrapAnnouncement['phase'] = 'bootstrapping',
): BootstrapAnnouncement {
  return { nodeId, address, rpcPort: 7700, phase };
}

/** The decision's action, reason and the address waited for, e.g. "wait lower-peer 100.64.0.2". */
function summary(d: BootstrapDecision): string {
  if (d.action === 'create') return 'create';
  return ['wait', d.reason, d.waitingFor?.address].filter(Boolean).join(' ');
}

interface Case {
  name: string;
  /** [time ms, announcement heard at that time] */
  heard: Array<[number, BootstrapAnnouncement]>;
  /** [time ms, expected decision summary] */
  expect: Array<[number, string]>;
}

const cases: Case[] = [
  {
    name: 'alone (only silent peers): settles, then creates',
    heard: [],
    expect: [
      [0, 'wait settling'],
      [1999, 'wait settling'],
      [2000, 'create'],
    ],
  },
  {
    name: 'lowest address among bootstrapping peers: creates once the view settled',
    heard: [
      [100, peer('b', '100.64.0.7')],
      [200, peer('c', '100.64.0.9')],
    ],
    expect: [
      [200, 'wait settling'],
      [2199, 'wait settling'],
      [2200, 'create'],
    ],
  },
  {
    name: 'a bootstrapping peer with a lower address: waits for it, however long',
    heard: [
      [100, peer('a', '100.64.0.2')],
      [4000, peer('a', '100.64.0.2')],
    ],
    expect: [
      [2100, 'wait lower-peer 100.64.0.2'],
      [8000, 'wait lower-peer 100.64.0.2'],
    ],
  },
  {
    name: 'a peer that has a mesh and is starting (even a higher one): waits for it',
    heard: [
      [100, peer('z', '100.64.0.200', 'starting')],
      [3000, peer('z', '100.64.0.200', 'starting')],
    ],
    expect: [
      [100, 'wait mesh-starting 100.64.0.200'],
      [7000, 'wait mesh-starting 100.64.0.200'],
    ],
  },
  {
    name: 'a peer appearing late restarts the settle window',
    heard: [[1500, peer('b', '100.64.0.8')]],
    expect: [
      [1000, 'wait settling'],
      [2500, 'wait settling'],
      [3499, 'wait settling'],
      [3500, 'create'],
    ],
  },
  {
    name: 'a lower peer that went silent is forgotten, then the next lowest creates',
    heard: [[0, peer('a', '100.64.0.2')]],
    expect: [
      [4000, 'wait lower-peer 100.64.0.2'],
      [5001, 'wait settling'],
      [7001, 'create'],
    ],
  },
  {
    name: 'a late request sent before the peer had a mesh does not make it a rival again',
    heard: [
      [100, peer('a', '100.64.0.2', 'starting')],
      [200, peer('a', '100.64.0.2', 'bootstrapping')],
    ],
    expect: [[3000, 'wait mesh-starting 100.64.0.2']],
  },
  {
    name: 'its own announcement (asked through a loop) is ignored',
    heard: [[100, peer(SELF.nodeId, '100.64.0.1')]],
    expect: [[2000, 'create']],
  },
  {
    name: 'addresses compare as numbers: 100.64.0.10 is above 100.64.0.5',
    heard: [
      [0, peer('b', '100.64.0.10')],
      [0, peer('c', '100.64.0.50')],
    ],
    expect: [[2000, 'create']],
  },
];

describe('deciding who creates the mesh', () => {
  it.each(cases)('$name', ({ heard, expect: checks }) => {
    const view = new BootstrapView(SELF, 0, TIMINGS);
    const events = [
      ...heard.map(([at, p]) => ({ at, hear: p })),
      ...checks.map(([at, want]) => ({ at, want })),
    ].sort((a, b) => a.at - b.at || ('hear' in a ? -1 : 1));
    for (const e of events) {
      if ('hear' in e) view.observe(e.hear, e.at);
      else expect(summary(view.decide(e.at)), `at ${e.at} ms`).toBe(e.want);
    }
  });
});

describe('ordering nodes', () => {
  it.each([
    ['100.64.0.9', '100.64.0.10', -1],
    ['100.64.1.0', '100.64.0.255', 1],
    ['127.0.8.1', '127.0.8.1', 0],
    ['100.64.0.1', 'fd7a:115c:a1e0::1', -1],
    ['fd7a:115c:a1e0::2', 'fd7a:115c:a1e0::1', 1],
  ])('%s against %s: %i', (a, b, sign) => {
    expect(Math.sign(compareAddresses(a, b))).toBe(sign);
  });

  it('breaks an address tie by node id, so every node picks the same one', () => {
    expect(
      compareNodes({ address: '10.0.0.1', nodeId: 'a' }, { address: '10.0.0.1', nodeId: 'b' }),
    ).toBeLessThan(0);
    expect(
      compareNodes({ address: '10.0.0.1', nodeId: 'b' }, { address: '10.0.0.1', nodeId: 'a' }),
    ).toBeGreaterThan(0);
  });
});
