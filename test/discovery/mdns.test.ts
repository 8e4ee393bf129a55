/**
 * mDNS discovery on real sockets: two nodes on one machine (127.0.2.x on loopback), the sockets
 * this process holds (none on 0.0.0.0 or [::]), and two nodes in network namespaces joined by a
 * veth bridge (subnet 100.64.91.x), where multicast crosses a link as on a LAN.
 */
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../node/config/index.js';
import { ConfigError } from '../../node/errors.js';
import { generateNodeKey } from '../../node/identity/node-key.js';
import {
  Discovery,
  startMdns,
  type MdnsCandidate,
  type MdnsHandle,
} from '../../node/discovery/index.js';
import type { PeerCandidate } from '../../node/types.js';
import { NetnsLab, REPO_ROOT } from '../harness/index.js';
import { waitFor } from '../support/wait.js';

// A service name per test run, so other mDNS traffic on this machine never mixes in.
const serviceTag = () => `_helix-test-${process.pid}-${Math.floor(Math.random() * 1e6)}._udp.local`;

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((stop) => stop()));
});

/** A node on a loopback address with this process's mDNS: its handle, its id and what it found. */
async function mdnsNode(
  listenAddress: string,
  serviceTag: string,
  extra: Partial<Parameters<typeof startMdns>[0]> = {},
): Promise<{ handle: MdnsHandle; id: string; found: MdnsCandidate[] }> {
  const privateKey = generateNodeKey();
  const found: MdnsCandidate[] = [];
  const handle = await startMdns({
    privateKey,
    listenAddress,
    serviceTag,
    intervalMs: 200,
    onPeer: (c) => found.push(c),
    ...extra,
  });
  cleanup.push(() => handle.stop());
  return { handle, id: privateKey.peerId, found };
}

describe('startMdns', () => {
  it('lets two nodes on one machine find each other with their node ids and IPv4 addresses', async () => {
    const tag = serviceTag();
    const a = await mdnsNode('127.0.2.1', tag);
    const b = await mdnsNode('127.0.2.2', tag);
    expect(a.handle.peerId).toBe(a.id);
    const seenB = await waitFor(() => a.found.find((c) => c.peerId === b.id), {
      what: 'A to find B',
    });
    const seenA = await waitFor(() => b.found.find((c) => c.peerId === a.id), {
      what: 'B to find A',
    });
    expect(seenB).toEqual({ address: '127.0.2.2', source: 'mdns', peerId: b.id });
    expect(seenA).toEqual({ address: '127.0.2.1', source: 'mdns', peerId: a.id });
    // neither reports itself
    expect(a.found.some((c) => c.peerId === a.id)).toBe(false);
  });

  it('does not hear nodes announcing another service name', async () => {
    const tag = serviceTag();
    const a = await mdnsNode('127.0.2.3', tag);
    await mdnsNode('127.0.2.4', serviceTag());
    // a third node on A's service proves queries flow, so A's silence about B means something
    const c = await mdnsNode('127.0.2.5', tag);
    await waitFor(() => a.found.find((x) => x.address === '127.0.2.5'), { what: 'A to find C' });
    await waitFor(() => c.found.find((x) => x.address === '127.0.2.3'), { what: 'C to find A' });
    expect(a.found.some((x) => x.address === '127.0.2.4')).toBe(false);
  });

  it('refuses to listen on 0.0.0.0', async () => {
    const key = generateNodeKey();
    await expect(
      startMdns({ privateKey: key, listenAddress: '0.0.0.0', onPeer: () => {} }),
    ).rejects.toThrow(ConfigError);
  });

  it('logs and carries on when the address is not on this host', async () => {
    const key = generateNodeKey();
    // 192.0.2.0/24 is TEST-NET-1: not an address of this host, so joining the group there fails
    const handle = await startMdns({
      privateKey: key,
      listenAddress: '192.0.2.123',
      serviceTag: serviceTag(),
      onPeer: () => {},
    });
    cleanup.push(() => handle.stop());
    expect(handle.peerId).toBeNull();
  });
});

