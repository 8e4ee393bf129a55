import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../node/config/index.js';
import { DependencyMissingError } from '../../node/errors.js';
import {
  Discovery,
  type DiscoveryOptions,
  type InterfaceTable,
  type TailscaleClient,
} from '../../node/discovery/index.js';
import type { PeerCandidate } from '../../node/types.js';
import { tailscaleFixture } from '../fixtures/tailscale.js';

const fixture = tailscaleFixture;

/** A TailscaleClient as a plain object: answers with whatever `next` holds. */
class FakeTailscale implements TailscaleClient {
  calls = 0;
  next: unknown | Error | 'hang' | 'ignore-signal' = fixture('status-running.json');
  private waiters: (() => void)[] = [];

  async status(signal?: AbortSignal): Promise<unknown> {
    this.calls++;
    for (const w of this.waiters.splice(0)) w();
    const next = this.next;
    if (next === 'hang') {
      return new Promise((_resolve, reject) =>
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true }),
      );
    }
    if (next === 'ignore-signal') return new Promise(() => {});
    if (next instanceof Error) throw next;
    return structuredClone(next);
  }
  async whois(): Promise<never> {
    throw new Error('not used');
  }
  async ip4(): Promise<string[]> {
    return ['100.101.1.1'];
  }
  /** resolves once `n` more polls have happened */
  async polls(n: number): Promise<void> {
    const target = this.calls + n;
    while (this.calls < target) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}

function capturingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => lines.push(JSON.parse(line) as { level: number; msg: string }) },
  );
  return { logger, lines };
}

const interfaces: InterfaceTable = {
  lo: [
    {
      address: '127.0.0.1',
      netmask: '255.0.0.0',
      family: 'IPv4',
      mac: '00:00:00:00:00:00',
      internal: true,
      cidr: '127.0.0.1/8',
    },
  ],
  eth0: [
    {
      address: '192.168.1.14',
      netmask: '255.255.255.0',
      family: 'IPv4',
      mac: '02:00:00:00:00:01',
      internal: false,
      cidr: '192.168.1.14/24',
    },
  ],
};

const started: Discovery[] = [];
function discovery(
  opts: Omit<Partial<DiscoveryOptions>, 'config'> & { config?: object } = {},
): Discovery {
  const { config, ...rest } = opts;
  const d = new Discovery({
    config: parseConfig(config ?? {}),
    tailscale: null,
    mdnsEnabled: false,
    interfaces: () => interfaces,
    ...rest,
  });
  started.push(d);
  return d;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((d) => d.stop()));
});

