/**
 * Whisper through whisper.cpp in process (smart-whisper). Inference runs on libuv's thread
 * pool (a N-API async worker), so the event loop keeps serving heartbeats and gRPC meanwhile.
 * Build: scripts/build-native.sh compiles the bundled whisper.cpp with -march=native.
 */
import { open } from 'node:fs/promises';
import { DependencyMissingError, InputError } from '../errors.js';
import { untilAborted } from '../async.js';
import { int16ToFloat, type Pcm16 } from '../voice/index.js';
import type { SttEngine, TranscribeOptions, Transcript } from './engine.js';

export interface WhisperOptions {
  /** ggml model file (stt.model) */
  model: string;
  /** stt.threads */
  threads?: number;
  /** stt.language ("en", or "auto" to detect) */
  language?: string;
  /** seconds of idleness before the model is unloaded (default 600) */
  offloadS?: number;
}

/** The shape of smart-whisper's detailed result that this engine reads. */
interface WhisperSegment {
  from: number;
  to: number;
  text: string;
  lang?: string;
  confidence?: number;
}

interface WhisperBinding {
  transcribe(
    pcm: Float32Array,
    params: Record<string, unknown>,
  ): Promise<{ result: Promise<WhisperSegment[]> }>;
  free(): Promise<void>;
}

const GGML_MAGIC = 0x67676d6c;

export class WhisperEngine implements SttEngine {
  readonly name = 'whisper';

  private constructor(
    readonly model: string,
    private readonly whisper: WhisperBinding,
    private readonly options: WhisperOptions,
  ) {}

  /** Checks the model file and loads the native addon; the model itself loads on first use. */
  static async create(options: WhisperOptions): Promise<WhisperEngine> {
    await checkModelFile(options.model);
    let mod: typeof import('smart-whisper');
    try {
      mod = await import('smart-whisper');
    } catch (err) {
      throw new DependencyMissingError(
        'the smart-whisper native addon',
        'run `npm ci` then `scripts/build-native.sh` in the HelixOS directory',
        { cause: err },
      );
    }
    const whisper = new mod.Whisper(options.model, {
      gpu: false,
      offload: options.offloadS ?? 600,
    });
    return new WhisperEngine(options.model, whisper as unknown as WhisperBinding, options);
  }

  async transcribe(pcm: Pcm16, opts: TranscribeOptions = {}): Promise<Transcript> {
    opts.signal?.throwIfAborted();
    // the engine's edge: whisper.cpp takes floats; the one conversion on the audio's way here
    const samples = int16ToFloat(pcm);
    const language = this.options.language ?? 'en';
    // smart-whisper cannot cancel a running inference: on abort the caller gets the abort at
    // once and the result is dropped when it arrives.
    const work = (async () => {
      const task = await this.whisper.transcribe(samples, {
        language,
        format: 'detail',
        n_threads: this.options.threads ?? 2,
        no_context: true,
        suppress_non_speech_tokens: true,
      });
      return task.result;
    })();
    const segments = await untilAborted(work, opts.signal);
    const texts = segments.map((s) => ({
      start: s.from / 1000,
      end: s.to / 1000,
      text: s.text.trim(),
    }));
    const confidences = segments
      .map((s) => s.confidence)
      .filter((c): c is number => typeof c === 'number');
    return {
      text: texts
        .map((s) => s.text)
        .filter(Boolean)
        .join(' '),
      segments: texts,
      language: segments.find((s) => s.lang)?.lang ?? (language === 'auto' ? 'en' : language),
      confidence: confidences.length
        ? confidences.reduce((a, c) => a + c, 0) / confidences.length
        : 0,
    };
  }

  async close(): Promise<void> {
    await this.whisper.free();
  }
}

/**
 * whisper.cpp does not report a missing or malformed model to the caller (it logs and the
 * load callback never fires), so the file is checked here first.
 */
export async function checkModelFile(path: string): Promise<void> {
  const pull =
    '`helix-node models pull base.en` (or tiny.en on small devices), or set stt.model in helix.toml';
  if (!path)
    throw new DependencyMissingError(
      'a Whisper model (stt.model is empty)',
      `get one with ${pull}`,
    );
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DependencyMissingError(
      `Whisper model ${path} (${code === 'ENOENT' ? 'no such file' : code})`,
      `get one with ${pull}`,
      { cause: err },
    );
  }
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await handle.read(head, 0, 4, 0);
    if (bytesRead < 4 || head.readUInt32LE(0) !== GGML_MAGIC) {
      throw new InputError(
        `${path} is not a whisper.cpp ggml model (bad header); download it again with ${pull}`,
      );
    }
  } finally {
    await handle.close();
  }
}
