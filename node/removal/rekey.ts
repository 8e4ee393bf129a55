/**
 * Mesh.Rekey's cryptography: how a member gets the current mesh secret after a rotation
 * (docs/security.md, "Removing a node"). The caller proves (1) a secret this mesh had, by an
 * HMAC under its "rekey" key, and (2) its node identity, by an Ed25519 signature with its node
 * key, over the same canonical bytes; the answer seals the current secret to the caller's
 * ephemeral X25519 key (as the join grant is sealed, join/crypto.ts). The removed node holds an
 * old secret and its own key, so it passes (1) and (2) for its own id only, which is revoked.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { signWithNodeKey, type NodeKey } from '../identity/node-key.js';
import { deriveKey } from '../identity/index.js';
import { ephemeralX25519, open, seal, sharedSecret, type EphemeralKey } from '../join/crypto.js';
import type { RekeyRequest, RekeyResponse } from '../rpc/index.js';
import { signedByNode } from './record.js';

/** How far a Rekey request's clock may be off (as for call proofs). */
export const REKEY_MAX_SKEW_MS = 60_000;

type RekeyFields = Pick<
  RekeyRequest,
  'nodeId' | 'meshId' | 'epoch' | 'publicKey' | 'nonce' | 'sentAtMs'
>;

export function rekeyBytes(r: RekeyFields): Buffer {
  return Buffer.from(
    [
      'helix/v1/rekey',
      r.nodeId,
      r.meshId,
      String(r.epoch),
      Buffer.from(r.publicKey).toString('hex'),
      Buffer.from(r.nonce).toString('hex'),
      String(r.sentAtMs),
    ].join('\n'),
  );
}

function rekeyProof(secret: Uint8Array, r: RekeyFields): Buffer {
  return createHmac('sha256', deriveKey(secret, 'rekey')).update(rekeyBytes(r)).digest();
}

/** A signed request for the current secret, and the ephemeral key its answer is sealed to. */
export async function makeRekeyRequest(opts: {
  nodeId: string;
  meshId: string;
  epoch: number;
  secret: Uint8Array;
  key: NodeKey;
  now?: number;
}): Promise<{ request: RekeyRequest; ephemeral: EphemeralKey }> {
  const ephemeral = ephemeralX25519();
  const fields: RekeyFields = {
    nodeId: opts.nodeId,
    meshId: opts.meshId,
    epoch: opts.epoch,
    publicKey: ephemeral.publicKey,
    nonce: randomBytes(32),
    sentAtMs: Math.round(opts.now ?? Date.now()),
  };
  const signature = signWithNodeKey(opts.key, rekeyBytes(fields));
  return {
    request: { ...fields, proof: rekeyProof(opts.secret, fields), signature },
    ephemeral,
  };
}

export type RekeyCheck = { ok: true } | { ok: false; reason: string };

/**
 * Checks a request against the secret the caller claims to hold (the one this node had at the
 * request's epoch): clock, proof, node signature. The revocation check is the caller's (service).
 */
export async function checkRekeyRequest(
  request: RekeyRequest,
  secretAtEpoch: Uint8Array | null,
  now: number = Date.now(),
): Promise<RekeyCheck> {
  if (Math.abs(now - Number(request.sentAtMs)) > REKEY_MAX_SKEW_MS)
    return {
      ok: false,
      reason: `the rekey request is stamped ${Math.round((now - Number(request.sentAtMs)) / 1000)} s off this node's clock; synchronise the clocks (NTP)`,
    };
  if (request.publicKey.length !== 32 || request.nonce.length !== 32)
    return { ok: false, reason: 'the rekey request is malformed; update helix-node on the caller' };
  const proof = Buffer.from(request.proof);
  if (
    !secretAtEpoch ||
    proof.length !== 32 ||
    !timingSafeEqual(proof, rekeyProof(secretAtEpoch, request))
  )
    return {
      ok: false,
      reason: `the rekey request does not prove a secret this mesh had at epoch ${request.epoch}; join with an invite from a member (\`helix-node invite\`)`,
    };
  if (!(await signedByNode(request.nodeId, rekeyBytes(request), request.signature)))
    return { ok: false, reason: `the rekey request is not signed by node ${request.nodeId}` };
  return { ok: true };
}

function rekeyKey(shared: Buffer, request: RekeyRequest, memberPublic: Uint8Array): Buffer {
  const info = Buffer.concat([Buffer.from('helix/v1/rekey'), request.publicKey, memberPublic]);
  return Buffer.from(hkdfSync('sha256', shared, request.nonce, info, 32));
}

/** The answer: the records after the caller's epoch and the current secret sealed to it. */
export function sealRekeyAnswer(
  request: RekeyRequest,
  memberId: string,
  records: unknown[],
  secret: Uint8Array,
): RekeyResponse {
  const own = ephemeralX25519();
  const key = rekeyKey(sharedSecret(own.privateKey, request.publicKey), request, own.publicKey);
  const { iv, sealed } = seal(key, secret, request.nodeId);
  return {
    memberNodeId: memberId,
    records: JSON.stringify(records),
    publicKey: own.publicKey,
    iv,
    sealedSecret: sealed,
  };
}

/** Opens the secret in an answer; throws when it was not sealed for this request. */
export function openRekeyAnswer(
  request: RekeyRequest,
  ephemeral: EphemeralKey,
  answer: RekeyResponse,
): Buffer {
  const key = rekeyKey(
    sharedSecret(ephemeral.privateKey, answer.publicKey),
    request,
    answer.publicKey,
  );
  return open(key, answer.iv, answer.sealedSecret, request.nodeId);
}
