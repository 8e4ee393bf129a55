import { describe, expect, it } from 'vitest';
import { Metadata } from '@grpc/grpc-js';
import { grpcKey, PROOF_HEADERS, ProofVerifier, signCall } from '../../node/rpc/index.js';
import { meshSecret } from './helpers.js';

const PATH = '/helix.v1.AgentHost/Run';
const T0 = 1_700_000_000_000;

describe('ProofVerifier', () => {
  const secret = meshSecret();
  const cases: Array<{ name: string; metadata: () => Metadata; now: number; expect: string }> = [
    {
      name: 'a fresh proof',
      metadata: () => signCall(grpcKey(secret), PATH, 'n1', new Metadata(), T0),
      now: T0 + 500,
      expect: 'ok',
    },
    { name: 'no metadata', metadata: () => new Metadata(), now: T0, expect: 'missing' },
    {
      name: 'a proof without nonce',
      metadata: () => {
        const m = signCall(grpcKey(secret), PATH, 'n1', new Metadata(), T0);
        m.remove(PROOF_HEADERS.nonce);
        return m;
      },
      now: T0,
      expect: 'missing',
    },
    {
      name: 'a garbled proof',
      metadata: () => {
        const m = signCall(grpcKey(secret), PATH, 'n1', new Metadata(), T0);
        m.set(PROOF_HEADERS.proof, 'zz');
        return m;
      },
      now: T0,
      expect: 'malformed',
    },
    {
      name: 'another secret',
      metadata: () => signCall(grpcKey(meshSecret()), PATH, 'n1', new Metadata(), T0),
      now: T0,
      expect: 'wrong',
    },
    {
      name: 'another method',
      metadata: () => signCall(grpcKey(secret), '/helix.v1.Mesh/Ping', 'n1', new Metadata(), T0),
      now: T0,
      expect: 'wrong',
    },
    {
      name: 'a node id swapped after signing',
      metadata: () => {
        const m = signCall(grpcKey(secret), PATH, 'n1', new Metadata(), T0);
        m.set(PROOF_HEADERS.node, 'n2');
        return m;
      },
      now: T0,
      expect: 'wrong',
    },
    {
      name: '61 s old',
      metadata: () => signCall(grpcKey(secret), PATH, 'n1', new Metadata(), T0),
      now: T0 + 61_000,
      expect: 'stale',
    },
    {
      name: '61 s in the future',
      metadata: () => signCall(grpcKey(secret), PATH, 'n1', new Metadata(), T0 + 61_000),
      now: T0,
      expect: 'stale',
    },
    {
      name: '59 s old',
      metadata: () => signCall(grpcKey(secret), PATH, 'n1', new Metadata(), T0),
      now: T0 + 59_000,
      expect: 'ok',
    },
  ];
  for (const c of cases) {
    it(`judges ${c.name}: ${c.expect}`, () => {
      const v = new ProofVerifier(secret, { now: () => c.now });
      const result = v.check(PATH, c.metadata());
      expect(result.ok ? 'ok' : result.kind).toBe(c.expect);
    });
  }

  it('refuses the same proof twice, and forgets nonces once they are outside the clock window', () => {
    let now = T0;
    const v = new ProofVerifier(secret, { now: () => now });
    const m = signCall(grpcKey(secret), PATH, 'n1', new Metadata(), T0);
    expect(v.check(PATH, m).ok).toBe(true);
    const again = v.check(PATH, m);
    expect(again.ok ? 'ok' : again.kind).toBe('replayed');
    expect(v.rememberedNonces).toBe(1);
    now = T0 + 62_000;
    expect(v.check(PATH, signCall(grpcKey(secret), PATH, 'n1', new Metadata(), now)).ok).toBe(true);
    expect(v.rememberedNonces).toBe(1);
  });

  it('refuses calls once the nonce memory is full instead of forgetting live nonces', () => {
    const v = new ProofVerifier(secret, { now: () => T0, maxNonces: 2 });
    for (let i = 0; i < 2; i++)
      expect(v.check(PATH, signCall(grpcKey(secret), PATH, 'n1', new Metadata(), T0)).ok).toBe(
        true,
      );
    const third = v.check(PATH, signCall(grpcKey(secret), PATH, 'n1', new Metadata(), T0));
    expect(third.ok ? 'ok' : third.kind).toBe('busy');
  });
});
