import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../node/config/index.js';
import { ConfigError } from '../../node/errors.js';
import {
  Discovery,
  startMdns,
  type MdnsCandidate,
  type MdnsHandle,
} from '../../node/discovery/index.js';
import type { PeerCandidate } from '../../node/types.js';

// A service name per test run, so other mDNS traffic on this machine never mixes in.
const serviceTag = () => `_helix-test-${process.pid}-${Math.floor(Math.random() * 1e6)}._udp.local`;

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((stop) => stop()));
});

function waitFor<T>(
  what: string,
  check: () => T | undefined,
  signal = AbortSignal.timeout(10_000),
): Promise<T> {
  return new Promise((resolve, reject) => {
    const tick = () => {
      const value = check();
      if (value !== undefined) return resolve(value);
      if (signal.aborted) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

describe('startMdns', () => {
  it('lets two nodes on one machine find each other with their node ids and IPv4 addresses', async () => {
    const tag = serviceTag();
    const [keyA, keyB] = await Promise.all([
      generateKeyPair('Ed25519'),
      generateKeyPair('Ed25519'),
    ]);
    const foundByA: MdnsCandidate[] = [];
    const foundByB: MdnsCandidate[] = [];
    const a: MdnsHandle = await startMdns({
      privateKey: keyA,
      listenAddress: '127.0.2.1',
      serviceTag: tag,
      intervalMs: 200,
      onPeer: (c) => foundByA.push(c),
    });
    cleanup.push(() => a.stop());
    const b: MdnsHandle = await startMdns({
      privateKey: keyB,
      listenAddress: '127.0.2.2',
      serviceTag: tag,
      intervalMs: 200,
      onPeer: (c) => foundByB.push(c),
    });
    cleanup.push(() => b.stop());

    const idA = peerIdFromPrivateKey(keyA).toString();
    const idB = peerIdFromPrivateKey(keyB).toString();
    expect(a.peerId).toBe(idA);
    const seenB = await waitFor('A to find B', () => foundByA.find((c) => c.peerId === idB));
    const seenA = await waitFor('B to find A', () => foundByB.find((c) => c.peerId === idA));
    expect(seenB).toEqual({ address: '127.0.2.2', source: 'mdns', peerId: idB });
    expect(seenA).toEqual({ address: '127.0.2.1', source: 'mdns', peerId: idA });
    // neither reports itself
    expect(foundByA.some((c) => c.peerId === idA)).toBe(false);
  });

  it('does not hear nodes announcing another service name', async () => {
    const [keyA, keyB] = await Promise.all([
      generateKeyPair('Ed25519'),
      generateKeyPair('Ed25519'),
    ]);
    const foundByA: MdnsCandidate[] = [];
    const foundByC: MdnsCandidate[] = [];
    const tag = serviceTag();
    const a = await startMdns({
      privateKey: keyA,
      listenAddress: '127.0.2.3',
      serviceTag: tag,
      intervalMs: 200,
      onPeer: (c) => foundByA.push(c),
    });
    cleanup.push(() => a.stop());
    const b = await startMdns({
      privateKey: keyB,
      listenAddress: '127.0.2.4',
      serviceTag: serviceTag(),
      intervalMs: 200,
      onPeer: () => {},
    });
    cleanup.push(() => b.stop());
    // a third node on A's service proves queries flow, so A's silence about B means something
    const keyC = await generateKeyPair('Ed25519');
    const c = await startMdns({
      privateKey: keyC,
      listenAddress: '127.0.2.5',
      serviceTag: tag,
      intervalMs: 200,
      onPeer: (x) => foundByC.push(x),
    });
    cleanup.push(() => c.stop());
    await waitFor('A to find C', () => foundByA.find((x) => x.address === '127.0.2.5'));
    await waitFor('C to find A', () => foundByC.find((x) => x.address === '127.0.2.3'));
    expect(foundByA.some((x) => x.address === '127.0.2.4')).toBe(false);
  });

  it('refuses to listen on 0.0.0.0', async () => {
    const key = await generateKeyPair('Ed25519');
    await expect(
      startMdns({ privateKey: key, listenAddress: '0.0.0.0', onPeer: () => {} }),
    ).rejects.toThrow(ConfigError);
  });

  it('logs and carries on when libp2p cannot listen on the address', async () => {
    const key = await generateKeyPair('Ed25519');
    // 192.0.2.0/24 is TEST-NET-1: not an address of this host, so binding fails
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
        privateKey: await generateKeyPair('Ed25519'),
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
    await waitFor('A to list B', () => a.candidates().find((c) => c.address === '127.0.2.7'));
    await waitFor('B to list A', () => b.candidates().find((c) => c.address === '127.0.2.6'));
    expect(a.candidates()).toEqual([{ address: '127.0.2.7', source: 'mdns' }]);
    expect(changes.at(-1)).toEqual([{ address: '127.0.2.7', source: 'mdns' }]);
    expect(a.mdnsPeerId()).toMatch(/^12D3KooW/);
  });
});
