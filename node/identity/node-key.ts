/**
 * The node key: an Ed25519 key stored as libp2p stores one (its PrivateKey protobuf), and its
 * libp2p PeerId string, the node id ("12D3KooW…"). Done with node:crypto and a few bytes of
 * protobuf rather than @libp2p/crypto and @libp2p/peer-id: those pull in @noble/curves,
 * multiformats and protons (about 250 ms of a cold start here and several MB of a node's idle
 * memory, issue 12) for one key type and one string. The bytes are libp2p's own (the test checks
 * both ways against @libp2p/crypto), so a node.key written by an earlier version still reads.
 *
 *   PrivateKey protobuf: 08 01 (KeyType Ed25519) 12 40 <32-byte seed><32-byte public key>
 *   PublicKey protobuf:  08 01 12 20 <32-byte public key>
 *   PeerId: base58btc(identity multihash (00 24) of the PublicKey protobuf), no multibase prefix
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';

export interface NodeKey {
  /** libp2p's PrivateKey protobuf: what node.key holds */
  readonly protobuf: Uint8Array;
  /** the raw 32-byte Ed25519 public key */
  readonly publicKey: Uint8Array;
  /** the libp2p PeerId string of the key: the node id */
  readonly peerId: string;
}

const KEY_TYPE_ED25519 = 1;
/** PKCS#8 DER of an Ed25519 private key, up to its 32-byte seed (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** A new random Ed25519 node key. */
export function generateNodeKey(): NodeKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  return nodeKeyOf(Buffer.from(jwk.d!, 'base64url'), Buffer.from(jwk.x!, 'base64url'));
}

/**
 * Reads libp2p's PrivateKey protobuf. Throws (a plain Error saying what is wrong) for another key
 * type, a key of the wrong size, or a public half that does not belong to the seed.
 */
export function nodeKeyFromProtobuf(bytes: Uint8Array): NodeKey {
  const fields = readProtobuf(bytes);
  const type = fields.get(1);
  const data = fields.get(2);
  if (type !== KEY_TYPE_ED25519)
    throw new Error(`not an Ed25519 key (libp2p key type ${String(type ?? 'missing')})`);
  // 64 bytes: seed and public key; 96: libp2p's old form, the public key once more
  if (!(data instanceof Uint8Array) || (data.length !== 64 && data.length !== 96))
    throw new Error(
      `an Ed25519 private key has 64 bytes (seed and public key); this one has ${data instanceof Uint8Array ? data.length : 'none'}`,
    );
  const seed = data.subarray(0, 32);
  const publicKey = publicKeyOf(seed);
  if (!publicKey.equals(data.subarray(32, 64)))
    throw new Error('the public half of the Ed25519 key does not belong to its private half');
  return nodeKeyOf(seed, publicKey);
}

function nodeKeyOf(seed: Uint8Array, publicKey: Uint8Array): NodeKey {
  const protobuf = Buffer.concat([
    Buffer.from([0x08, KEY_TYPE_ED25519, 0x12, 64]),
    seed,
    publicKey,
  ]);
  const publicProtobuf = Buffer.concat([
    Buffer.from([0x08, KEY_TYPE_ED25519, 0x12, 32]),
    publicKey,
  ]);
  // keys this small are inlined: the identity multihash (code 0x00) of the public key protobuf
  const multihash = Buffer.concat([Buffer.from([0x00, publicProtobuf.length]), publicProtobuf]);
  return { protobuf, publicKey: Buffer.from(publicKey), peerId: base58btc(multihash) };
}

function publicKeyOf(seed: Uint8Array): Buffer {
  const key = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  return Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x!, 'base64url');
}

/** Fields 1..15 of a flat protobuf message: varints as numbers, length-delimited as bytes. */
function readProtobuf(bytes: Uint8Array): Map<number, number | Uint8Array> {
  const fields = new Map<number, number | Uint8Array>();
  let at = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (at >= bytes.length) throw new Error('the key ends inside a number');
      const b = bytes[at++]!;
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
    }
    throw new Error('a number in the key is too long');
  };
  while (at < bytes.length) {
    const tag = varint();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) fields.set(field, varint());
    else if (wire === 2) {
      const length = varint();
      if (at + length > bytes.length) throw new Error('the key ends inside a field');
      fields.set(field, bytes.subarray(at, at + length));
      at += length;
    } else throw new Error(`the key is not a libp2p PrivateKey protobuf (wire type ${wire})`);
  }
  return fields;
}

const BASE58_ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** Bitcoin's base58 (multibase base58btc without its "z" prefix). */
export function base58btc(bytes: Uint8Array): string {
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let out = '';
  while (n > 0n) {
    out = BASE58_ALPHABET[Number(n % 58n)]! + out;
    n /= 58n;
  }
  return '1'.repeat(zeros) + out;
}

/** An Ed25519 signature by the node key (the same bytes libp2p's key.sign gives). */
export function signWithNodeKey(key: NodeKey, data: Uint8Array): Buffer {
  const seed = key.protobuf.subarray(4, 36);
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  return sign(null, data, privateKey);
}

/** SPKI DER of an Ed25519 public key, up to its 32 bytes (RFC 8410). */
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
/** identity multihash (00, 36 bytes) of an Ed25519 PublicKey protobuf (08 01 12 20) */
const PEER_ID_PREFIX = Buffer.from('0024080112' + '20', 'hex');

/** The raw Ed25519 public key inside a node id, or null when the id holds none. */
export function publicKeyOfPeerId(peerId: string): Buffer | null {
  let bytes: Buffer;
  try {
    bytes = base58btcDecode(peerId);
  } catch {
    return null;
  }
  if (bytes.length !== PEER_ID_PREFIX.length + 32) return null;
  if (!bytes.subarray(0, PEER_ID_PREFIX.length).equals(PEER_ID_PREFIX)) return null;
  return bytes.subarray(PEER_ID_PREFIX.length);
}

/** Whether `sig` over `data` is by the node whose id is `peerId` (its id holds its public key). */
export function signedByPeerId(peerId: string, data: Uint8Array, sig: Uint8Array): boolean {
  const raw = publicKeyOfPeerId(peerId);
  if (!raw || sig.length !== 64) return false;
  const publicKey = createPublicKey({
    key: Buffer.concat([SPKI_ED25519_PREFIX, raw]),
    format: 'der',
    type: 'spki',
  });
  return verify(null, data, publicKey, sig);
}

function base58btcDecode(text: string): Buffer {
  let n = 0n;
  let zeros = 0;
  while (zeros < text.length && text[zeros] === '1') zeros++;
  for (const ch of text) {
    const digit = BASE58_ALPHABET.indexOf(ch);
    if (digit < 0) throw new Error(`'${ch}' is not a base58 digit`);
    n = n * 58n + BigInt(digit);
  }
  const out: number[] = [];
  while (n > 0n) {
    out.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  return Buffer.concat([Buffer.alloc(zeros), Buffer.from(out)]);
}
