import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  hasOllamaModel,
  isGgmlHeader,
  parseArecordList,
  parseNvidiaSmiQuery,
  parseOllamaPs,
  parseOllamaTags,
} from '../../node/capabilities/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const sharedData = path.resolve(root, '..', 'shared', 'data');
const nvidiaQueryCsv = path.join(sharedData, 'nvidia-smi', 'nvidia-smi-query.csv');

// `arecord -l` on a laptop with a built-in codec and a USB microphone (alsa-utils 1.2.8)
const ARECORD_TWO_CARDS = `**** List of CAPTURE Hardware Devices ****
card 0: PCH [HDA Intel PCH], device 0: ALC3246 Analog [ALC3246 Analog]
  Subdevices: 1/1
  Subdevice #0: subdevice #0
card 2: Device [USB PnP Sound Device], device 0: USB Audio [USB Audio]
  Subdevices: 1/1
  Subdevice #0: subdevice #0
`;

// a Raspberry Pi with a ReSpeaker HAT
const ARECORD_PI = `**** List of CAPTURE Hardware Devices ****
card 1: seeed2micvoicec [seeed-2mic-voicecard], device 0: bcm2835-i2s-wm8960-hifi wm8960-hifi-0 [bcm2835-i2s-wm8960-hifi wm8960-hifi-0]
  Subdevices: 1/1
  Subdevice #0: subdevice #0
`;

describe('parseArecordList', () => {
  it.each([
    {
      name: 'a built-in codec and a USB microphone',
      text: ARECORD_TWO_CARDS,
      expected: ['hw:0,0 HDA Intel PCH', 'hw:2,0 USB PnP Sound Device'],
    },
    { name: 'a Pi voice HAT', text: ARECORD_PI, expected: ['hw:1,0 seeed-2mic-voicecard'] },
    {
      name: 'the header only (no capture device)',
      text: '**** List of CAPTURE Hardware Devices ****\n',
      expected: [],
    },
    { name: 'nothing (arecord prints "no soundcards found" on stderr)', text: '', expected: [] },
  ])('reads $name', ({ text, expected }) => {
    expect(parseArecordList(text)).toEqual(expected);
  });
});

describe('parseNvidiaSmiQuery', () => {
  it.skipIf(!existsSync(nvidiaQueryCsv))('reads the real output of an H100 machine', () => {
    expect(parseNvidiaSmiQuery(readFileSync(nvidiaQueryCsv, 'utf8'))).toEqual([
      {
        index: 0,
        name: 'NVIDIA H100 80GB HBM3',
        uuid: 'GPU-333ebd5e-a6a7-95dd-e517-241d319d6652',
        memoryTotalMiB: 81559,
        memoryUsedMiB: 0,
        memoryFreeMiB: 81079,
        utilizationPct: 0,
        driverVersion: '580.159.04',
        computeCap: '9.0',
      },
    ]);
  });

  it.each([
    {
      name: 'two GPUs, one line each',
      csv: '0, NVIDIA GeForce RTX 3060, GPU-aaaa, 12288, 1024, 11264, 3, 550.54.14, 8.6\n1, Tesla T4, GPU-bbbb, 15360, 0, 15360, 0, 550.54.14, 7.5\n',
      expected: [
        { index: 0, name: 'NVIDIA GeForce RTX 3060', memoryTotalMiB: 12288, memoryFreeMiB: 11264 },
        { index: 1, name: 'Tesla T4', memoryTotalMiB: 15360, memoryFreeMiB: 15360 },
      ],
    },
    {
      name: 'fields a board does not report',
      csv: '0, NVIDIA Jetson, [N/A], 7620, [N/A], [N/A], [Not Supported], 540.3.0, 8.7\n',
      expected: [
        {
          index: 0,
          name: 'NVIDIA Jetson',
          memoryTotalMiB: 7620,
          driverVersion: '540.3.0',
          computeCap: '8.7',
        },
      ],
      exact: true,
    },
    {
      name: 'a line with the wrong column count (an older driver without compute_cap)',
      csv: '0, Tesla K80, GPU-c, 11441, 0, 11441, 0, 470.1\n',
      expected: [],
    },
    {
      name: 'an error message instead of CSV',
      csv: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n",
      expected: [],
    },
  ])('reads $name', ({ csv, expected, exact }) => {
    const gpus = parseNvidiaSmiQuery(csv);
    if (exact) expect(gpus).toEqual(expected);
    expect(gpus).toHaveLength(expected.length);
    expected.forEach((e, i) => expect(gpus[i]).toMatchObject(e));
  });
});

