/**
 * Rotation records and Keys.Rekey's checks (issue 11, point 8): signatures by the remover's node
 * key and by the old secret, replays of an old rotation refused, the sealed secret only for the
 * request it answers.
 */
import { randomBytes } from 'node:crypto';
import { generateNodeKey, type NodeKey } from '../../node/identity/node-key.js';
import { describe, expect, it } from 'vitest';
import {
  checkChain,
  checkRekeyRequest,
  checkRotation,
  makeRekeyRequest,
  openRekeyAnswer,
  sealRekeyAnswer,
  secretFingerprint,
  signRotation,
  type SignedRotation,
} from '../../node/removal/index.js';

async function node(): Promise<{ id: string; key: NodeKey }> {
  const key = generateNodeKey();
  return { id: key.peerId, key };
}

const MESH = 'mesh-test';

describe('rotation records', () => {
  it('applies on top of the secret it names, once, at the next epoch', async () => {
    const a = await node();
    const c = await node();
    const s0 = randomBytes(32);
    const s1 = randomBytes(32);
    const record = await signRotation({
      meshId: MESH,
      epoch: 1,
      oldSecret: s0,
      newSecret: s1,
      removed: { id: c.id, name: 'node2' },
      by: a.id,
      key: a.key,
    });
    expect(record.body.to).toBe(secretFingerprint(s1));
    const ctx = { meshId: MESH, secret: s0, epoch: 0, revoked: new Set<string>() };
    expect(await checkRotation(record, ctx)).toMatchObject({ ok: true });

    // a replay once applied: old epoch, and another secret than it starts from
    const replay = await checkRotation(record, { ...ctx, secret: s1, epoch: 1 });
    expect(replay).toMatchObject({ ok: false });
    expect(!replay.ok && replay.reason).toMatch(/is old .*replayed rotation is ignored/);
    // for another mesh, or skipping an epoch
    expect(await checkRotation(record, { ...ctx, meshId: 'other' })).toMatchObject({ ok: false });
    const skip = await checkRotation({ ...record, body: { ...record.body, epoch: 3 } }, ctx);
    expect(!skip.ok && skip.reason).toMatch(/skips epochs/);
  });

  it('refuses a record not signed by its remover, not made with the current secret, or by a removed node', async () => {
    const a = await node();
    const b = await node();
    const c = await node();
    const s0 = randomBytes(32);
    const ctx = { meshId: MESH, secret: s0, epoch: 0, revoked: new Set<string>() };
    const make = (over: Partial<Parameters<typeof signRotation>[0]> = {}) =>
      signRotation({
        meshId: MESH,
        epoch: 1,
        oldSecret: s0,
        newSecret: randomBytes(32),
        removed: { id: c.id, name: 'node2' },
        by: a.id,
        key: a.key,
        ...over,
      });

    // signed by b's key but claiming to be a's
    const forged = await make({ key: b.key });
    const f = await checkRotation(forged, ctx);
    expect(!f.ok && f.reason).toMatch(/signature is not by node/);

    // made by a holder of another secret (the removed node after the rotation, say)
    const foreign = await make({ oldSecret: randomBytes(32) });
    const g = await checkRotation(foreign, ctx);
    expect(!g.ok && g.reason).toMatch(/another mesh secret/);
    // the right `from` but a mac under another secret
    const good = await make();
    const tampered: SignedRotation = { ...good, mac: '00'.repeat(32) };
    const t = await checkRotation(tampered, ctx);
    expect(!t.ok && t.reason).toMatch(/not authenticated by the current mesh secret/);
    // a body changed after signing
    const edited = { ...good, body: { ...good.body, removed: { id: b.id, name: 'node1' } } };
    const e = await checkRotation(edited, ctx);
    expect(e.ok).toBe(false);

    // the removed node signing a rotation of its own (it still holds the old secret)
    const byRemoved = await make({ by: c.id, key: c.key, removed: { id: b.id, name: 'node1' } });
    const r = await checkRotation(byRemoved, { ...ctx, revoked: new Set([c.id]) });
    expect(!r.ok && r.reason).toMatch(/a node already removed/);
    // nor can a node remove itself
    const self = await make({ by: c.id, key: c.key });
    expect(await checkRotation(self, ctx)).toMatchObject({ ok: false });
    // malformed
    expect(await checkRotation({ body: {} }, ctx)).toMatchObject({ ok: false });
  });

  it('checks a chain for a member that was away over two removals', async () => {
    const a = await node();
    const [c, d] = [await node(), await node()];
    const [s0, s1, s2] = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const r1 = await signRotation({
      meshId: MESH,
      epoch: 1,
      oldSecret: s0,
      newSecret: s1,
      removed: { id: c.id, name: 'c' },
      by: a.id,
      key: a.key,
    });
    const r2 = await signRotation({
      meshId: MESH,
      epoch: 2,
      oldSecret: s1,
      newSecret: s2,
      removed: { id: d.id, name: 'd' },
      by: a.id,
      key: a.key,
    });
    const ctx = { meshId: MESH, secret: s0, epoch: 0, revoked: new Set<string>() };
    const chain = await checkChain([r1, r2], ctx, s2);
    expect(chain.ok && chain.records.map((r) => r.body.epoch)).toEqual([1, 2]);
    // a secret the records do not end at
    const wrong = await checkChain([r1, r2], ctx, randomBytes(32));
    expect(!wrong.ok && wrong.reason).toMatch(/not the one the records end at/);
    // out of order, or with a gap
    expect(await checkChain([r2, r1], ctx, s2)).toMatchObject({ ok: false });
    expect(await checkChain([r2], ctx, s2)).toMatchObject({ ok: false });
    // the second link signed by the node the first one removed
    const r2ByC = await signRotation({
      meshId: MESH,
      epoch: 2,
      oldSecret: s1,
      newSecret: s2,
      removed: { id: d.id, name: 'd' },
      by: c.id,
      key: c.key,
    });
    const byRemoved = await checkChain([r1, r2ByC], ctx, s2);
    expect(!byRemoved.ok && byRemoved.reason).toMatch(/already removed/);
  });
});

