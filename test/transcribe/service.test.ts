/**
 * Transcriber.Transcribe over real gRPC with mesh auth on 127.0.6.x. The engine here is a
 * plain object that fingerprints the PCM it was given, so the test sees exactly what crossed the
 * wire; real engines are in engines.test.ts.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GrpcStatus,
  RpcCallError,
  RpcClients,
  RpcServer,
  callOptions,
  type TranscriptEvent,
} from '../../node/rpc/index.js';
import {
  CHUNK_SAMPLES,
  registerTranscriber,
  transcribeWith,
  type SttEngine,
  type TranscribeCallInfo,
  type Transcript,
} from '../../node/transcribe/index.js';
import { floatToInt16, parseWav, readWavFile, type Pcm16 } from '../../node/voice/index.js';
import { HOST, meshSecret, tempDir } from '../pipeline/support/net.js';
import { sharedFile } from '../voice/shared-data.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

const JFK = sharedFile('jfk.wav');

function fingerprint(pcm: Int16Array): string {
  return createHash('sha256')
    .update(new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength))
    .digest('hex')
    .slice(0, 16);
}

/** Says how many samples it got and their fingerprint; waits on `gate` when one is set. */
class FingerprintEngine implements SttEngine {
  readonly name = 'fingerprint';
  readonly model = 'none';
  calls: Array<{ samples: number; aborted: boolean }> = [];
  gate: Promise<void> | null = null;
  fail: Error | null = null;

  async transcribe(pcm: Pcm16, opts: { signal?: AbortSignal } = {}): Promise<Transcript> {
    const call = { samples: pcm.length, aborted: false };
    this.calls.push(call);
    opts.signal?.addEventListener('abort', () => (call.aborted = true), { once: true });
    if (this.gate) await this.gate;
    if (this.fail) throw this.fail;
    const text = `${pcm.length} samples ${fingerprint(pcm)}`;
    return {
      text,
      language: 'en',
      confidence: 0.9,
      segments: [{ start: 0, end: pcm.length / 16000, text }],
    };
  }
  async close(): Promise<void> {}
}

function speechLike(samples: number): Int16Array {
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++)
    out[i] = Math.round(8000 * Math.sin(i / 7) + 3000 * Math.sin(i / 53));
  return out;
}

const [port, capturingPort, partialPort] = [await freePort(), await freePort(), await freePort()];

