import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { MeshAccessError } from '../../node/errors.js';
import {
  JoinRefusedError,
  JoinService,
  createInvite,
  parseInviteCode,
  requestJoin,
} from '../../node/join/index.js';
import {
  ephemeralX25519,
  grantKey,
  inviteKeyPair,
  open,
  seal,
  sharedSecret,
  signInviteProof,
} from '../../node/join/crypto.js';
import {
  GrpcStatus,
  JoinGrant,
  MeshService,
  RpcServer,
  routeGrpcLogs,
  type MeshServer,
} from '../../node/rpc/index.js';
import { silentLogger } from '../../node/log.js';
import { X509Certificate } from 'node:crypto';
import { createNodeCsr, meshCa } from '../../node/identity/index.js';
import { meshSecret, tempDir } from '../rpc/helpers.js';
import { freePort } from '../support/ports.js';

routeGrpcLogs(silentLogger);

describe('join protocol security', () => {
  const cleanups: Array<() => unknown> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  function service() {
    const { dir, remove } = tempDir('join-sec');
    cleanups.push(remove);
    const secret = meshSecret();
    const svc = new JoinService({
      self: { id: 'm', name: 'm' },
      stateDir: dir,
      meshId: 'mesh-x',
      secret,
      allowedTags: [],
      members: () => [],
    });
    return { svc, dir, secret };
  }

  function joinRequest(token: Buffer, nodeId = 'joiner') {
    const own = ephemeralX25519();
    const nonce = randomBytes(32);
    return {
      own,
      nonce,
      request: {
        nodeId,
        name: 'j',
        publicKey: own.publicKey,
        nonce,
        inviteProof: signInviteProof(token, nonce, own.publicKey, nodeId),
        csr: Buffer.alloc(0),
      },
    };
  }

  it('a passive eavesdropper sees neither the secret nor a way to open the grant', async () => {
    const { svc, dir, secret } = service();
    const { code } = await createInvite(dir, { ttlS: 600, memberAddress: '127.0.0.1', rpcPort: 1 });
    const token = parseInviteCode(code).token;
    const { request } = joinRequest(token);
    const response = await svc.admit(request, '127.0.0.1');
    const wire = Buffer.concat([response.publicKey, response.iv, response.sealedGrant]);
    expect(wire.includes(secret)).toBe(false);
    // Even knowing the invite token, without the joiner's X25519 private key the grant stays shut.
    const eve = ephemeralX25519();
    const guess = grantKey({
      shared: sharedSecret(eve.privateKey, response.publicKey),
      inviteKey: Buffer.alloc(0),
      joinerNonce: request.nonce,
      joinerPublic: request.publicKey,
      memberPublic: response.publicKey,
    });
    expect(() => open(guess, response.iv, response.sealedGrant, request.nodeId)).toThrow();
  });

  it('an attacker who swaps in its own key while replaying the proof is refused, and the invite stays usable', async () => {
    const { svc, dir, secret } = service();
    const { code } = await createInvite(dir, { ttlS: 600, memberAddress: '127.0.0.1', rpcPort: 1 });
    const token = parseInviteCode(code).token;
    const { request, own, nonce } = joinRequest(token);
    const mallory = ephemeralX25519();
    const err = await svc
      .admit({ ...request, publicKey: mallory.publicKey }, '127.0.0.1')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JoinRefusedError);
    expect((err as JoinRefusedError).grpcCode).toBe(GrpcStatus.PERMISSION_DENIED);

    const response = await svc.admit(request, '127.0.0.1');
    const key = grantKey({
      shared: sharedSecret(own.privateKey, response.publicKey),
      inviteKey: inviteKeyPair(token).verifier,
      joinerNonce: nonce,
      joinerPublic: own.publicKey,
      memberPublic: response.publicKey,
    });
    expect(
      Buffer.from(
        JoinGrant.decode(open(key, response.iv, response.sealedGrant, 'joiner')).secret,
      ).equals(secret),
    ).toBe(true);
  });

  it('a fake member without the invite token cannot hand the joiner a mesh of its own', async () => {
    // The impostor answers Join with a grant sealed to the joiner's key but without the token.
    const impostor: MeshServer = {
      join: (call, cb) => {
        const own = ephemeralX25519();
        const key = grantKey({
          shared: sharedSecret(own.privateKey, call.request.publicKey),
          inviteKey: Buffer.alloc(0),
          joinerNonce: call.request.nonce,
          joinerPublic: call.request.publicKey,
          memberPublic: own.publicKey,
        });
        const { iv, sealed } = seal(
          key,
          JoinGrant.encode({
            meshId: 'evil',
            secret: randomBytes(32),
            members: [],
            certificate: Buffer.alloc(0),
          }).finish(),
          call.request.nodeId,
        );
        cb(null, {
          memberNodeId: 'evil',
          memberName: 'evil',
          publicKey: own.publicKey,
          iv,
          sealedGrant: sealed,
        });
      },
      ping: (_c, cb) => cb({ code: GrpcStatus.UNIMPLEMENTED }),
    };
    const port = await freePort();
    const server = new RpcServer({ addresses: ['127.0.3.18'], port, secret: meshSecret() });
    server.addService(MeshService, impostor);
    await server.start();
    cleanups.push(() => server.stop());
    const { dir, remove } = tempDir('join-sec-code');
    cleanups.push(remove);
    const { code } = await createInvite(dir, {
      ttlS: 600,
      memberAddress: '127.0.3.18',
      rpcPort: port,
    });
    const err = await requestJoin({
      invite: code,
      nodeId: 'victim',
      name: 'v',
      timeoutMs: 5000,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshAccessError);
    expect((err as Error).message).toMatch(/cannot open/);
  });

  it('refuses a low-order X25519 key without burning the invite', async () => {
    const { svc, dir } = service();
    const { code } = await createInvite(dir, { ttlS: 600, memberAddress: '127.0.0.1', rpcPort: 1 });
    const token = parseInviteCode(code).token;
    const zero = Buffer.alloc(32);
    const nonce = randomBytes(32);
    const bad = {
      nodeId: 'j',
      name: 'j',
      publicKey: zero,
      nonce,
      inviteProof: signInviteProof(token, nonce, zero, 'j'),
      csr: Buffer.alloc(0),
    };
    const err = await svc.admit(bad, '127.0.0.1').catch((e: unknown) => e);
    expect((err as JoinRefusedError).grpcCode).toBe(GrpcStatus.INVALID_ARGUMENT);
    await expect(svc.admit(joinRequest(token).request, '127.0.0.1')).resolves.toHaveProperty(
      'sealedGrant',
    );
  });
  it('signs the joiner CSR for the admitted node id inside the sealed grant; a malformed CSR is refused without using the invite', async () => {
    const { svc, dir, secret } = service();
    const { code } = await createInvite(dir, { ttlS: 600, memberAddress: '127.0.0.1', rpcPort: 1 });
    const token = parseInviteCode(code).token;
    const bad = joinRequest(token);
    const err = await svc
      .admit({ ...bad.request, csr: Buffer.from('not a certificate request') }, '127.0.0.1')
      .catch((e: unknown) => e);
    expect((err as JoinRefusedError).grpcCode).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect((err as Error).message).toMatch(/malformed certificate request/);

    const joiner = tempDir('join-sec-csr');
    cleanups.push(joiner.remove);
    const { request, own, nonce } = joinRequest(token);
    const csr = await createNodeCsr(joiner.dir, {
      nodeId: 'someone-else',
      addresses: ['10.1.2.3'],
    });
    const response = await svc.admit({ ...request, csr }, '127.0.0.1');
    expect(response.sealedGrant.includes(csr.subarray(0, 40))).toBe(false);
    const key = grantKey({
      shared: sharedSecret(own.privateKey, response.publicKey),
      inviteKey: inviteKeyPair(token).verifier,
      joinerNonce: nonce,
      joinerPublic: own.publicKey,
      memberPublic: response.publicKey,
    });
    const grant = JoinGrant.decode(open(key, response.iv, response.sealedGrant, request.nodeId));
    const cert = new X509Certificate(grant.certificate);
    // the id the member admitted, not the one the CSR asked for
    expect(cert.subject).toBe('CN=joiner');
    expect(cert.subjectAltName).toContain('IP Address:10.1.2.3');
    expect(cert.verify(new X509Certificate((await meshCa(secret)).certDer).publicKey)).toBe(true);
  });
});