describe('Discovery with mDNS', () => {
  it('turns peers found on the LAN into candidates', async () => {
    const tag = serviceTag();
    const make = async (listenAddress: string) => {
      const d = new Discovery({
        config: parseConfig({ discovery: { tailscale: false } }),
        tailscale: null,
        privateKey: generateNodeKey(),
        listenAddress,
        mdnsEnabled: true,
        mdns: { serviceTag: tag, intervalMs: 200 },
      });
      cleanup.push(() => d.stop());
      await d.start();
      return d;
    };
    const a = await make('127.0.2.6');
    const b = await make('127.0.2.7');
    const changes: PeerCandidate[][] = [];
    a.onCandidates((c) => changes.push(c));
    await waitFor(() => a.candidates().find((c) => c.address === '127.0.2.7'), {
      what: 'A to list B',
    });
    await waitFor(() => b.candidates().find((c) => c.address === '127.0.2.6'), {
      what: 'B to list A',
    });
    expect(a.candidates()).toEqual([
      { address: '127.0.2.7', source: 'mdns', dial: 'lower-address' },
    ]);
    expect(changes.at(-1)).toEqual([
      { address: '127.0.2.7', source: 'mdns', dial: 'lower-address' },
    ]);
    expect(a.mdnsPeerId()).toMatch(/^12D3KooW/);
  });
});

describe('startMdns announcements', () => {
  it('tells peers the node name and ports it was given', async () => {
    const tag = serviceTag();
    const a = await mdnsNode('127.0.2.8', tag);
    const b = await mdnsNode('127.0.2.9', tag, {
      announce: { name: 'pi-kitchen', clusterPort: 6250, rpcPort: 7450 },
    });
    const seen = await waitFor(() => a.found.find((c) => c.peerId === b.id), {
      what: 'A to find B',
    });
    expect(seen).toEqual({
      address: '127.0.2.9',
      source: 'mdns',
      peerId: b.id,
      name: 'pi-kitchen',
      clusterPort: 6250,
      rpcPort: 7450,
    });
  });
});

/** An inet socket of this process, from /proc/net/{udp,udp6,tcp,tcp6} (TCP: listeners only). */
interface OwnSocket {
  proto: 'udp' | 'udp6' | 'tcp' | 'tcp6';
  host: string;
  port: number;
  inode: string;
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '::ffff:0.0.0.0']);

/** Hex from /proc/net (32-bit words in host byte order) to an address. */
function procAddress(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => {
    const b = [...Buffer.from(w, 'hex')];
    return os.endianness() === 'LE' ? b.reverse() : b;
  });
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.every((b) => b === 0)) return '::';
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff)
    return `::ffff:${bytes.slice(12).join('.')}`;
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':');
}

function ownSockets(): OwnSocket[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed while we looked
    }
  }
  const out: OwnSocket[] = [];
  for (const proto of ['udp', 'udp6', 'tcp', 'tcp6'] as const) {
    let table: string;
    try {
      table = readFileSync(`/proc/net/${proto}`, 'utf8');
    } catch {
      continue; // no IPv6 in this kernel
    }
    for (const line of table.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const [local, state, inode] = [cols[1], cols[3], cols[9]];
      if (!local || !inode || !inodes.has(inode)) continue;
      if (proto.startsWith('tcp') && state !== '0A') continue; // 0A = LISTEN
      const [hex, port] = local.split(':');
      out.push({ proto, host: procAddress(hex!), port: parseInt(port!, 16), inode });
    }
  }
  return out;
}

const show = (s: OwnSocket) => `${s.proto} ${s.host}:${s.port}`;

describe('mDNS sockets', () => {
  it('sees a UDP socket bound to every interface (so the check below can fail)', async () => {
    const probe = dgram.createSocket('udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        probe.once('error', reject);
        probe.bind(0, '0.0.0.0', () => resolve());
      });
      const port = probe.address().port;
      expect(ownSockets().map(show)).toContain(`udp 0.0.0.0:${port}`);
    } finally {
      probe.close();
    }
  });

  it('binds two nodes on one host to the mDNS group address, none to 0.0.0.0 or [::]', async () => {
    const tag = serviceTag();
    const before = new Set(ownSockets().map((s) => s.inode));
    const found: MdnsCandidate[] = [];
    for (const listenAddress of ['127.0.2.10', '127.0.2.11']) {
      const handle = await startMdns({
        privateKey: generateNodeKey(),
        listenAddress,
        serviceTag: tag,
        intervalMs: 200,
        onPeer: (c) => found.push(c),
      });
      cleanup.push(() => handle.stop());
      expect(handle.peerId).not.toBeNull();
    }
    // both share 224.0.0.251:5353 (SO_REUSEADDR) and still hear each other
    await waitFor(
      () =>
        found.some((c) => c.address === '127.0.2.10') &&
        found.some((c) => c.address === '127.0.2.11')
          ? true
          : undefined,
      { what: 'the nodes to find each other' },
    );
    const sockets = ownSockets();
    console.log(`[mdns] sockets of pid ${process.pid}: ${sockets.map(show).join(', ')}`);
    expect(sockets.filter((s) => !before.has(s.inode)).map(show)).toEqual([
      'udp 224.0.0.251:5353',
      'udp 224.0.0.251:5353',
    ]);
    expect(sockets.filter((s) => WILDCARD_HOSTS.has(s.host)).map(show)).toEqual([]);
  });

  it('closes its socket on stop', async () => {
    const before = ownSockets().length;
    const handle = await startMdns({
      privateKey: generateNodeKey(),
      listenAddress: '127.0.2.12',
      serviceTag: serviceTag(),
      onPeer: () => {},
    });
    expect(ownSockets().length).toBe(before + 1);
    await handle.stop();
    expect(ownSockets().length).toBe(before);
  });
});

