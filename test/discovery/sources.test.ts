import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../node/config/index.js';
import {
  ADVERT_RANK,
  builtInSources,
  ListSource,
  ChangeListeners,
  Discovery,
  INVITE_RANK,
  MDNS_RANK,
  mergeCandidates,
  STATIC_RANK,
  TAILSCALE_RANK,
  type DiscoverySource,
  type SourceContext,
} from '../../node/discovery/index.js';
import { silentLogger } from '../../node/log.js';
import type { PeerCandidate } from '../../node/types.js';
import { tailscaleFixture } from '../fixtures/tailscale.js';

/** A plug-in source as a plain object: no change to Discovery needed. */
function plainSource(name: string, rank: number, list: Omit<PeerCandidate, 'source'>[]) {
  const changes = new ChangeListeners();
  let peers = list.map((c) => ({ ...c, source: name }));
  const calls: string[] = [];
  const source = {
    name,
    rank,
    async start(ctx: SourceContext) {
      calls.push(`start ${ctx.meshAddress()}`);
      ctx.signal.addEventListener('abort', () => calls.push('aborted'));
    },
    async stop() {
      calls.push('stop');
    },
    async refresh() {
      calls.push('refresh');
    },
    candidates: () => peers,
    selfAddresses: () => ['10.9.9.9'],
    onChange: (listener: () => void) => changes.add(listener),
    /** test hook: the source found something */
    found(next: Omit<PeerCandidate, 'source'>[]) {
      peers = next.map((c) => ({ ...c, source: name }));
      changes.emit();
    },
  } satisfies DiscoverySource & Record<string, unknown>;
  return { source, calls };
}

const started: Discovery[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((d) => d.stop()));
});

function discovery(sources: DiscoverySource[], config: object = {}): Discovery {
  const d = new Discovery({
    config: parseConfig({ mesh: { address: '10.0.0.1' }, ...config }),
    tailscale: null,
    mdnsEnabled: false,
    interfaces: () => ({}),
    sources,
  });
  started.push(d);
  return d;
}

describe('DiscoverySource contract', () => {
  it.each([
    { source: 'static', rank: STATIC_RANK, dial: 'always' },
    { source: 'advert', rank: ADVERT_RANK, dial: 'lower-address' },
    { source: 'invite', rank: INVITE_RANK, dial: 'always' },
    { source: 'tailscale', rank: TAILSCALE_RANK, dial: 'lower-address' },
    { source: 'mdns', rank: MDNS_RANK, dial: 'lower-address' },
  ])('built-in $source: rank $rank, its peers dialled $dial', async ({ source, rank, dial }) => {
    const all = builtInSources({
      config: parseConfig({ discovery: { mdns: true, static_peers: ['10.0.0.7'] } }),
      logger: silentLogger,
      tailscale: {
        status: async () => tailscaleFixture('status-running.json'),
        whois: () => Promise.reject(new Error('not used')),
        ip4: async () => [],
      },
      // a stand-in mDNS that hears one peer as it starts
      startMdns: async (opts) => {
        opts.onPeer({ address: '10.0.0.8', source: 'mdns', peerId: 'peer' });
        return { peerId: 'self', stop: async () => {} };
      },
    });
    const s = all.find((x) => x.name === source);
    if (!s) throw new Error(`no built-in source ${source}`);
    expect(s.rank).toBe(rank);
    if (s instanceof ListSource && s.candidates().length === 0) s.set([{ address: '10.0.0.9' }]);
    const poll = (s as DiscoverySource).refresh;
    const ctx = {
      signal: new AbortController().signal,
      logger: silentLogger,
      meshAddress: () => '127.0.0.1',
    };
    await poll?.call(s, ctx.signal);
    await s.start(ctx);
    expect(s.candidates().length).toBeGreaterThan(0);
    for (const c of s.candidates()) expect(c).toMatchObject({ source, dial });
    await s.stop();
  });

  it.each([
    {
      what: 'the lower rank wins an address; the other fills what it left open',
      sources: [
        {
          rank: 5,
          list: [{ address: '10.0.0.2', name: 'pi', rpcPort: 7700, dial: 'lower-address' }],
        },
        { rank: 1, list: [{ address: '10.0.0.2', clusterPort: 7222, dial: 'always' }] },
      ],
      want: [
        {
          address: '10.0.0.2',
          source: 's1',
          dial: 'always',
          clusterPort: 7222,
          name: 'pi',
          rpcPort: 7700,
        },
      ],
    },
    {
      what: 'equal ranks: the earlier source wins',
      sources: [
        { rank: 2, list: [{ address: '10.0.0.2', name: 'first', dial: 'always' }] },
        { rank: 2, list: [{ address: '10.0.0.2', name: 'second', dial: 'lower-address' }] },
      ],
      want: [{ address: '10.0.0.2', source: 's0', dial: 'always', name: 'first' }],
    },
    {
      what: 'own addresses are never candidates; the rest sort by address',
      sources: [
        {
          rank: 0,
          list: [
            { address: '10.0.0.10', dial: 'always' },
            { address: '10.0.0.1', dial: 'always' },
          ],
        },
        { rank: 3, list: [{ address: '10.0.0.9', dial: 'lower-address' }] },
      ],
      want: [
        { address: '10.0.0.9', source: 's1', dial: 'lower-address' },
        { address: '10.0.0.10', source: 's0', dial: 'always' },
      ],
    },
  ] as const)('merge: $what', ({ sources, want }) => {
    const list = sources.map((s, i) => ({
      rank: s.rank,
      candidates: () => s.list.map((c) => ({ ...c, source: `s${i}` })),
    }));
    expect(mergeCandidates(list, new Set(['10.0.0.1']))).toEqual(want);
  });

  it('takes a plain-object source without touching Discovery: started, polled, merged by its rank, stopped', async () => {
    const lan = plainSource('bluetooth', 0.5, [
      { address: '10.0.0.5', dial: 'always', name: 'speaker' },
      { address: '10.9.9.9', dial: 'always' },
    ]);
    const d = discovery([lan.source], { discovery: { static_peers: ['10.0.0.5:7222'] } });
    const seen: PeerCandidate[][] = [];
    d.onCandidates((c) => seen.push(c));
    await d.start();
    expect(lan.calls).toEqual(['refresh', 'start 10.0.0.1']);
    // static (rank 0) beats the plug-in (0.5) and keeps its port; the plug-in fills the name.
    // 10.9.9.9 is the plug-in's own address: never a candidate.
    expect(d.candidates()).toEqual([
      { address: '10.0.0.5', source: 'static', dial: 'always', clusterPort: 7222, name: 'speaker' },
    ]);
    lan.source.found([{ address: '10.0.0.6', dial: 'lower-address' }]);
    expect(seen.at(-1)).toEqual([
      { address: '10.0.0.5', source: 'static', dial: 'always', clusterPort: 7222 },
      { address: '10.0.0.6', source: 'bluetooth', dial: 'lower-address' },
    ]);
    await d.stop();
    expect(lan.calls.slice(2)).toEqual(['aborted', 'stop']);
  });

  it('advert and invite stay sources fed from outside; the source sets name and dial', () => {
    const d = discovery([]);
    d.setExtraCandidates('advert', [{ address: '10.0.0.2', source: 'x', dial: 'always' }]);
    d.setExtraCandidates('invite', [{ address: '10.0.0.3' }]);
    expect(d.candidates()).toEqual([
      { address: '10.0.0.2', source: 'advert', dial: 'lower-address' },
      { address: '10.0.0.3', source: 'invite', dial: 'always' },
    ]);
  });
});
