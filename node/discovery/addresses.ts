/**
 * Which address this node uses for the mesh, and which addresses are its own. Pure functions
 * over the config, the tailnet state and an interface table (os.networkInterfaces() by default).
 */
import os from 'node:os';
import { isIP, isIPv4 } from 'node:net';
import type { Config } from '../config/index.js';
import type { TailnetState } from './types.js';

export type InterfaceTable = NodeJS.Dict<os.NetworkInterfaceInfo[]>;

// Bridges and tunnels that carry no LAN peers: Docker, libvirt, CNI, VPN tunnels, tailscale itself.
const VIRTUAL_INTERFACE =
  /^(docker|br-|veth|virbr|cni|flannel|cali|vxlan|tailscale|tun|tap|wg|zt|lxc|lxd)/;

/**
 * mesh.address from the config; else this node's Tailscale IPv4; else the first non-internal
 * IPv4 (physical interfaces before bridges and tunnels, link-local last); else 127.0.0.1.
 */
export function resolveMeshAddress(
  config: Config,
  tailnet: TailnetState,
  interfaces: InterfaceTable = os.networkInterfaces(),
): string {
  if (config.mesh.address) return config.mesh.address;
  if (tailnet.kind === 'running') {
    const ip = tailnet.selfIps.find((a) => isIPv4(a));
    if (ip) return ip;
  }
  return firstLanIPv4(interfaces) ?? '127.0.0.1';
}

/** The first non-internal IPv4 that looks like a LAN address, or null. */
export function firstLanIPv4(interfaces: InterfaceTable): string | null {
  const candidates: { address: string; rank: number; order: number }[] = [];
  let order = 0;
  for (const [name, infos] of Object.entries(interfaces)) {
    for (const info of infos ?? []) {
      order++;
      if (info.internal || info.family !== 'IPv4') continue;
      const linkLocal = info.address.startsWith('169.254.');
      const rank = (VIRTUAL_INTERFACE.test(name) ? 1 : 0) + (linkLocal ? 2 : 0);
      candidates.push({ address: info.address, rank, order });
    }
  }
  candidates.sort((a, b) => a.rank - b.rank || a.order - b.order);
  return candidates[0]?.address ?? null;
}

/** Every address assigned to this host's non-loopback interfaces (IPv4 and IPv6). */
export function interfaceAddresses(interfaces: InterfaceTable): string[] {
  return Object.values(interfaces).flatMap((infos) =>
    (infos ?? []).filter((i) => !i.internal).map((i) => i.address),
  );
}

/**
 * "host", "host:port", "[v6]" or "[v6]:port" (discovery.static_peers) -> address and port.
 * The config schema already checked the form.
 */
export function parseHostPort(spec: string): { host: string; port?: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(spec);
  if (bracketed) return withPort(bracketed[1] ?? '', bracketed[2]);
  if (isIP(spec) === 6) return { host: spec };
  const i = spec.lastIndexOf(':');
  if (i < 0) return { host: spec };
  return withPort(spec.slice(0, i), spec.slice(i + 1));
}

function withPort(host: string, port: string | undefined): { host: string; port?: number } {
  const n = port === undefined ? NaN : Number(port);
  return Number.isInteger(n) && n >= 1 && n <= 65535 ? { host, port: n } : { host };
}