describe('Ollama replies', () => {
  const tags = {
    models: [
      {
        name: 'llama3:latest',
        model: 'llama3:latest',
        modified_at: '2025-05-02T10:23:51.431239537+02:00',
        size: 4661224676,
        digest: '365c0bd3c000a25d28ddbf732fe1c6add414de7275464c4e4d1c3b5fcb5d8ad1',
        details: {
          parent_model: '',
          format: 'gguf',
          family: 'llama',
          families: ['llama'],
          parameter_size: '8.0B',
          quantization_level: 'Q4_0',
        },
      },
      {
        name: 'qwen3:0.6b',
        model: 'qwen3:0.6b',
        modified_at: '2025-06-01T08:00:00Z',
        size: 522653767,
        digest: 'abc',
        details: { format: 'gguf', family: 'qwen3' },
      },
    ],
  };
  const ps = {
    models: [
      {
        name: 'qwen3:0.6b',
        model: 'qwen3:0.6b',
        size: 1050000000,
        digest: 'abc',
        details: { format: 'gguf' },
        expires_at: '2025-06-01T08:30:00.123456789+02:00',
        size_vram: 1050000000,
        context_length: 4096,
      },
    ],
  };

  it('lists held and loaded models', () => {
    expect(parseOllamaTags(tags)).toEqual(['llama3:latest', 'qwen3:0.6b']);
    expect(parseOllamaPs(ps)).toEqual(['qwen3:0.6b']);
  });

  it.each([{ reply: { models: [] } }, { reply: { models: null } }])(
    'reads an empty server ($reply)',
    ({ reply }) => {
      expect(parseOllamaTags(reply)).toEqual([]);
      expect(parseOllamaPs(reply)).toEqual([]);
    },
  );

  it.each([{ reply: {} }, { reply: { models: [{ size: 1 }] } }, { reply: 'OK' }])(
    'rejects a reply that is not Ollama’s ($reply)',
    ({ reply }) => {
      expect(() => parseOllamaTags(reply)).toThrow();
    },
  );

  it.each([
    { want: 'llama3', models: ['llama3:latest'], expected: true },
    { want: 'llama3:latest', models: ['llama3:latest'], expected: true },
    { want: 'llama3:8b', models: ['llama3:latest'], expected: false },
    { want: 'llama3', models: ['llama3:8b'], expected: false },
    { want: 'qwen3:0.6b', models: ['llama3:latest', 'qwen3:0.6b'], expected: true },
    { want: 'llama3', models: [], expected: false },
  ])('finds $want among $models: $expected', ({ want, models, expected }) => {
    expect(hasOllamaModel(models, want)).toBe(expected);
  });
});

describe('isGgmlHeader', () => {
  it.each([
    { name: 'ggml magic', bytes: [0x6c, 0x6d, 0x67, 0x67, 0x01], expected: true },
    { name: 'GGUF (llama.cpp, not whisper.cpp)', bytes: [0x47, 0x47, 0x55, 0x46], expected: false },
    { name: 'too short', bytes: [0x6c, 0x6d], expected: false },
    { name: 'text', bytes: [...Buffer.from('<htm')], expected: false },
  ])('says $expected for $name', ({ bytes, expected }) => {
    expect(isGgmlHeader(new Uint8Array(bytes))).toBe(expected);
  });
});
