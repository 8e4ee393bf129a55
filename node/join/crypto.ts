/**
 * The join protocol's cryptography (node:crypto only).
 *
 * - Each side makes an ephemeral X25519 key per join; the grant (mesh id, secret, members) is
 *   sealed with AES-256-GCM under
 *     HKDF-SHA256(ikm = X25519(shared) || inviteKey, salt = joiner nonce,
 *                 info = "helix/v1/join-grant" || joiner public || member public)
 *   so a passive eavesdropper learns nothing.
 * - An invite token T (in the code) derives an Ed25519 key pair; the member stores only the public
 *   half (the "verifier"). The joiner signs "helix/v1/join" || nonce || its X25519 public || node
 *   id. The verifier also goes into the HKDF input above, so an active attacker without the code
 *   can neither get the invite consumed for its own key nor read (or forge) the grant.
 */
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';

export const KEY_BYTES = 32;
export const NONCE_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
// DER prefix of a PKCS#8 Ed25519 private key; the 32-byte seed follows (RFC 8410).
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface EphemeralKey {
  privateKey: KeyObject;
  /** raw 32 bytes */
  publicKey: Buffer;
}

export function ephemeralX25519(): EphemeralKey {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return { privateKey, publicKey: rawPublic(publicKey) };
}

/** X25519 with the peer's raw public key; throws on a malformed or low-order key. */
export function sharedSecret(own: KeyObject, peerPublic: Uint8Array): Buffer {
  if (peerPublic.length !== KEY_BYTES)
    throw new Error(`X25519 public key must be ${KEY_BYTES} bytes, got ${peerPublic.length}`);
  const peer = createPublicKey({
    key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(peerPublic).toString('base64url') },
    format: 'jwk',
  });
  const shared = diffieHellman({ privateKey: own, publicKey: peer });
  if (shared.every((b) => b === 0))
    throw new Error('X25519 produced an all-zero secret (low-order public key)');
  return shared;
}

/** The Ed25519 key pair an invite token stands for. */
export function inviteKeyPair(token: Uint8Array): { privateKey: KeyObject; verifier: Buffer } {
  const seed = Buffer.from(hkdfSync('sha256', token, Buffer.alloc(0), 'helix/v1/invite-key', 32));
  const privateKey = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  return { privateKey, verifier: rawPublic(createPublicKey(privateKey)) };
}

function proofMessage(nonce: Uint8Array, publicKey: Uint8Array, nodeId: string): Buffer {
  return Buffer.concat([
    Buffer.from('helix/v1/join\n'),
    nonce,
    publicKey,
    Buffer.from(nodeId, 'utf8'),
  ]);
}

export function signInviteProof(
  token: Uint8Array,
  nonce: Uint8Array,
  publicKey: Uint8Array,
  nodeId: string,
): Buffer {
  return sign(null, proofMessage(nonce, publicKey, nodeId), inviteKeyPair(token).privateKey);
}

export function verifyInviteProof(
  verifier: Uint8Array,
  proof: Uint8Array,
  nonce: Uint8Array,
  publicKey: Uint8Array,
  nodeId: string,
): boolean {
  if (verifier.length !== KEY_BYTES || proof.length !== 64) return false;
  const key = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(verifier).toString('base64url') },
    format: 'jwk',
  });
  return verify(null, proofMessage(nonce, publicKey, nodeId), key, proof);
}

export interface GrantKeyInput {
  shared: Uint8Array;
  /** the invite's verifier, or empty without an invite */
  inviteKey: Uint8Array;
  joinerNonce: Uint8Array;
  joinerPublic: Uint8Array;
  memberPublic: Uint8Array;
}

export function grantKey(k: GrantKeyInput): Buffer {
  const info = Buffer.concat([Buffer.from('helix/v1/join-grant'), k.joinerPublic, k.memberPublic]);
  return Buffer.from(
    hkdfSync('sha256', Buffer.concat([k.shared, k.inviteKey]), k.joinerNonce, info, 32),
  );
}

/** AES-256-GCM; returns iv and ciphertext || tag. `aad` binds the grant to the joiner's node id. */
export function seal(
  key: Uint8Array,
  plaintext: Uint8Array,
  aad: string,
): { iv: Buffer; sealed: Buffer } {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, sealed: Buffer.concat([body, cipher.getAuthTag()]) };
}

/** Throws when the key is wrong or the bytes were altered. */
export function open(key: Uint8Array, iv: Uint8Array, sealed: Uint8Array, aad: string): Buffer {
  if (iv.length !== IV_BYTES || sealed.length < TAG_BYTES)
    throw new Error('sealed grant is truncated');
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(Buffer.from(sealed.subarray(sealed.length - TAG_BYTES)));
  return Buffer.concat([
    decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)),
    decipher.final(),
  ]);
}

function rawPublic(key: KeyObject): Buffer {
  const x = key.export({ format: 'jwk' }).x;
  if (!x) throw new Error('public key has no raw form');
  return Buffer.from(x, 'base64url');
}
