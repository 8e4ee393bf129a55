import type os from 'node:os';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../node/config/index.js';
import {
  firstLanIPv4,
  parseHostPort,
  resolveMeshAddress,
  type InterfaceTable,
  type TailnetState,
} from '../../node/discovery/index.js';

function iface(
  address: string,
  opts: Partial<os.NetworkInterfaceInfo> = {},
): os.NetworkInterfaceInfo {
  const v6 = address.includes(':');
  return {
    address,
    netmask: v6 ? 'ffff:ffff:ffff:ffff::' : '255.255.255.0',
    family: v6 ? 'IPv6' : 'IPv4',
    mac: '02:42:ac:11:00:02',
    internal: false,
    cidr: null,
    ...(v6 ? { scopeid: 0 } : {}),
    ...opts,
  } as os.NetworkInterfaceInfo;
}

const lo = { lo: [iface('127.0.0.1', { internal: true }), iface('::1', { internal: true })] };
const running: TailnetState = {
  kind: 'running',
  selfIps: ['fd7a:115c:a1e0::1', '100.101.1.1'],
  selfDnsName: 'desk.tail4e7c2.ts.net',
};
const stopped: TailnetState = { kind: 'not-running', backendState: 'Stopped' };

describe('resolveMeshAddress', () => {
  it.each<{
    name: string;
    config: object;
    tailnet: TailnetState;
    interfaces: InterfaceTable;
    expected: string;
  }>([
    {
      name: 'mesh.address from the config above all',
      config: { mesh: { address: '10.9.8.7' } },
      tailnet: running,
      interfaces: { ...lo, eth0: [iface('192.168.1.5')] },
      expected: '10.9.8.7',
    },
    {
      name: 'the Tailscale IPv4 when the tailnet runs',
      config: {},
      tailnet: running,
      interfaces: { ...lo, eth0: [iface('192.168.1.5')] },
      expected: '100.101.1.1',
    },
    {
      name: 'the LAN IPv4 when tailscale is stopped',
      config: {},
      tailnet: stopped,
      interfaces: { ...lo, eth0: [iface('192.168.1.5')] },
      expected: '192.168.1.5',
    },
    {
      name: 'a physical interface before a Docker bridge listed first',
      config: {},
      tailnet: { kind: 'disabled' },
      interfaces: {
        ...lo,
        docker0: [iface('172.17.0.1')],
        wlan0: [iface('fe80::1'), iface('192.168.1.23')],
      },
      expected: '192.168.1.23',
    },
    {
      name: 'a routable address before a link-local one',
      config: {},
      tailnet: { kind: 'unavailable', reason: 'x' },
      interfaces: { ...lo, eth0: [iface('169.254.10.2')], eth1: [iface('10.0.0.4')] },
      expected: '10.0.0.4',
    },
    {
      name: 'a bridge address when it is all there is',
      config: {},
      tailnet: { kind: 'disabled' },
      interfaces: { ...lo, docker0: [iface('172.17.0.1')] },
      expected: '172.17.0.1',
    },
    {
      name: '127.0.0.1 with no other interface',
      config: {},
      tailnet: { kind: 'disabled' },
      interfaces: lo,
      expected: '127.0.0.1',
    },
  ])('picks $name', ({ config, tailnet, interfaces, expected }) => {
    expect(resolveMeshAddress(parseConfig(config), tailnet, interfaces)).toBe(expected);
  });

  it('ignores IPv6-only interfaces for the LAN pick', () => {
    expect(firstLanIPv4({ ...lo, eth0: [iface('2001:db8::5')] })).toBeNull();
  });
});

describe('parseHostPort', () => {
  it.each([
    { spec: '100.64.0.2', expected: { host: '100.64.0.2' } },
    { spec: '192.168.1.20:6222', expected: { host: '192.168.1.20', port: 6222 } },
    { spec: 'desk.local:7000', expected: { host: 'desk.local', port: 7000 } },
    { spec: 'desk', expected: { host: 'desk' } },
    { spec: '[fd7a:115c:a1e0::1]:6222', expected: { host: 'fd7a:115c:a1e0::1', port: 6222 } },
    { spec: '[fd7a:115c:a1e0::1]', expected: { host: 'fd7a:115c:a1e0::1' } },
    { spec: 'fd7a:115c:a1e0::1', expected: { host: 'fd7a:115c:a1e0::1' } },
  ])('reads $spec', ({ spec, expected }) => {
    expect(parseHostPort(spec)).toEqual(expected);
  });
});
