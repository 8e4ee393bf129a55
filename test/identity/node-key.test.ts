/**
 * The node key without libp2p (node/identity/node-key.ts): its bytes and its peer id are libp2p's
 * own, checked both ways against @libp2p/crypto and @libp2p/peer-id, so a node.key written by a
 * version that used them reads back as the same node.
 */
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { describe, expect, it } from 'vitest';
import { StateError } from '../../node/errors.js';
import { loadOrCreateIdentity } from '../../node/identity/index.js';
import {
  base58btc,
  generateNodeKey,
  nodeKeyFromProtobuf,
  publicKeyOfPeerId,
  signedByPeerId,
  signWithNodeKey,
} from '../../node/identity/node-key.js';

describe('node key', () => {
  it('writes bytes libp2p reads as the same key, with the same peer id', () => {
    for (let i = 0; i < 20; i++) {
      const key = generateNodeKey();
      const theirs = privateKeyFromProtobuf(key.protobuf);
      expect(peerIdFromPrivateKey(theirs).toString()).toBe(key.peerId);
      expect(Buffer.from(privateKeyToProtobuf(theirs))).toEqual(Buffer.from(key.protobuf));
      expect(Buffer.from(theirs.publicKey.raw)).toEqual(Buffer.from(key.publicKey));
      expect(peerIdFromString(key.peerId).type).toBe('Ed25519');
    }
  });

  it("reads libp2p's keys, the old 96-byte form too, as the same peer id", async () => {
    for (let i = 0; i < 20; i++) {
      const theirs = await generateKeyPair('Ed25519');
      const bytes = privateKeyToProtobuf(theirs);
      const id = peerIdFromPrivateKey(theirs).toString();
      expect(nodeKeyFromProtobuf(bytes).peerId).toBe(id);
      // 08 01 12 60 <seed><public key><public key>: what js-libp2p once wrote
      const raw = Buffer.from(bytes.subarray(4));
      const old = Buffer.concat([Buffer.from([0x08, 0x01, 0x12, 96]), raw, raw.subarray(32)]);
      expect(nodeKeyFromProtobuf(old).peerId).toBe(id);
    }
  });

  it('refuses another key type, a wrong size or a public half of another key', async () => {
    const rsaLike = Buffer.from([0x08, 0x00, 0x12, 0x02, 0x01, 0x02]);
    expect(() => nodeKeyFromProtobuf(rsaLike)).toThrow(/not an Ed25519 key/);
    expect(() => nodeKeyFromProtobuf(Buffer.from([0x08, 0x01, 0x12, 0x03, 1, 2, 3]))).toThrow(
      /64 bytes/,
    );
    expect(() => nodeKeyFromProtobuf(Buffer.from([0x08, 0x01, 0x12, 0x40, 1]))).toThrow(
      /ends inside/,
    );
    const a = generateNodeKey();
    const b = generateNodeKey();
    const mixed = Buffer.concat([Buffer.from(a.protobuf.subarray(0, 36)), b.publicKey]);
    expect(() => nodeKeyFromProtobuf(mixed)).toThrow(/does not belong/);

    const dir = mkdtempSync(path.join(os.tmpdir(), 'helix-key-'));
    try {
      writeFileSync(path.join(dir, 'node.key'), mixed);
      await expect(loadOrCreateIdentity(dir)).rejects.toThrow(StateError);
      await expect(loadOrCreateIdentity(dir)).rejects.toThrow(/corrupt; move it away/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("signs as libp2p's key does, and checks signatures against the key inside a node id", async () => {
    const ours = generateNodeKey();
    const data = Buffer.from('rotation record bytes');
    const sig = signWithNodeKey(ours, data);
    // libp2p verifies ours
    expect(await peerIdFromString(ours.peerId).publicKey!.verify(data, sig)).toBe(true);
    // ours verifies libp2p's
    const theirs = await generateKeyPair('Ed25519');
    const theirId = peerIdFromPrivateKey(theirs).toString();
    const theirSig = await theirs.sign(data);
    expect(signedByPeerId(theirId, data, theirSig)).toBe(true);
    // another node, other bytes, a cut signature, a malformed id: refused, never thrown
    expect(signedByPeerId(theirId, data, sig)).toBe(false);
    expect(signedByPeerId(ours.peerId, Buffer.from('other bytes'), sig)).toBe(false);
    expect(signedByPeerId(ours.peerId, data, sig.subarray(0, 63))).toBe(false);
    expect(signedByPeerId('not-a-node-id!', data, sig)).toBe(false);
    expect(publicKeyOfPeerId('QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N')).toBeNull();
    expect(publicKeyOfPeerId(ours.peerId)).toEqual(Buffer.from(ours.publicKey));
  });

  it('encodes base58btc as Bitcoin does, leading zero bytes as 1s', () => {
    expect(base58btc(Buffer.from('hello world'))).toBe('StV1DL6CwTryKyV');
    expect(base58btc(Buffer.from([0, 0, 1]))).toBe('112');
    expect(base58btc(Buffer.alloc(0))).toBe('');
  });
});
