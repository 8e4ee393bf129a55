import { describe, expect, it } from 'vitest';
import { findModel, humanBytes, KNOWN_MODELS, modelUrl } from '../../node/models/index.js';

describe('model registry', () => {
  it.each([
    ['base.en', 'base.en'],
    ['whisper-base.en', 'base.en'],
    ['ggml-base.en.bin', 'base.en'],
    ['WHISPER-BASE', 'base'],
    ['tiny.en', 'tiny.en'],
    ['silero', 'silero-v6.2.0'],
    ['vad', 'silero-v6.2.0'],
    ['silero-vad', 'silero-v6.2.0'], // what the VAD's own error says to pull
    ['silero-v6.2.0', 'silero-v6.2.0'],
  ])('finds %s as %s', (query, name) => {
    expect(findModel(query)?.name).toBe(name);
  });

  it.each(['large-v9', '', 'base.fr', 'llama3'])('knows no model called %j', (query) => {
    expect(findModel(query)).toBeNull();
  });

  it('gives every model a checksum and a Hugging Face URL', () => {
    for (const m of KNOWN_MODELS) {
      expect(m.sha256 ?? m.sha1, m.name).toMatch(/^[0-9a-f]{40}([0-9a-f]{24})?$/);
      if (m.sha256) expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(modelUrl(m)).toBe(`https://huggingface.co/${m.repo}/resolve/main/${m.file}`);
    }
  });

  it.each([
    [512, '1 KiB'],
    [885_098, '864 KiB'],
    [5 * 1024 * 1024, '5.0 MiB'],
    [147_951_465, '141 MiB'],
    [1_533_763_059, '1.4 GiB'],
  ])('writes %d bytes as %s', (bytes, text) => {
    expect(humanBytes(bytes)).toBe(text);
  });
});
