import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metadata } from '@grpc/grpc-js';
import {
  AgentHostService,
  GrpcStatus,
  TranscriberService,
  callOptions,
  type TranscriberServer,
  type TranscriptEvent,
  MeshService,
  RouterService,
  RpcCallError,
  RpcClients,
  RpcServer,
  callerNodeId,
  grpcKey,
  serverStream,
  signCall,
  unaryCall,
  type AgentHostServer,
  type MeshServer,
  type RouterServer,
} from '../../node/rpc/index.js';
import { meshSecret } from './helpers.js';
import { freePort } from '../support/ports.js';

const HOST = '127.0.3.1';
const port = await freePort();

describe('gRPC calls carry proof of the mesh secret', () => {
  const secret = meshSecret();
  const target = `${HOST}:${port}`;
  const server = new RpcServer({ addresses: [HOST], port, secret, shutdownTimeoutMs: 500 });
  const runCancelled: string[] = [];
  const clientsToClose: RpcClients[] = [];

  const mesh: MeshServer = {
    join: (_call, cb) => cb({ code: GrpcStatus.UNIMPLEMENTED, details: 'not in this test' }),
    ping: (call, cb) =>
      cb(null, {
        nodeId: 'server',
        name: 'srv',
        meshId: 'm',
        sentAtMs: call.request.sentAtMs,
        receivedAtMs: Date.now(),
        memberProof: Buffer.alloc(0),
      }),
  };
  const router: RouterServer = {
    route: (call, cb) => {
      // "hang" never answers: the caller's deadline has to end the call.
      if (call.request.text === 'hang') return;
      cb(null, {
        result: { $case: 'notUnderstood', value: { reason: 'echo' } },
        model: callerNodeId(call) ?? '',
      });
    },
  };
  const agentHost: AgentHostServer = {
    run: (call) => {
      call.write({
        event: { $case: 'accepted', value: { hostNode: 'server', hostName: 'srv', warm: true } },
      });
      const timer = setInterval(
        () =>
          call.write({ event: { $case: 'progress', value: { message: 'working', percent: -1 } } }),
        20,
      );
      call.on('cancelled', () => {
        clearInterval(timer);
        runCancelled.push(call.request.traceId);
      });
    },
  };

  const clients = (opts: { secret?: Uint8Array; nodeId?: string } = {}) => {
    const c = new RpcClients({ nodeId: opts.nodeId ?? 'client-node', secret: opts.secret });
    clientsToClose.push(c);
    return c;
  };

  const transcriber: TranscriberServer = {
    transcribe: (call) => {
      let bytes = 0;
      call.on('data', (chunk: { pcm: Buffer; end: boolean }) => {
        bytes += chunk.pcm.length;
        const value = {
          ...{ text: `${bytes} bytes`, confidence: 1, language: 'en', segments: [] },
          ...{ rejected: '', rejectedDetail: '', choices: [] },
        };
        call.write({ event: chunk.end ? { $case: 'final', value } : { $case: 'partial', value } });
        if (chunk.end) call.end();
      });
    },
  };

  beforeAll(async () => {
    server
      .addService(MeshService, mesh)
      .addService(RouterService, router)
      .addService(AgentHostService, agentHost)
      .addService(TranscriberService, transcriber);
    await server.start();
  });
  afterAll(async () => {
    for (const c of clientsToClose) c.close();
    await server.stop();
  });

  it('accepts a call signed with the mesh secret and tells the handler who called', async () => {
    const r = clients({ secret, nodeId: 'node-a' }).router(target);
    const reply = await unaryCall(
      r.route.bind(r),
      { traceId: 't1', text: 'hello', language: 'en', context: '' },
      { timeoutMs: 5000, target },
    );
    expect(reply.model).toBe('node-a');
  });

  it('refuses a call without proof with UNAUTHENTICATED and says to join the mesh', async () => {
    const m = clients().mesh(target);
    const err = await unaryCall(
      m.ping.bind(m),
      { nodeId: 'x', sentAtMs: Date.now(), challenge: Buffer.alloc(0) },
      { timeoutMs: 5000, target },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcCallError);
    expect((err as RpcCallError).code).toBe(GrpcStatus.UNAUTHENTICATED);
    expect((err as RpcCallError).message).toMatch(/join the mesh/);
  });

  it('refuses a proof made with another mesh secret', async () => {
    const r = clients({ secret: meshSecret() }).router(target);
    const err = await unaryCall(
      r.route.bind(r),
      { traceId: 't', text: 'x', language: '', context: '' },
      { timeoutMs: 5000, target },
    ).catch((e: unknown) => e);
    expect((err as RpcCallError).code).toBe(GrpcStatus.UNAUTHENTICATED);
    expect((err as RpcCallError).message).toMatch(/different mesh secret/);
  });

  it('refuses a replayed proof', async () => {
    // A client without the interceptor sends the same captured proof twice.
    const r = clients().router(target);
    const captured = signCall(grpcKey(secret), RouterService.route.path, 'node-a', new Metadata());
    const call = () =>
      unaryCall(
        r.route.bind(r),
        { traceId: 't', text: 'x', language: '', context: '' },
        { timeoutMs: 5000, target, metadata: captured.clone() },
      );
    await expect(call()).resolves.toMatchObject({ model: 'node-a' });
    const err = await call().catch((e: unknown) => e);
    expect((err as RpcCallError).code).toBe(GrpcStatus.UNAUTHENTICATED);
    expect((err as RpcCallError).message).toMatch(/replays/);
  });

  it('refuses a proof for one method used on another', async () => {
    const r = clients().router(target);
    const forPing = signCall(grpcKey(secret), MeshService.ping.path, 'node-a', new Metadata());
    const err = await unaryCall(
      r.route.bind(r),
      { traceId: 't', text: 'x', language: '', context: '' },
      { timeoutMs: 5000, target, metadata: forPing },
    ).catch((e: unknown) => e);
    expect((err as RpcCallError).code).toBe(GrpcStatus.UNAUTHENTICATED);
  });

  it('refuses a proof stamped two minutes in the past and says to fix the clock', async () => {
    const r = clients().router(target);
    const old = signCall(
      grpcKey(secret),
      RouterService.route.path,
      'node-a',
      new Metadata(),
      Date.now() - 120_000,
    );
    const err = await unaryCall(
      r.route.bind(r),
      { traceId: 't', text: 'x', language: '', context: '' },
      { timeoutMs: 5000, target, metadata: old },
    ).catch((e: unknown) => e);
    expect((err as RpcCallError).code).toBe(GrpcStatus.UNAUTHENTICATED);
    expect((err as RpcCallError).message).toMatch(/clock/);
  });

  it('reports an exceeded deadline as DEADLINE_EXCEEDED naming the peer', async () => {
    const r = clients({ secret }).router(target);
    const err = await unaryCall(
      r.route.bind(r),
      { traceId: 't', text: 'hang', language: '', context: '' },
      { timeoutMs: 200, target },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcCallError);
    expect((err as RpcCallError).code).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    expect((err as RpcCallError).message).toContain(target);
  });

  it('streams run events, and leaving the stream cancels the run on the host', async () => {
    const a = clients({ secret }).agentHost(target);
    const seen: string[] = [];
    const request = {
      traceId: 'run-1',
      agent: 'echo',
      intent: 'say',
      argsJson: '{}',
      callerNode: 'client-node',
      deadlineMs: 0,
      imageHash: '',
    };
    for await (const ev of serverStream(a.run.bind(a), request, { timeoutMs: 10_000, target })) {
      seen.push(ev.event?.$case ?? 'none');
      if (seen.length === 3) break;
    }
    expect(seen).toEqual(['accepted', 'progress', 'progress']);
    await expect.poll(() => runCancelled, { timeout: 5000 }).toContain('run-1');
  });

  it('aborting the signal cancels a unary call', async () => {
    const r = clients({ secret }).router(target);
    const ac = new AbortController();
    const pending = unaryCall(
      r.route.bind(r),
      { traceId: 't', text: 'hang', language: '', context: '' },
      { timeoutMs: 10_000, target, signal: ac.signal },
    );
    ac.abort();
    const err = await pending.catch((e: unknown) => e);
    expect((err as RpcCallError).code).toBe(GrpcStatus.CANCELLED);
  });

  it('authenticates bidirectional streams: audio in, partials and a final out', async () => {
    const t = clients({ secret }).transcriber(target);
    const { metadata, options } = callOptions(5000);
    const call = t.transcribe(metadata, options);
    const events: TranscriptEvent[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (ev: TranscriptEvent) => events.push(ev));
      call.on('end', resolve);
      call.on('error', reject);
    });
    call.write({
      traceId: 't',
      sampleRate: 16000,
      pcm: Buffer.alloc(320),
      end: false,
      language: 'en',
    });
    call.write({ traceId: '', sampleRate: 0, pcm: Buffer.alloc(320), end: true, language: '' });
    call.end();
    await done;
    expect(events.map((e) => [e.event?.$case, e.event?.value.text])).toEqual([
      ['partial', '320 bytes'],
      ['final', '640 bytes'],
    ]);
  });

  it('refuses a bidirectional stream without proof', async () => {
    const t = clients().transcriber(target);
    const { metadata, options } = callOptions(5000);
    const call = t.transcribe(metadata, options);
    const err = await new Promise<unknown>((resolve) => {
      call.on('error', resolve);
      call.on('data', () => resolve(new Error('got data without proof')));
      call.write({
        traceId: 't',
        sampleRate: 16000,
        pcm: Buffer.alloc(320),
        end: true,
        language: '',
      });
      call.end();
    });
    expect((err as { code?: number }).code).toBe(GrpcStatus.UNAUTHENTICATED);
  });
});