describe('Transcriber service over gRPC', () => {
  const secret = meshSecret();
  const engine = new FingerprintEngine();
  const calls: TranscribeCallInfo[] = [];
  const capture = tempDir('capture');
  const captureDir = path.join(capture.dir, 'debug');
  const target = `${HOST}:${port}`;
  const server = new RpcServer({ addresses: [HOST], port, secret, shutdownTimeoutMs: 500 });
  const capturing = new RpcServer({
    addresses: [HOST],
    port: capturingPort,
    secret,
    shutdownTimeoutMs: 500,
  });
  const partialServer = new RpcServer({
    addresses: [HOST],
    port: partialPort,
    secret,
    shutdownTimeoutMs: 500,
  });
  const clients = new RpcClients({ nodeId: 'mic-node', secret });
  const outsider = new RpcClients({ nodeId: 'outsider' });

  beforeAll(async () => {
    registerTranscriber(server, { engine, selfName: 'desk', onCall: (i) => calls.push(i) });
    registerTranscriber(capturing, { engine, selfName: 'desk', debugCaptureDir: captureDir });
    registerTranscriber(partialServer, { engine, selfName: 'desk', partialEveryMs: 500 });
    await Promise.all([server.start(), capturing.start(), partialServer.start()]);
  });
  afterAll(async () => {
    clients.close();
    outsider.close();
    await Promise.all([server.stop(), capturing.stop(), partialServer.stop()]);
    capture.remove();
  });

  it.skipIf(!JFK)(
    'streams a real utterance in 64 ms chunks and returns the final transcript',
    async () => {
      const clip = await readWavFile(JFK!);
      const pcm = clip.pcm;
      calls.length = 0;
      const t = await transcribeWith(clients.transcriber(target), pcm, {
        traceId: 'trace-jfk',
        timeoutMs: 10_000,
        target,
      });
      expect(t.text).toBe(`${pcm.length} samples ${fingerprint(pcm)}`);
      expect(t.language).toBe('en');
      expect(t.segments).toHaveLength(1);

      const [info] = calls;
      expect(info).toMatchObject({
        traceId: 'trace-jfk',
        caller: 'mic-node',
        samples: pcm.length,
        ok: true,
      });
      const chunks = info!.chunkSamples;
      expect(chunks.length).toBe(Math.ceil(pcm.length / CHUNK_SAMPLES));
      expect(chunks.slice(0, -1).every((n) => n === CHUNK_SAMPLES)).toBe(true);
      expect(chunks.at(-1)).toBe(pcm.length - CHUNK_SAMPLES * (chunks.length - 1));
    },
  );

  it('returns a well-formed empty result for an empty utterance', async () => {
    calls.length = 0;
    const t = await transcribeWith(clients.transcriber(target), new Int16Array(0), {
      traceId: 'empty',
      target,
    });
    expect(t.text).toBe(`0 samples ${fingerprint(new Int16Array(0))}`);
    expect(calls[0]?.chunkSamples).toEqual([0]);
  });

  it('refuses a caller without the mesh proof before any audio reaches the engine', async () => {
    const before = engine.calls.length;
    const err = await transcribeWith(outsider.transcriber(target), speechLike(4000), {
      traceId: 'x',
      target,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcCallError);
    expect((err as RpcCallError).code).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(engine.calls.length).toBe(before);
  });

  it('refuses chunks longer than 64 ms', async () => {
    const events = await rawCall(clients, target, [
      {
        traceId: 'big',
        sampleRate: 16000,
        language: '',
        pcm: Buffer.from(speechLike(2048).buffer),
        end: true,
      },
    ]);
    expect(events.error?.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(events.error?.details).toMatch(/2048 samples; send at most 1024 \(64 ms\)/);
  });

  it('refuses audio that is not 16 kHz', async () => {
    const events = await rawCall(clients, target, [
      {
        traceId: 'rate',
        sampleRate: 44100,
        language: '',
        pcm: Buffer.from(speechLike(1024).buffer),
        end: true,
      },
    ]);
    expect(events.error?.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(events.error?.details).toContain('44100 Hz');
  });

  it('tells the caller which node failed and why when the engine fails', async () => {
    engine.fail = new Error('model context lost');
    try {
      const err = await transcribeWith(clients.transcriber(target), speechLike(3000), {
        traceId: 'fail',
        target,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RpcCallError);
      expect((err as RpcCallError).code).toBe(GrpcStatus.INTERNAL);
      expect((err as Error).message).toContain(
        'speech recognition failed on desk: model context lost',
      );
    } finally {
      engine.fail = null;
    }
  });

  it('cancelling the call aborts the engine work on the server', async () => {
    let open!: () => void;
    engine.gate = new Promise((resolve) => (open = resolve));
    calls.length = 0;
    const abort = new AbortController();
    try {
      const pending = transcribeWith(clients.transcriber(target), speechLike(5000), {
        traceId: 'cancel',
        target,
        signal: abort.signal,
      }).catch((e: unknown) => e);
      await waitFor(() => engine.calls.at(-1)?.samples === 5000, { timeoutMs: 5000 });
      abort.abort();
      const err = await pending;
      expect((err as RpcCallError).code).toBe(GrpcStatus.CANCELLED);
      await waitFor(() => calls.length === 1, { timeoutMs: 5000 });
      expect(engine.calls.at(-1)?.aborted).toBe(true);
      expect(calls[0]).toMatchObject({ traceId: 'cancel', ok: false });
    } finally {
      engine.gate = null;
      open();
    }
  });

  it('sends partial transcripts of the audio so far when the server is set to', async () => {
    const first = speechLike(16 * CHUNK_SAMPLES);
    const rest = speechLike(8 * CHUNK_SAMPLES);
    const { metadata, options } = callOptions(10_000);
    const call = clients.transcriber(`${HOST}:${partialPort}`).transcribe(metadata, options);
    const events: TranscriptEvent[] = [];
    const sawPartial = new Promise<void>((resolve) =>
      call.on('data', (e: TranscriptEvent) => {
        events.push(e);
        if (e.event?.$case === 'partial') resolve();
      }),
    );
    const ended = new Promise<void>((resolve, reject) => {
      call.on('end', resolve);
      call.on('error', reject);
    });
    for (let i = 0; i < 16; i++) {
      const part = first.subarray(i * CHUNK_SAMPLES, (i + 1) * CHUNK_SAMPLES);
      call.write({
        traceId: i === 0 ? 'partials' : '',
        sampleRate: 16000,
        language: '',
        pcm: Buffer.from(part.slice().buffer),
        end: false,
      });
    }
    await sawPartial;
    for (let i = 0; i < 8; i++) {
      const part = rest.subarray(i * CHUNK_SAMPLES, (i + 1) * CHUNK_SAMPLES);
      call.write({
        traceId: '',
        sampleRate: 0,
        language: '',
        pcm: Buffer.from(part.slice().buffer),
        end: i === 7,
      });
    }
    call.end();
    await ended;
    // a partial once 500 ms (8000 samples) had arrived: after the 8th chunk
    const firstEight = first.subarray(0, 8 * CHUNK_SAMPLES);
    expect(events[0]?.event).toEqual({
      $case: 'partial',
      value: expect.objectContaining({
        text: `${firstEight.length} samples ${fingerprint(firstEight)}`,
      }),
    });
    const all = new Int16Array([...first, ...rest]);
    expect(events.at(-1)?.event).toEqual({
      $case: 'final',
      value: expect.objectContaining({ text: `${all.length} samples ${fingerprint(all)}` }),
    });
  });

  it('writes the utterance to disk only where debug capture is on', async () => {
    const pcm = speechLike(7000);
    await transcribeWith(clients.transcriber(target), pcm, { traceId: 'nocap', target });
    expect(existsSync(captureDir)).toBe(false);

    const capTarget = `${HOST}:${capturingPort}`;
    await transcribeWith(clients.transcriber(capTarget), pcm, {
      traceId: 'cap-1',
      target: capTarget,
    });
    const files = readdirSync(captureDir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/-cap-1\.wav$/);
    const wav = parseWav(readFileSync(path.join(captureDir, files[0]!)));
    expect(wav.sampleRate).toBe(16000);
    expect(fingerprint(floatToInt16(wav.channelData[0]!))).toBe(fingerprint(pcm));
  });
});

async function rawCall(
  clients: RpcClients,
  target: string,
  chunks: Array<{
    traceId: string;
    sampleRate: number;
    language: string;
    pcm: Buffer;
    end: boolean;
  }>,
): Promise<{ events: TranscriptEvent[]; error?: { code: number; details: string } }> {
  const { metadata, options } = callOptions(5000);
  const call = clients.transcriber(target).transcribe(metadata, options);
  const events: TranscriptEvent[] = [];
  call.on('data', (e: TranscriptEvent) => events.push(e));
  const done = new Promise<{ code: number; details: string } | undefined>((resolve) => {
    call.on('error', (e: { code: number; details: string }) => resolve(e));
    call.on('end', () => resolve(undefined));
  });
  for (const c of chunks) call.write(c);
  call.end();
  return { events, error: await done };
}
