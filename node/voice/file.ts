/** Reading WAV files and the VAD model from disk into the 16 kHz mono PCM the rest of the pipeline takes. */
import { open, readFile } from 'node:fs/promises';
import { DependencyMissingError, InputError } from '../errors.js';
import { parseSileroModel, type SileroModel } from './silero.js';
import { toMono16k, TARGET_RATE } from './resample.js';
import { floatToInt16, type Pcm16 } from './audio.js';
import { DEFAULT_MAX_WAV_BYTES, parseWav, type WavInfo } from './wav.js';

export interface AudioClip {
  /** 16 kHz mono 16-bit: converted once, here, from whatever the file held */
  pcm: Pcm16;
  sampleRate: typeof TARGET_RATE;
  /** what the file held before conversion */
  original: WavInfo;
}

/** Reads a WAV file of any common rate and channel count as 16 kHz mono Pcm16. Size is checked before reading. */
export async function readWavFile(
  path: string,
  options: { maxBytes?: number; signal?: AbortSignal } = {},
): Promise<AudioClip> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_WAV_BYTES;
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code;
    throw new InputError(`cannot read audio file ${path}: ${why}; check the path`, { cause: err });
  }
  try {
    const { size } = await handle.stat();
    if (size > maxBytes) {
      throw new InputError(
        `${path}: ${size} bytes is over the ${maxBytes}-byte limit for audio input; trim it to the utterance (e.g. \`sox IN.wav OUT.wav trim 0 30\`)`,
      );
    }
    const bytes = await handle.readFile({ signal: options.signal });
    const wav = parseWav(bytes, { source: path, maxBytes });
    const { channelData: _channels, ...original } = wav;
    return { pcm: floatToInt16(toMono16k(wav)), sampleRate: TARGET_RATE, original };
  } finally {
    await handle.close();
  }
}

/**
 * Loads the Silero VAD model (whisper.cpp's ggml form). A missing file is a DependencyMissingError
 * naming the path and how to get it.
 */
export async function loadSileroModel(
  path: string,
  options: { signal?: AbortSignal } = {},
): Promise<SileroModel> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path, { signal: options.signal });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new DependencyMissingError(
        `Silero VAD model ${path}`,
        'get it with `helix-node models pull silero-vad` or set voice.vad_model in helix.toml',
        { cause: err },
      );
    }
    throw new InputError(`cannot read VAD model ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return parseSileroModel(bytes, path);
}
