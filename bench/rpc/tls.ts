/**
 * What the mesh's TLS 1.3 costs one gRPC call, without Docker's noise: Mesh.Ping (unary) and a
 * streamed call shaped like a voice utterance (Transcriber.Transcribe: 3 s of 16 kHz PCM in
 * 100 ms chunks, one reply), each over plaintext and over mesh TLS with client certificates, in
 * the same run, interleaved. Both servers run the per-call proof, as the daemon's does.
 *
 *   npx tsx bench/rpc/tls.ts [--runs 1000] [--json]
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureNodeTls } from '../../node/identity/index.js';
import {
  MeshService,
  RpcClients,
  RpcServer,
  TranscriberService,
  TranscriptEvent,
  WireTranscript,
  unaryCall,
  type AudioChunk,
  type MeshServer,
  type TranscriberServer,
} from '../../node/rpc/index.js';
import { percentiles, type Percentiles } from '../agents/baseline.js';
import { freePort } from '../../test/support/ports.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000' },
    warmup: { type: 'string', default: '50' },
    json: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const warmup = Number(values.warmup);
const HOST = '127.0.5.61';
const CHUNK = Buffer.alloc(3200, 7); // 100 ms of 16 kHz 16-bit PCM
const CHUNKS = 30;

const mesh: MeshServer = {
  join: (_call, cb) => cb({ code: 12, details: 'not here' }),
  ping: (call, cb) =>
    cb(null, {
      nodeId: 'host',
      name: 'host',
      meshId: 'bench',
      sentAtMs: call.request.sentAtMs,
      receivedAtMs: Date.now(),
      memberProof: Buffer.alloc(0),
    }),
};
const transcriber: TranscriberServer = {
  transcribe: (call) => {
    let bytes = 0;
    call.on('data', (c: AudioChunk) => (bytes += c.pcm.length));
    call.on('end', () => {
      call.write(
        TranscriptEvent.fromPartial({
          event: { $case: 'final', value: WireTranscript.fromPartial({ text: `${bytes} bytes` }) },
        }),
      );
      call.end();
    });
  },
};

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'helix-bench-tls-'));
  const secret = randomBytes(32);
  const [plainPort, tlsPort] = [await freePort(), await freePort()];
  const hostTls = await ensureNodeTls(path.join(dir, 'host'), secret, {
    nodeId: 'host',
    addresses: [HOST],
  });
  const callerTls = await ensureNodeTls(path.join(dir, 'caller'), secret, {
    nodeId: 'caller',
    addresses: [],
  });
  const servers = [
    new RpcServer({ addresses: [HOST], port: plainPort, secret }),
    new RpcServer({ addresses: [HOST], port: tlsPort, secret, tls: hostTls.tls }),
  ];
  for (const s of servers) {
    s.addService(MeshService, mesh);
    s.addService(TranscriberService, transcriber);
    await s.start();
  }
  const plain = new RpcClients({ nodeId: 'caller', secret });
  const tls = new RpcClients({
    nodeId: 'caller',
    secret,
    transport: { kind: 'mesh', tls: callerTls.tls },
  });
  try {
    const ping = (clients: RpcClients, port: number) => async () => {
      const c = clients.mesh({ address: HOST, port });
      await unaryCall(
        c.ping.bind(c),
        { nodeId: 'caller', sentAtMs: Date.now(), challenge: Buffer.alloc(0) },
        { timeoutMs: 5000 },
      );
    };
    const utterance = (clients: RpcClients, port: number) => () =>
      new Promise<void>((resolve, reject) => {
        const call = clients.transcriber({ address: HOST, port }).transcribe();
        call.on('data', () => undefined);
        call.on('error', reject);
        call.on('end', resolve);
        for (let i = 0; i < CHUNKS; i++) {
          const chunk: AudioChunk = {
            traceId: 'bench',
            sampleRate: 16_000,
            pcm: CHUNK,
            end: i === CHUNKS - 1,
            language: '',
          };
          call.write(chunk);
        }
        call.end();
      });
    const variants: Array<[string, () => Promise<void>]> = [
      ['pingPlain', ping(plain, plainPort)],
      ['pingTls', ping(tls, tlsPort)],
      ['utterancePlain', utterance(plain, plainPort)],
      ['utteranceTls', utterance(tls, tlsPort)],
    ];
    const samples = new Map<string, number[]>(variants.map(([n]) => [n, []]));
    for (let i = 0; i < warmup + runs; i++) {
      for (const [name, once] of variants) {
        const t0 = process.hrtime.bigint();
        await once();
        if (i >= warmup) samples.get(name)!.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }
    const r = Object.fromEntries([...samples].map(([n, xs]) => [n, percentiles(xs)])) as Record<
      string,
      Percentiles
    >;
    if (values.json) {
      console.log(JSON.stringify({ runs, loadAvg1: os.loadavg()[0], ...r }, null, 2));
      return;
    }
    console.log(
      `gRPC over plaintext vs mesh TLS 1.3, ${runs} calls each (after ${warmup} warm-up), load average ${os.loadavg()[0]!.toFixed(1)}`,
    );
    for (const [label, a, b] of [
      ['Mesh.Ping', r.pingPlain!, r.pingTls!],
      [`Transcribe ${CHUNKS} x 100 ms PCM`, r.utterancePlain!, r.utteranceTls!],
    ] as const) {
      console.log(
        `  ${label.padEnd(30)} p50 ${a.p50.toFixed(3)} -> ${b.p50.toFixed(3)} ms (${(b.p50 - a.p50 >= 0 ? '+' : '') + (b.p50 - a.p50).toFixed(3)} ms, x${(b.p50 / a.p50).toFixed(2)})   p99 ${a.p99.toFixed(2)} -> ${b.p99.toFixed(2)} ms`,
      );
    }
  } finally {
    plain.close();
    tls.close();
    for (const s of servers) await s.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
