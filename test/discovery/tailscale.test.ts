import { describe, expect, it } from 'vitest';
import { InputError } from '../../node/errors.js';
import {
  parseTailscaleIp4,
  parseTailscaleStatus,
  parseTailscaleWhois,
  tailnetMachineName,
} from '../../node/discovery/index.js';
import { tailscaleFixture, tailscaleFixtureText } from '../fixtures/tailscale.js';

const fixture = tailscaleFixture;

describe('parseTailscaleStatus', () => {
  it.each([
    {
      name: 'every online, own, unexpired peer with an IPv4 when no tag is set',
      tag: undefined,
      expected: [
        { address: '100.101.1.2', source: 'tailscale', name: 'pi-kitchen' },
        { address: '100.101.1.3', source: 'tailscale', name: 'laptop' },
        { address: '100.101.1.5', source: 'tailscale', name: 'phone' },
        { address: '100.101.1.7', source: 'tailscale', name: 'living-room-tv' },
      ],
    },
    {
      name: 'only peers carrying the tag when one is set',
      tag: 'tag:helix',
      expected: [
        { address: '100.101.1.2', source: 'tailscale', name: 'pi-kitchen' },
        { address: '100.101.1.7', source: 'tailscale', name: 'living-room-tv' },
      ],
    },
    { name: 'nothing for a tag no peer carries', tag: 'tag:other', expected: [] },
    { name: 'offline peers never, even with their tag', tag: 'tag:storage', expected: [] },
  ])('lists $name', ({ tag, expected }) => {
    const { peers } = parseTailscaleStatus(fixture('status-running.json'), { tag });
    expect(peers).toEqual(expected);
  });

  it('reports a running tailnet with this node’s addresses, MagicDNS name (no trailing dot) and tailnet', () => {
    const parsed = parseTailscaleStatus(fixture('status-running.json'));
    expect(parsed.state).toEqual({
      kind: 'running',
      selfIps: ['100.101.1.1', 'fd7a:115c:a1e0::1'],
      selfDnsName: 'desk.tail4e7c2.ts.net',
      tailnet: 'alice@example.com',
    });
    expect(parsed.selfUserId).toBe(4001);
    expect(parsed.selfTags).toEqual([]);
  });

  it('reports this node’s own tags when it is tagged, and copes with a null Peer map', () => {
    const parsed = parseTailscaleStatus(fixture('status-running-tagged-self.json'));
    expect(parsed.selfTags).toEqual(['tag:helix']);
    expect(parsed.selfUserId).toBe(6001);
    expect(parsed.peers).toEqual([]);
    expect(parsed.state).toMatchObject({
      kind: 'running',
      selfIps: ['100.101.1.20', 'fd7a:115c:a1e0::20'],
    });
  });

  it.each([
    { file: 'status-stopped.json', backendState: 'Stopped', selfUserId: 4001 },
    { file: 'status-needs-login.json', backendState: 'NeedsLogin', selfUserId: null },
  ])('gives no peers when the backend is $backendState', ({ file, backendState, selfUserId }) => {
    const parsed = parseTailscaleStatus(fixture(file));
    expect(parsed.state).toEqual({ kind: 'not-running', backendState });
    expect(parsed.peers).toEqual([]);
    expect(parsed.selfUserId).toBe(selfUserId);
  });

  it('accepts fields it does not know (a newer tailscale)', () => {
    const status = fixture('status-running.json') as Record<string, unknown>;
    const withExtra = { ...status, SomeFutureField: { a: 1 } };
    expect(parseTailscaleStatus(withExtra).peers).toHaveLength(4);
  });

  it.each([
    { name: 'not an object', input: 'Running' },
    { name: 'BackendState missing', input: omit(fixture('status-running.json'), 'BackendState') },
    {
      name: 'a peer key that is not a node key',
      input: renamePeerKey(fixture('status-running.json'), 'desk'),
    },
    {
      name: 'Online as a string',
      input: patchFirstPeer(fixture('status-running.json'), { Online: 'yes' }),
    },
    {
      name: 'Tags as null (the CLI omits it instead)',
      input: patchFirstPeer(fixture('status-running.json'), { Tags: null }),
    },
    {
      name: 'a malformed Tailscale IP',
      input: patchFirstPeer(fixture('status-running.json'), { TailscaleIPs: ['100.101.1'] }),
    },
  ])('rejects $name with an InputError naming the place', ({ input }) => {
    expect(() => parseTailscaleStatus(input)).toThrow(InputError);
  });
});

