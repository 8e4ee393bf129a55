/**
 * The Transcriber service with the real engines from node/stt behind it, over real gRPC with
 * mesh auth: Whisper (smart-whisper) on the shared whisper.cpp test model, which has no weights
 * and so hears nothing, and the pocketsphinx phrase recogniser on espeak-ng speech.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAgents } from '../../node/agents/index.js';
import { findOnPath } from '../../node/capabilities/index.js';
import { RpcClients, RpcServer } from '../../node/rpc/index.js';
import { PhraseRecogniser, WhisperEngine } from '../../node/stt/index.js';
import {
  CHUNK_SAMPLES,
  registerTranscriber,
  transcribeWith,
  type SttEngine,
  type TranscribeCallInfo,
} from '../../node/transcribe/index.js';
import { existsSync } from 'node:fs';
import { speech } from '../pipeline/support/mesh.js';
import { meshSecret } from '../pipeline/support/net.js';
import { repoRoot, sharedFile } from '../voice/shared-data.js';
import { freePort } from '../support/ports.js';

const HOST = '127.0.6.61';
const TEST_MODEL = sharedFile('for-tests-ggml-tiny.en.bin');
const espeak = await findOnPath('espeak-ng');
const pocketsphinx =
  (await findOnPath('pocketsphinx_batch')) !== null &&
  existsSync('/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict');

async function serve(engine: SttEngine, calls: TranscribeCallInfo[]) {
  const secret = meshSecret();
  const port = await freePort();
  const server = new RpcServer({ addresses: [HOST], port, secret, shutdownTimeoutMs: 500 });
  registerTranscriber(server, { engine, selfName: 'desk', onCall: (i) => calls.push(i) });
  await server.start();
  const clients = new RpcClients({ nodeId: 'id-kitchen', secret });
  const target = `${HOST}:${port}`;
  return {
    transcribe: (pcm: Int16Array, traceId: string) =>
      transcribeWith(clients.transcriber(target), pcm, { traceId, target, timeoutMs: 60_000 }),
    async stop() {
      clients.close();
      await server.stop();
      await engine.close();
    },
  };
}

describe.skipIf(!TEST_MODEL || !espeak)(
  'Whisper behind the Transcriber (needs the shared test model)',
  () => {
    const stops: Array<() => Promise<void>> = [];
    afterAll(async () => {
      for (const s of stops) await s();
    });

    it('runs the whole engine path and returns a well-formed, empty transcript', async () => {
      const calls: TranscribeCallInfo[] = [];
      const engine = await WhisperEngine.create({ model: TEST_MODEL!, threads: 2, language: 'en' });
      const node = await serve(engine, calls);
      stops.push(() => node.stop());
      const pcm = await speech('turn on the kitchen lights');
      const t = await node.transcribe(pcm, 'whisper-1');
      expect(t.text).toBe('');
      expect(Array.isArray(t.segments)).toBe(true);
      for (const s of t.segments) {
        expect(s.end).toBeGreaterThanOrEqual(s.start);
        expect(typeof s.text).toBe('string');
      }
      expect(t.confidence).toBeGreaterThanOrEqual(0);
      expect(t.confidence).toBeLessThanOrEqual(1);
      expect(calls[0]).toMatchObject({ traceId: 'whisper-1', samples: pcm.length, ok: true });
      expect(calls[0]!.chunkSamples.slice(0, -1).every((n) => n === CHUNK_SAMPLES)).toBe(true);
      expect(calls[0]!.engineMs).toBeGreaterThan(0);
    });

    it('a node whose model file is missing cannot start the engine, and says how to get one', async () => {
      const err = await WhisperEngine.create({
        model: path.join(repoRoot, 'no-such-model.bin'),
      }).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/no-such-model\.bin/);
    });
  },
);

describe.skipIf(!pocketsphinx || !espeak)(
  'the phrase recogniser behind the Transcriber (needs pocketsphinx, espeak-ng)',
  () => {
    const stops: Array<() => Promise<void>> = [];
    afterAll(async () => {
      for (const s of stops) await s();
    });

    it('hears a command spoken by espeak-ng, streamed in 64 ms chunks', async () => {
      const manifests = (await loadAgents([path.join(repoRoot, 'agents')])).map((a) => a.manifest);
      const engine = await PhraseRecogniser.create({
        manifests,
        slotValues: { 'lights.rooms': ['kitchen', 'living room', 'bedroom'] },
      });
      const calls: TranscribeCallInfo[] = [];
      const node = await serve(engine, calls);
      stops.push(() => node.stop());
      const pcm = await speech('turn on the kitchen lights');
      const t = await node.transcribe(pcm, 'phrase-1');
      // "light" or "lights": the command language takes either
      expect(t.text).toMatch(/^turn on the kitchen lights?$/);
      expect(t.language).toBe('en');
      expect(calls[0]!.chunkSamples.length).toBe(Math.ceil(pcm.length / CHUNK_SAMPLES));
    });
  },
);
