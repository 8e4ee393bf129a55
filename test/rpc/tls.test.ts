import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createMesh,
  ensureNodeTls,
  throwawayCertificate,
  type MeshTls,
} from '../../node/identity/index.js';
import {
  GrpcStatus,
  MeshService,
  RpcCallError,
  RpcClients,
  RpcServer,
  TLS_SERVER_NAME,
  certificateNodeId,
  unaryCall,
  type MeshServer,
} from '../../node/rpc/index.js';
import { freePort } from '../support/ports.js';
import { tempDir } from './helpers.js';

const HOST = '127.0.3.2';
const port = await freePort();

/** A member's TLS material in a temp state dir. */
async function memberTls(secret: Uint8Array, nodeId: string): Promise<MeshTls> {
  const state = tempDir('tls-member');
  dirs.push(state.remove);
  return (await ensureNodeTls(state.dir, secret, { nodeId, addresses: [HOST] })).tls;
}
const dirs: Array<() => void> = [];
const ping = (client: ReturnType<RpcClients['mesh']>) =>
  unaryCall(
    client.ping.bind(client),
    { nodeId: 'x', sentAtMs: Date.now(), challenge: Buffer.alloc(0) },
    { timeoutMs: 3000 },
  );

describe('gRPC over TLS 1.3 with mesh certificates', () => {
  const mesh = createMesh();
  const open: RpcClients[] = [];
  let server: RpcServer;
  let member: MeshTls;
  const seen: Array<{ method: string; certified: string | null }> = [];

  const impl: MeshServer = {
    join: (call, cb) => {
      seen.push({ method: 'join', certified: certificateNodeId(call) });
      cb({ code: GrpcStatus.FAILED_PRECONDITION, details: 'join reached the handler' });
    },
    ping: (call, cb) => {
      seen.push({ method: 'ping', certified: certificateNodeId(call) });
      cb(null, {
        nodeId: 'server',
        name: 'srv',
        meshId: mesh.meshId,
        sentAtMs: call.request.sentAtMs,
        receivedAtMs: Date.now(),
        memberProof: Buffer.alloc(0),
      });
    },
  };

  beforeAll(async () => {
    const serverTls = await memberTls(mesh.secret, 'server');
    member = await memberTls(mesh.secret, 'caller');
    server = new RpcServer({
      addresses: [HOST],
      port,
      secret: mesh.secret,
      tls: serverTls,
      shutdownTimeoutMs: 500,
    });
    server.addService(MeshService, impl);
    await server.start();
  });
  afterAll(async () => {
    for (const c of open) c.close();
    await server.stop();
    dirs.forEach((d) => d());
  });
  const clients = (c: RpcClients) => (open.push(c), c);

  it('answers a member that presents a mesh certificate, with the certificate visible to the handler', async () => {
    const c = clients(
      new RpcClients({
        nodeId: 'caller',
        secret: mesh.secret,
        transport: { kind: 'mesh', tls: member },
      }),
    );
    const reply = await ping(c.mesh(`${HOST}:${port}`));
    expect(reply.meshId).toBe(mesh.meshId);
    expect(seen.at(-1)).toEqual({ method: 'ping', certified: 'caller' });
  });

  it('negotiates TLS 1.3 and asks for a client certificate', async () => {
    const version = await new Promise<string | null>((resolve, reject) => {
      const s = connect(
        {
          host: HOST,
          port,
          servername: TLS_SERVER_NAME,
          rejectUnauthorized: false,
          ALPNProtocols: ['h2'],
        },
        () => {
          resolve(s.getProtocol());
          s.destroy();
        },
      );
      s.on('error', reject);
    });
    expect(version).toBe('TLSv1.3');
  });

  it('closes a connection whose certificate is from another mesh at the TLS layer, before any call reaches a handler', async () => {
    const stranger = await memberTls(createMesh().secret, 'caller');
    const before = seen.length;
    const c = clients(
      new RpcClients({
        nodeId: 'caller',
        // even with the right mesh secret: the certificate is what the TLS layer checks
        secret: mesh.secret,
        transport: { kind: 'mesh', tls: { ...stranger } },
      }),
    );
    const err = await ping(c.mesh(`${HOST}:${port}`)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcCallError);
    // Rejected by the client too: the server's certificate is not from the stranger's CA.
    expect((err as RpcCallError).code).toBe(GrpcStatus.UNAVAILABLE);
    expect(seen.length).toBe(before);
  });

  it('closes a connection with a self-signed certificate right after the handshake', async () => {
    const self = await throwawayCertificate();
    const closedBy = await new Promise<string>((resolve) => {
      const s = connect({
        host: HOST,
        port,
        servername: TLS_SERVER_NAME,
        rejectUnauthorized: false,
        ALPNProtocols: ['h2'],
        cert: self.cert,
        key: self.key,
      });
      s.on('secureConnect', () => s.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
      s.on('data', () => resolve('data'));
      s.on('error', (e) => resolve(`error ${e.message}`));
      s.on('close', () => resolve('closed'));
    });
    expect(closedBy).not.toBe('data');
  });

  it('a caller signed by the mesh CA but for another node id cannot sign calls as this one', async () => {
    const mallory = await memberTls(mesh.secret, 'mallory');
    const c = clients(
      new RpcClients({
        nodeId: 'caller',
        secret: mesh.secret,
        transport: { kind: 'mesh', tls: mallory },
      }),
    );
    const err = await ping(c.mesh(`${HOST}:${port}`)).catch((e: unknown) => e);
    expect((err as RpcCallError).code).toBe(GrpcStatus.UNAUTHENTICATED);
    expect((err as Error).message).toMatch(/certificate names node mallory/);
  });

  it('lets a node without a certificate reach Join only', async () => {
    const c = clients(new RpcClients({ nodeId: 'newcomer', transport: { kind: 'join' } }));
    const client = c.mesh(`${HOST}:${port}`);
    const join = await unaryCall(
      client.join.bind(client),
      {
        nodeId: 'newcomer',
        name: 'n',
        publicKey: Buffer.alloc(32),
        nonce: Buffer.alloc(32),
        inviteProof: Buffer.alloc(0),
        csr: Buffer.alloc(0),
      },
      { timeoutMs: 3000 },
    ).catch((e: unknown) => e);
    expect((join as Error).message).toMatch(/join reached the handler/);
    expect(seen.at(-1)).toEqual({ method: 'join', certified: null });
    const withSecret = clients(
      new RpcClients({ nodeId: 'caller', secret: mesh.secret, transport: { kind: 'join' } }),
    );
    const err = await ping(withSecret.mesh(`${HOST}:${port}`)).catch((e: unknown) => e);
    expect((err as RpcCallError).code).toBe(GrpcStatus.UNAUTHENTICATED);
    expect((err as Error).message).toMatch(/without a mesh certificate/);
  });

  it('refuses a plaintext client', async () => {
    const c = clients(new RpcClients({ nodeId: 'caller', secret: mesh.secret }));
    const err = await ping(c.mesh(`${HOST}:${port}`)).catch((e: unknown) => e);
    expect((err as RpcCallError).code).toBe(GrpcStatus.UNAVAILABLE);
  });
});
