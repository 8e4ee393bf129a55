/** Reading WAV files and the VAD model from disk into the 16 kHz mono PCM the rest of the pipeline takes. */
import { constants, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { DependencyMissingError, fileKind, InputError } from '../errors.js';
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

function openProblem(path: string, what: string, err: unknown): InputError {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT'
      ? 'no such file'
      : code === 'EACCES'
        ? 'permission denied'
        : code === 'ELOOP'
          ? 'too many symbolic links'
          : (code ?? (err as Error).message);
  const noun = what.replace(/^an? /, '');
  return new InputError(`cannot read ${noun} ${path}: ${why}; check the path`, { cause: err });
}

/**
 * The bytes of a regular file, at most `maxBytes` of them, whatever the file claims to hold.
 * A directory, a device (/dev/zero), a FIFO or a socket is refused at once with what it is and
 * what to pass instead: the path is checked before it is opened, opened non-blocking (opening a
 * FIFO would otherwise hold one of libuv's few file threads until a writer came) and checked again
 * once open (the path may have changed in between). The cap counts the bytes read, not the size
 * stat reports (0 for devices, and a file may grow while it is read).
 */
export async function readRegularFile(
  path: string,
  options: {
    maxBytes: number;
    /** what the file should be, with its article: "an audio file" */
    what: string;
    /** what to pass instead, for the errors */
    instead: string;
    signal?: AbortSignal;
  },
): Promise<Buffer> {
  const { maxBytes, what, instead } = options;
  const refuse = (st: Stats) =>
    new InputError(`${path} is ${fileKind(st)}, not a regular file; ${instead}`);
  const tooBig = (n: string) =>
    new InputError(
      `${path}: ${n} bytes is over the ${maxBytes}-byte limit for ${what}; ${instead}`,
    );
  let before: Stats;
  try {
    before = await stat(path);
  } catch (err) {
    throw openProblem(path, what, err);
  }
  if (!before.isFile()) throw refuse(before);
  if (before.size > maxBytes) throw tooBig(String(before.size));
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw openProblem(path, what, err);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw refuse(st);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      options.signal?.throwIfAborted();
      // One byte past the cap is enough to know it is over.
      const want = Math.min(1 << 20, maxBytes + 1 - total);
      const buf = Buffer.allocUnsafe(want);
      const { bytesRead } = await handle.read(buf, 0, want, null);
      if (bytesRead === 0) break;
      chunks.push(bytesRead === want ? buf : buf.subarray(0, bytesRead));
      total += bytesRead;
      if (total > maxBytes) throw tooBig(`more than ${maxBytes}`);
    }
    return Buffer.concat(chunks, total);
  } finally {
    await handle.close();
  }
}

/**
 * Reads a WAV file of any common rate and channel count as 16 kHz mono Pcm16. Regular files only,
 * and at most `maxBytes` (64 MiB) of them (readRegularFile).
 */
export async function readWavFile(
  path: string,
  options: { maxBytes?: number; signal?: AbortSignal } = {},
): Promise<AudioClip> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_WAV_BYTES;
  const bytes = await readRegularFile(path, {
    maxBytes,
    what: 'an audio file',
    instead:
      'pass a WAV file of the utterance (record one with `arecord -f S16_LE -r 16000 -c 1 -d 5 clip.wav`, or trim a long one with `sox IN.wav OUT.wav trim 0 30`)',
    signal: options.signal,
  });
  const wav = parseWav(bytes, { source: path, maxBytes });
  const { channelData: _channels, ...original } = wav;
  return { pcm: floatToInt16(toMono16k(wav)), sampleRate: TARGET_RATE, original };
}

/** The Silero VAD model is about 0.9 MB; anything far larger is not one. */
const MAX_VAD_MODEL_BYTES = 64 * 1024 * 1024;

/**
 * Loads the Silero VAD model (whisper.cpp's ggml form). A missing file is a DependencyMissingError
 * naming the path and how to get it.
 */
export async function loadSileroModel(
  path: string,
  options: { signal?: AbortSignal } = {},
): Promise<SileroModel> {
  const fix =
    'get it with `helix-node models pull silero-vad` or set voice.vad_model in helix.toml';
  let bytes: Buffer;
  try {
    bytes = await readRegularFile(path, {
      maxBytes: MAX_VAD_MODEL_BYTES,
      what: 'a VAD model',
      instead: fix,
      signal: options.signal,
    });
  } catch (err) {
    const cause = (err as { cause?: NodeJS.ErrnoException }).cause;
    if (cause?.code === 'ENOENT')
      throw new DependencyMissingError(`Silero VAD model ${path}`, fix, { cause });
    throw err;
  }
  return parseSileroModel(bytes, path);
}
