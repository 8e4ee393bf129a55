/**
 * Rotation records (docs/security.md, "Removing a node"): `helix-node remove NODE` makes a new
 * mesh secret and one record saying so. The record names the removed node, the secret it rotates
 * from and the one it rotates to (by fingerprint, never the secret), and an epoch (1, 2, …). It is
 * signed twice:
 *
 *   sig  Ed25519 by the remover's node key (its node id is the public key), so a member can tell
 *        which member removed whom, and the removed node cannot pose as another member;
 *   mac  HMAC-SHA256(deriveKey(old secret, "rotation")), so only a holder of the secret it
 *        rotates from made it.
 *
 * A record applies only on top of the secret it names as `from` and at the next epoch: a replayed
 * older record (or one for another mesh) is refused. The records a node has applied are its
 * revocation list: every id they remove is refused by gRPC, adverts and joins from then on.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { signedByPeerId, signWithNodeKey, type NodeKey } from '../identity/node-key.js';
import { z } from 'zod';
import { deriveKey } from '../identity/index.js';
import { lazySchema } from '../types.js';

export const ROTATION_VERSION = 1;

export const RotationBodySchema = lazySchema(() =>
  z
    .object({
      v: z.literal(ROTATION_VERSION),
      meshId: z.string().min(1).max(128),
      epoch: z.number().int().min(1),
      from: z.string().regex(/^[0-9a-f]{32}$/),
      to: z.string().regex(/^[0-9a-f]{32}$/),
      removed: z.object({ id: z.string().min(1).max(256), name: z.string().max(128) }).strict(),
      by: z.string().min(1).max(256),
      at: z.number().int().min(0),
    })
    .strict(),
);

export type RotationBody = z.infer<typeof RotationBodySchema>;

export const SignedRotationSchema = lazySchema(() =>
  z
    .object({
      body: RotationBodySchema,
      sig: z.string().regex(/^[0-9a-f]{128}$/),
      mac: z.string().regex(/^[0-9a-f]{64}$/),
    })
    .strict(),
);

export type SignedRotation = z.infer<typeof SignedRotationSchema>;

/** A short public name for a secret (16 bytes of a hash): records say which secret, not what. */
export function secretFingerprint(secret: Uint8Array): string {
  return createHash('sha256')
    .update('helix/v1/secret-id\n')
    .update(secret)
    .digest()
    .subarray(0, 16)
    .toString('hex');
}

/** Canonical bytes of a body: keys in schema order, no spaces. */
export function rotationBytes(body: RotationBody): Buffer {
  const { v, meshId, epoch, from, to, removed, by, at } = body;
  return Buffer.from(
    'helix/v1/rotation\n' +
      JSON.stringify({
        v,
        meshId,
        epoch,
        from,
        to,
        removed: { id: removed.id, name: removed.name },
        by,
        at,
      }),
  );
}

function rotationMac(secret: Uint8Array, body: RotationBody): Buffer {
  return createHmac('sha256', deriveKey(secret, 'rotation')).update(rotationBytes(body)).digest();
}

/** Signs a rotation from `oldSecret` to `newSecret`, by the node whose key this is. */
export async function signRotation(opts: {
  meshId: string;
  epoch: number;
  oldSecret: Uint8Array;
  newSecret: Uint8Array;
  removed: { id: string; name: string };
  by: string;
  key: NodeKey;
  at?: number;
}): Promise<SignedRotation> {
  const body: RotationBody = {
    v: ROTATION_VERSION,
    meshId: opts.meshId,
    epoch: opts.epoch,
    from: secretFingerprint(opts.oldSecret),
    to: secretFingerprint(opts.newSecret),
    removed: { ...opts.removed },
    by: opts.by,
    at: opts.at ?? Date.now(),
  };
  const sig = signWithNodeKey(opts.key, rotationBytes(body));
  return { body, sig: sig.toString('hex'), mac: rotationMac(opts.oldSecret, body).toString('hex') };
}

/** Whether `sig` over `bytes` is by the node whose id is `nodeId` (its id holds its public key). */
export function signedByNode(nodeId: string, bytes: Uint8Array, sig: Uint8Array): Promise<boolean> {
  return Promise.resolve(signedByPeerId(nodeId, bytes, sig));
}

