import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../node/config/index.js';
import { DependencyMissingError, InputError } from '../../node/errors.js';
import { createSttEngine, probeStt, WhisperEngine } from '../../node/stt/index.js';
import { readWavFile, type Pcm16 } from '../../node/voice/index.js';
import { missingReason, sharedFile } from '../voice/shared-data.js';

async function addonBuilt(): Promise<boolean> {
  try {
    await import('smart-whisper');
    return true;
  } catch {
    return false;
  }
}

const modelPath = sharedFile('for-tests-ggml-tiny.en.bin');
const jfkPath = sharedFile('jfk.wav');
const hasAddon = await addonBuilt();
const skipReason = !hasAddon
  ? 'smart-whisper addon not built (npm ci, then scripts/build-native.sh)'
  : !modelPath
    ? missingReason('for-tests-ggml-tiny.en.bin')
    : !jfkPath
      ? missingReason('jfk.wav')
      : '';

describe.skipIf(!!skipReason)(
  `Whisper engine on the empty tiny.en test model${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let engine: WhisperEngine;
    let speech: Pcm16;
    beforeAll(async () => {
      engine = await WhisperEngine.create({ model: modelPath!, threads: 2, language: 'en' });
      speech = (await readWavFile(jfkPath!)).pcm;
    });
    afterAll(async () => {
      await engine?.close();
    });

    it('loads, runs the whole pipeline and returns a well-formed empty transcript', async () => {
      const t = await engine.transcribe(speech);
      // the test model has no weights: whisper.cpp decodes nothing
      expect(t).toEqual({ text: '', segments: [], language: 'en', confidence: 0 });
      expect(engine.name).toBe('whisper');
      expect(engine.model).toBe(modelPath);
    });

    it('keeps the event loop running while it transcribes', async () => {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      try {
        await engine.transcribe(speech);
      } finally {
        clearInterval(timer);
      }
      expect(ticks).toBeGreaterThan(0);
    });

    it('gives up at once when the signal aborts', async () => {
      const ac = new AbortController();
      const pending = engine.transcribe(speech, { signal: ac.signal });
      ac.abort(new Error('user stopped'));
      await expect(pending).rejects.toThrow('user stopped');
      // the engine is still usable afterwards
      await expect(engine.transcribe(speech.subarray(0, 16000))).resolves.toMatchObject({
        text: '',
      });
    });
  },
);

describe('Whisper engine model checks', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'helix-whisper-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names the missing model file and how to pull one', async () => {
    const path = join(dir, 'ggml-base.en.bin');
    const err = await WhisperEngine.create({ model: path }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyMissingError);
    expect((err as Error).message).toContain(path);
    expect((err as Error).message).toMatch(/helix-node models pull/);
  });

  it('says so when no model is configured', async () => {
    const config = parseConfig({ stt: { engine: 'whisper', model: '' } });
    await expect(createSttEngine(config.stt)).rejects.toThrow(
      /stt\.model is empty.*helix-node models pull/,
    );
  });

  it('refuses a file that is not a ggml model', async () => {
    const path = join(dir, 'not-a-model.bin');
    await writeFile(path, 'this is not a model');
    await expect(WhisperEngine.create({ model: path })).rejects.toBeInstanceOf(InputError);
  });

  it('makes no engine for stt.engine = "none"', async () => {
    expect(await createSttEngine(parseConfig({ stt: { engine: 'none' } }).stt)).toBeNull();
  });
});

describe('probeStt', () => {
  it.skipIf(!!skipReason)('finds the Whisper engine usable with the test model', async () => {
    const model = modelPath!;
    const p = await probeStt(parseConfig({ stt: { engine: 'whisper', model } }).stt);
    expect(p).toEqual({ engine: 'whisper', available: true, model });
  });

  it('reports a missing Whisper model with the fix', async () => {
    const p = await probeStt(
      parseConfig({ stt: { engine: 'whisper', model: '/nonexistent/ggml.bin' } }).stt,
    );
    expect(p).toMatchObject({
      engine: 'whisper',
      available: false,
      problem: expect.stringMatching(/\/nonexistent\/ggml\.bin.*helix-node models pull/),
    });
  });

  it('reports a missing pocketsphinx with the apt-get line', async () => {
    const p = await probeStt(parseConfig({ stt: { engine: 'phrase' } }).stt, {
      pocketsphinxBin: '/nonexistent/pocketsphinx_batch',
    });
    expect(p).toMatchObject({
      engine: 'phrase',
      available: false,
      problem: expect.stringMatching(/apt-get install pocketsphinx pocketsphinx-en-us/),
    });
  });

  it('says an engine of "none" is not available', async () => {
    expect(await probeStt(parseConfig({ stt: { engine: 'none' } }).stt)).toMatchObject({
      available: false,
    });
  });
});