describe('parseTailscaleWhois', () => {
  it('names a tagged node, its tags and its tag owner', () => {
    expect(parseTailscaleWhois(fixture('whois-tagged.json'))).toEqual({
      node: {
        id: expect.any(Number),
        stableId: expect.stringMatching(/CNTRL$/),
        name: 'pi-kitchen',
        dnsName: 'pi-kitchen.tail4e7c2.ts.net',
        addresses: ['100.101.1.2', 'fd7a:115c:a1e0::2'],
        tags: ['tag:helix'],
        userId: 6001,
      },
      user: { id: 6001, loginName: 'tagged-devices', displayName: 'Tagged Devices' },
    });
  });

  it('gives an untagged node no tags and its owner’s login', () => {
    const whois = parseTailscaleWhois(fixture('whois-user.json'));
    expect(whois.node.tags).toEqual([]);
    expect(whois.node.name).toBe('laptop');
    expect(whois.user).toEqual({
      id: 4001,
      loginName: 'alice@example.com',
      displayName: 'Alice Example',
    });
  });

  it('rejects an answer without a UserProfile', () => {
    expect(() => parseTailscaleWhois(omit(fixture('whois-user.json'), 'UserProfile'))).toThrow(
      InputError,
    );
  });
});

describe('parseTailscaleIp4', () => {
  it.each([
    { text: tailscaleFixtureText('ip4.txt'), expected: ['100.101.1.1'] },
    { text: '100.64.0.1\n100.64.0.2\n', expected: ['100.64.0.1', '100.64.0.2'] },
    { text: '', expected: [] },
  ])('reads $expected', ({ text, expected }) => {
    expect(parseTailscaleIp4(text)).toEqual(expected);
  });

  it('rejects a line that is not an IPv4 address', () => {
    expect(() => parseTailscaleIp4('fd7a:115c:a1e0::1\n')).toThrow(InputError);
  });
});

function omit(value: unknown, key: string): unknown {
  const copy = { ...(value as Record<string, unknown>) };
  delete copy[key];
  return copy;
}

function renamePeerKey(value: unknown, newKey: string): unknown {
  const status = value as { Peer: Record<string, unknown> };
  const [first, ...rest] = Object.entries(status.Peer);
  return { ...status, Peer: Object.fromEntries([[newKey, first?.[1]], ...rest]) };
}

function patchFirstPeer(value: unknown, patch: Record<string, unknown>): unknown {
  const status = value as { Peer: Record<string, Record<string, unknown>> };
  const [first, ...rest] = Object.entries(status.Peer);
  if (!first) throw new Error('fixture has no peers');
  return { ...status, Peer: Object.fromEntries([[first[0], { ...first[1], ...patch }], ...rest]) };
}

describe('tailnetMachineName', () => {
  it('is the first label of Self.DNSName, the name Tailscale keeps unique', () => {
    const { state } = parseTailscaleStatus(fixture('status-running.json'));
    expect(state.kind).toBe('running');
    const dns = state.kind === 'running' ? state.selfDnsName : '';
    expect(tailnetMachineName(state)).toBe(dns.split('.')[0]);
  });

  it.each([
    [
      { kind: 'running', selfIps: [], selfDnsName: 'raspberrypi-1.tail1234.ts.net' },
      'raspberrypi-1',
    ],
    [{ kind: 'running', selfIps: [], selfDnsName: '' }, null], // no MagicDNS: the host name
    [{ kind: 'not-running', backendState: 'Stopped' }, null],
    [{ kind: 'disabled' }, null],
  ] as const)('%j → %s', (state, expected) => {
    expect(tailnetMachineName(state as never)).toBe(expected);
  });
});