export type RotationCheck = { ok: true; record: SignedRotation } | { ok: false; reason: string };

/** What a node knows when it checks a record: its mesh, current secret and epoch, who is revoked. */
export interface RotationContext {
  meshId: string;
  secret: Uint8Array;
  epoch: number;
  revoked: ReadonlySet<string>;
}

/**
 * Checks one record against this node's current state: shape, mesh, epoch, the secret it rotates
 * from (a replay of an older record fails here), both signatures, and that neither the signer nor
 * the removed node is already revoked.
 */
export function checkRotation(raw: unknown, ctx: RotationContext): Promise<RotationCheck> {
  return checkLink(raw, {
    meshId: ctx.meshId,
    epoch: ctx.epoch,
    from: secretFingerprint(ctx.secret),
    revoked: ctx.revoked,
    macSecret: ctx.secret,
  });
}

async function checkLink(
  raw: unknown,
  ctx: {
    meshId: string;
    epoch: number;
    from: string;
    revoked: ReadonlySet<string>;
    /** null: the link's mac is not checked (the secret it was made with is not known here) */
    macSecret: Uint8Array | null;
  },
): Promise<RotationCheck> {
  const parsed = SignedRotationSchema.safeParse(raw);
  if (!parsed.success)
    return {
      ok: false,
      reason: 'the rotation record is malformed; update helix-node on the sender',
    };
  const record = parsed.data;
  const { body } = record;
  if (body.meshId !== ctx.meshId)
    return { ok: false, reason: `the rotation is for mesh ${body.meshId}, not ${ctx.meshId}` };
  if (body.epoch <= ctx.epoch)
    return {
      ok: false,
      reason: `the rotation to epoch ${body.epoch} is old (this node is at epoch ${ctx.epoch}); a replayed rotation is ignored`,
    };
  if (body.epoch !== ctx.epoch + 1)
    return {
      ok: false,
      reason: `the rotation to epoch ${body.epoch} skips epochs (this node is at ${ctx.epoch}); it catches up from a member`,
    };
  if (body.from !== ctx.from)
    return {
      ok: false,
      reason: 'the rotation starts from another mesh secret than this node holds; it is ignored',
    };
  if (ctx.revoked.has(body.by))
    return { ok: false, reason: `the rotation is signed by ${body.by}, a node already removed` };
  if (body.removed.id === body.by)
    return { ok: false, reason: 'a node cannot remove itself with a rotation record' };
  if (ctx.macSecret) {
    const expected = rotationMac(ctx.macSecret, body);
    if (!timingSafeEqual(expected, Buffer.from(record.mac, 'hex')))
      return { ok: false, reason: 'the rotation is not authenticated by the current mesh secret' };
  }
  if (!(await signedByNode(body.by, rotationBytes(body), Buffer.from(record.sig, 'hex'))))
    return { ok: false, reason: `the rotation's signature is not by node ${body.by}` };
  return { ok: true, record };
}

/**
 * Checks a chain of records a member hands a node that was away (catch-up): the first applies on
 * top of this node's secret (its mac included), each next one on top of the one before (the
 * intermediate secrets are not sent, so those links rest on their signatures), and the last
 * rotates to `finalSecret`. Returns the records to apply, or why not.
 */
export async function checkChain(
  raw: readonly unknown[],
  ctx: RotationContext,
  finalSecret: Uint8Array,
): Promise<{ ok: true; records: SignedRotation[] } | { ok: false; reason: string }> {
  if (raw.length === 0) return { ok: false, reason: 'the member sent no rotation records' };
  const records: SignedRotation[] = [];
  const revoked = new Set(ctx.revoked);
  let epoch = ctx.epoch;
  let from = secretFingerprint(ctx.secret);
  for (const [i, item] of raw.entries()) {
    const check = await checkLink(item, {
      meshId: ctx.meshId,
      epoch,
      from,
      revoked,
      macSecret: i === 0 ? ctx.secret : null,
    });
    if (!check.ok) return check;
    records.push(check.record);
    revoked.add(check.record.body.removed.id);
    epoch = check.record.body.epoch;
    from = check.record.body.to;
  }
  if (from !== secretFingerprint(finalSecret))
    return { ok: false, reason: 'the secret the member sent is not the one the records end at' };
  return { ok: true, records };
}