/** One mDNS node in a namespace: prints `{"started":id}`, then `{"found":candidate}` lines. */
const NETNS_PEER = `
const [address, service, entry, keyEntry] = process.argv.slice(1);
const { startMdns } = await import(entry);
const { generateNodeKey } = await import(keyEntry);
const handle = await startMdns({
  privateKey: generateNodeKey(),
  listenAddress: address,
  serviceTag: service,
  intervalMs: 200,
  announce: { name: 'ns-' + address },
  onPeer: (c) => console.log(JSON.stringify({ found: c })),
});
console.log(JSON.stringify({ started: handle.peerId }));
process.on('SIGTERM', () => void handle.stop().finally(() => process.exit(0)));
`;

const canNetns =
  process.getuid?.() === 0 &&
  spawnSync('ip', ['-V'], { timeout: 5000 }).status === 0 &&
  spawnSync('ss', ['-V'], { timeout: 5000 }).status === 0;

describe.runIf(canNetns)('mDNS across a LAN link (network namespaces)', () => {
  let lab: NetnsLab | null = null;
  beforeAll(() => {
    lab = NetnsLab.create({ nodes: 2, subnet: '100.64.91', prefixLength: 24 });
  });
  afterAll(async () => {
    await lab?.cleanup();
  });

  it('lets nodes in two namespaces find each other, with no socket on 0.0.0.0', async () => {
    const net = lab!;
    const tag = serviceTag();
    const entry = pathToFileURL(`${REPO_ROOT}/node/discovery/index.ts`).href;
    const keyEntry = pathToFileURL(`${REPO_ROOT}/node/identity/node-key.ts`).href;
    const lines: { started?: string | null; found?: MdnsCandidate }[][] = [[], []];
    for (const i of [0, 1]) {
      const child = net.exec(
        i,
        process.execPath,
        [
          '--import',
          'tsx',
          '--input-type=module',
          '-e',
          NETNS_PEER,
          net.node(i).address,
          tag,
          entry,
          keyEntry,
        ],
        { cwd: REPO_ROOT },
      );
      let buffered = '';
      child.stdout?.setEncoding('utf8').on('data', (d: string) => {
        buffered += d;
        const parts = buffered.split('\n');
        buffered = parts.pop() ?? '';
        for (const p of parts) if (p.startsWith('{')) lines[i]!.push(JSON.parse(p));
      });
      child.stderr?.setEncoding('utf8').on('data', (d: string) => process.stderr.write(d));
    }
    const [a, b] = [net.node(0).address, net.node(1).address];
    const ids = await waitFor(
      () => {
        const started = lines.map((l) => l.find((x) => 'started' in x)?.started);
        return started.every((id) => typeof id === 'string') ? started : undefined;
      },
      { timeoutMs: 20_000, what: 'both nodes to start' },
    );
    const seenB = await waitFor(() => lines[0]!.find((x) => x.found?.address === b), {
      what: 'node 0 to find node 1',
    });
    const seenA = await waitFor(() => lines[1]!.find((x) => x.found?.address === a), {
      what: 'node 1 to find node 0',
    });
    expect(seenB.found).toEqual({ address: b, source: 'mdns', peerId: ids[1], name: `ns-${b}` });
    expect(seenA.found).toEqual({ address: a, source: 'mdns', peerId: ids[0], name: `ns-${a}` });

    for (const i of [0, 1]) {
      const ss = await net.run(i, 'ss', ['-lunpH'], { timeoutMs: 10_000 });
      expect(ss.code, ss.stderr).toBe(0);
      console.log(`[mdns] ss -lunp in ${net.node(i).namespace}:\n${ss.stdout.trim()}`);
      const locals = ss.stdout
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => l.trim().split(/\s+/)[3] ?? '');
      expect(locals).toEqual(['224.0.0.251:5353']);
    }
  }, 60_000);
});