describe('rekey requests', () => {
  it('proves an earlier secret and the node key; the answer opens only for that request', async () => {
    const b = await node();
    const s0 = randomBytes(32);
    const s1 = randomBytes(32);
    const { request, ephemeral } = await makeRekeyRequest({
      nodeId: b.id,
      meshId: MESH,
      epoch: 0,
      secret: s0,
      key: b.key,
    });
    expect(await checkRekeyRequest(request, s0)).toEqual({ ok: true });
    // another secret, or none known at that epoch
    const wrong = await checkRekeyRequest(request, randomBytes(32));
    expect(!wrong.ok && wrong.reason).toMatch(/does not prove a secret this mesh had at epoch 0/);
    expect(await checkRekeyRequest(request, null)).toMatchObject({ ok: false });
    // another node's id on b's signature
    const other = await node();
    const posing = await checkRekeyRequest({ ...request, nodeId: other.id }, s0);
    expect(posing.ok).toBe(false);
    // stale
    const later = await checkRekeyRequest(request, s0, Date.now() + 120_000);
    expect(!later.ok && later.reason).toMatch(/off this node's clock/);

    const answer = sealRekeyAnswer(request, 'member', [], s1);
    expect(openRekeyAnswer(request, ephemeral, answer)).toEqual(s1);
    // an eavesdropper with its own ephemeral key, or a replay of the answer to another request
    const { request: second, ephemeral: secondKey } = await makeRekeyRequest({
      nodeId: b.id,
      meshId: MESH,
      epoch: 0,
      secret: s0,
      key: b.key,
    });
    expect(() => openRekeyAnswer(second, secondKey, answer)).toThrow();
  });
});
