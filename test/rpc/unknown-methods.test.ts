/**
 * Auth before anything else (issue 11): a call without the mesh proof to a service this node does
 * not run got UNIMPLEMENTED (grpc-js answers unknown methods before its interceptors run), so an
 * outsider learned which services a node runs (Transcriber on STT nodes only). Now every call,
 * served or not, is refused UNAUTHENTICATED without proof; with proof, an unserved one is
 * UNIMPLEMENTED.
 */
import { Client, credentials, Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GrpcStatus,
  MeshService,
  RpcCallError,
  RpcClients,
  RpcServer,
  callOptions,
  serverStream,
  unaryCall,
  type MeshServer,
} from '../../node/rpc/index.js';
import { meshSecret } from './helpers.js';
import { freePort } from '../support/ports.js';

const HOST = '127.0.3.1';
const port = await freePort(HOST);
const target = `${HOST}:${port}`;
const secret = meshSecret();

const mesh: MeshServer = {
  join: (_call, cb) => cb({ code: GrpcStatus.UNIMPLEMENTED, details: 'not in this test' }),
  ping: (call, cb) =>
    cb(null, {
      nodeId: 'srv',
      name: 'srv',
      meshId: 'm',
      sentAtMs: call.request.sentAtMs,
      receivedAtMs: Date.now(),
      memberProof: Buffer.alloc(0),
    }),
};

describe('a node that runs only the Mesh service', () => {
  // No Transcriber, Llm, ImageStore, …: a node without STT, GPU or images.
  const server = new RpcServer({ addresses: [HOST], port, secret, shutdownTimeoutMs: 500 });
  const outsider = new RpcClients({ nodeId: 'outsider' });
  const member = new RpcClients({ nodeId: 'member', secret });
  beforeAll(async () => {
    server.addService(MeshService, mesh);
    await server.start();
  });
  afterAll(async () => {
    outsider.close();
    member.close();
    await server.stop();
  });

  /** The Transcriber's bidi stream: the status it ends with. */
  async function transcribe(clients: RpcClients): Promise<{ code?: number; details?: string }> {
    const t = clients.transcriber(target);
    const { metadata, options } = callOptions(5000);
    const call = t.transcribe(metadata, options);
    return new Promise((resolve) => {
      call.on('error', resolve);
      call.on('data', () => resolve({ details: 'got data' }));
      call.write({
        traceId: 't',
        sampleRate: 16000,
        pcm: Buffer.alloc(320),
        end: true,
        language: '',
      });
      call.end();
    });
  }

  it('refuses Transcriber.Transcribe without proof with UNAUTHENTICATED, not UNIMPLEMENTED', async () => {
    const err = await transcribe(outsider);
    expect(err.code).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(err.details).toMatch(/join the mesh/);
  });

  it('refuses unary and server-streaming methods it does not serve the same way', async () => {
    const llm = outsider.llm(target);
    const unary = await unaryCall(
      llm.generate.bind(llm),
      { traceId: 't', model: 'm', prompt: 'hi', system: '', maxTokens: 0, jsonSchemaJson: '' },
      { timeoutMs: 5000, target },
    ).catch((e: unknown) => e);
    expect((unary as RpcCallError).code).toBe(GrpcStatus.UNAUTHENTICATED);

    const images = outsider.imageStore(target);
    const stream = await (async () => {
      for await (const _ of serverStream(images.fetch.bind(images), { tag: 'x' } as never, {
        timeoutMs: 5000,
        target,
      }));
    })().catch((e: unknown) => e);
    expect((stream as RpcCallError).code).toBe(GrpcStatus.UNAUTHENTICATED);
  });

  it('refuses a path no HelixOS service has without proof too', async () => {
    const raw = new Client(target, credentials.createInsecure());
    try {
      const err = await new Promise<{ code?: number }>((resolve) => {
        raw.makeUnaryRequest(
          '/some.Other/Thing',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.alloc(0),
          new Metadata(),
          { deadline: Date.now() + 5000 },
          (e) => resolve(e ?? {}),
        );
      });
      expect(err.code).toBe(GrpcStatus.UNAUTHENTICATED);
    } finally {
      raw.close();
    }
  });

  it('answers a member UNIMPLEMENTED for a service it does not run, naming the method', async () => {
    const err = await transcribe(member);
    expect(err.code).toBe(GrpcStatus.UNIMPLEMENTED);
    expect(err.details).toMatch(/does not serve \/helix\.v1\.Transcriber\/Transcribe/);
  });

  it('still serves what it runs', async () => {
    const m = member.mesh(target);
    const reply = await unaryCall(
      m.ping.bind(m),
      { nodeId: 'member', sentAtMs: Date.now(), challenge: Buffer.alloc(0) },
      { timeoutMs: 5000, target },
    );
    expect(reply.nodeId).toBe('srv');
  });
});