describe('Discovery', () => {
  it('lists online tailnet peers and static peers, one entry per address, never its own addresses', async () => {
    const tailscale = new FakeTailscale();
    const d = discovery({
      tailscale,
      config: {
        discovery: {
          static_peers: ['100.101.1.3:7222', '192.168.1.14', '10.0.0.9', '100.101.1.1'],
        },
      },
    });
    await d.start();
    expect(d.candidates()).toEqual<PeerCandidate[]>([
      { address: '10.0.0.9', source: 'static', dial: 'always' },
      { address: '100.101.1.2', source: 'tailscale', name: 'pi-kitchen' },
      // the static entry wins and keeps its port; the tailnet fills in the name
      {
        address: '100.101.1.3',
        source: 'static',
        dial: 'always',
        clusterPort: 7222,
        name: 'laptop',
      },
      { address: '100.101.1.5', source: 'tailscale', name: 'phone' },
      { address: '100.101.1.7', source: 'tailscale', name: 'living-room-tv' },
    ]);
    expect(d.tailnet()).toMatchObject({
      kind: 'running',
      selfIps: ['100.101.1.1', 'fd7a:115c:a1e0::1'],
    });
    expect(d.tailnetSelf()).toEqual({ userId: 4001, tags: [] });
  });

  it('keeps only peers with the configured tag', async () => {
    const d = discovery({
      tailscale: new FakeTailscale(),
      config: { discovery: { tailscale_tag: 'tag:helix' } },
    });
    await d.start();
    expect(d.candidates().map((c) => c.name)).toEqual(['pi-kitchen', 'living-room-tv']);
  });

  it('adds advert and invite candidates, and drops them when their source forgets them', async () => {
    const d = discovery({ selfAddresses: ['10.0.0.1'] });
    await d.start();
    d.setExtraCandidates('advert', [
      { address: '10.0.0.2', name: 'pi', clusterPort: 6222, rpcPort: 7700 },
      { address: '10.0.0.1', name: 'me' },
    ]);
    d.setExtraCandidates('invite', [{ address: '10.0.0.3', rpcPort: 7700 }]);
    expect(d.candidates()).toEqual([
      { address: '10.0.0.2', source: 'advert', name: 'pi', clusterPort: 6222, rpcPort: 7700 },
      { address: '10.0.0.3', source: 'invite', rpcPort: 7700 },
    ]);
    d.setExtraCandidates('advert', []);
    expect(d.candidates()).toEqual([{ address: '10.0.0.3', source: 'invite', rpcPort: 7700 }]);
  });

  it('tells listeners only when the set really changes, until they unsubscribe', async () => {
    const d = discovery();
    await d.start();
    const seen: PeerCandidate[][] = [];
    const off = d.onCandidates((c) => seen.push(c));
    d.setExtraCandidates('advert', [{ address: '10.0.0.2', name: 'pi' }]);
    d.setExtraCandidates('advert', [{ address: '10.0.0.2', name: 'pi' }]);
    d.setExtraCandidates('invite', []);
    expect(seen).toEqual([[{ address: '10.0.0.2', source: 'advert', name: 'pi' }]]);
    off();
    d.setExtraCandidates('advert', []);
    expect(seen).toHaveLength(1);
    expect(d.candidates()).toEqual([]);
  });

  it('treats a missing tailscale as a state, logged once, and picks the tailnet up when it appears', async () => {
    const tailscale = new FakeTailscale();
    tailscale.next = new DependencyMissingError(
      'tailscale (tailscale)',
      'install Tailscale from https://tailscale.com/download',
    );
    const { logger, lines } = capturingLogger();
    const d = discovery({
      tailscale,
      logger,
      config: { discovery: { poll_interval_ms: 10, static_peers: ['10.0.0.9'] } },
    });
    const changes: PeerCandidate[][] = [];
    d.onCandidates((c) => changes.push(c));
    await d.start();
    await tailscale.polls(5);

    expect(d.tailnet()).toMatchObject({
      kind: 'unavailable',
      reason: expect.stringContaining('https://tailscale.com/download'),
    });
    expect(d.candidates()).toEqual([{ address: '10.0.0.9', source: 'static', dial: 'always' }]);
    expect(lines.filter((l) => l.msg.includes('tailscale is unavailable'))).toHaveLength(1);
    expect(changes).toEqual([]);

    tailscale.next = fixture('status-running.json');
    await tailscale.polls(2);
    await d.refresh();
    expect(d.tailnet().kind).toBe('running');
    expect(lines.filter((l) => l.msg === 'tailnet is up')).toHaveLength(1);
    expect(changes.at(-1)?.map((c) => c.address)).toEqual([
      '10.0.0.9',
      '100.101.1.2',
      '100.101.1.3',
      '100.101.1.5',
      '100.101.1.7',
    ]);
  });

  it('drops tailnet peers when tailscale stops running', async () => {
    const tailscale = new FakeTailscale();
    const d = discovery({ tailscale });
    await d.refresh();
    expect(d.candidates()).toHaveLength(4);
    tailscale.next = fixture('status-needs-login.json');
    await d.refresh();
    expect(d.tailnet()).toEqual({ kind: 'not-running', backendState: 'NeedsLogin' });
    expect(d.candidates()).toEqual([]);
  });

  it.each(['hang', 'ignore-signal'] as const)(
    'bounds a poll that never answers (%s) and reports tailscale unavailable',
    async (behaviour) => {
      const tailscale = new FakeTailscale();
      tailscale.next = behaviour;
      const d = discovery({ tailscale, config: { discovery: { poll_interval_ms: 100 } } });
      const state = await d.refresh();
      expect(state).toEqual({
        kind: 'unavailable',
        reason: expect.stringContaining('did not answer within 500 ms'),
      });
    },
  );

  it('never asks tailscale when discovery.tailscale is off', async () => {
    const tailscale = new FakeTailscale();
    const d = discovery({ tailscale, config: { discovery: { tailscale: false } } });
    await d.start();
    expect(d.tailnet()).toEqual({ kind: 'disabled' });
    expect(tailscale.calls).toBe(0);
  });

  it('stops polling when stopped', async () => {
    const tailscale = new FakeTailscale();
    const d = discovery({ tailscale, config: { discovery: { poll_interval_ms: 10 } } });
    await d.start();
    await tailscale.polls(2);
    await d.stop();
    const after = tailscale.calls;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(tailscale.calls).toBe(after);
  });

  it('survives a listener that throws', async () => {
    const d = discovery();
    await d.start();
    d.onCandidates(() => {
      throw new Error('listener bug');
    });
    const seen: number[] = [];
    d.onCandidates((c) => seen.push(c.length));
    d.setExtraCandidates('advert', [{ address: '10.0.0.2' }]);
    expect(seen).toEqual([1]);
  });
});
