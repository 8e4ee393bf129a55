/**
 * Reply speech on the mic node: text -> PCM with espeak-ng (or piper when installed with a voice
 * model), played with ALSA's aplay. Each is a child process with a timeout; text goes in on stdin,
 * never on the command line, so no reply can be read as an option. Replies are always printed by
 * the caller too; speaking is the extra.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { DependencyMissingError, HelixError } from '../errors.js';
import { findOnPath } from '../capabilities/index.js';

export type TtsEngineName = 'espeak-ng' | 'piper';

export interface SpeechAudio {
  /** mono 16-bit */
  pcm: Int16Array;
  sampleRate: number;
}

export interface SpeakerOptions {
  /** voice.tts */
  engine: 'auto' | TtsEngineName | 'none';
  /** voice.tts_voice (espeak-ng -v) */
  voice?: string;
  /** voice.piper_model */
  piperModel?: string;
  /** voice.playback_device (aplay -D) */
  playbackDevice?: string;
  espeakBin?: string;
  piperBin?: string;
  aplayBin?: string;
  /** per child process (default 20 s) */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface Speaker {
  /** the engine in use, or null when this node has none (replies are printed only) */
  readonly engine: TtsEngineName | null;
  synthesize(text: string, opts?: { signal?: AbortSignal }): Promise<SpeechAudio>;
  /** synthesize and play; resolves with the engine, or null when there is none */
  speak(text: string, opts?: { signal?: AbortSignal }): Promise<{ engine: string } | null>;
}

/** Picks the engine (auto: piper with a model, else espeak-ng, else none) and returns a Speaker. */
export async function createSpeaker(opts: SpeakerOptions): Promise<Speaker> {
  const engine = await resolveEngine(opts);
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const synthesize = async (
    text: string,
    o: { signal?: AbortSignal } = {},
  ): Promise<SpeechAudio> => {
    if (engine === null)
      throw new DependencyMissingError(
        'a text-to-speech engine',
        'install one with `apt-get install espeak-ng`',
      );
    const clean = text.replace(/\s+/g, ' ').trim().slice(0, 2000);
    if (engine === 'piper') return synthesizePiper(clean, opts, timeoutMs, o.signal);
    return synthesizeEspeak(clean, opts, timeoutMs, o.signal);
  };
  return {
    engine,
    synthesize,
    async speak(text, o = {}) {
      if (engine === null || text.trim() === '') return null;
      const audio = await synthesize(text, o);
      await play(audio, opts, timeoutMs, o.signal);
      return { engine };
    },
  };
}

async function resolveEngine(opts: SpeakerOptions): Promise<TtsEngineName | null> {
  const espeak = opts.espeakBin ?? 'espeak-ng';
  const piper = opts.piperBin ?? 'piper';
  switch (opts.engine) {
    case 'none':
      return null;
    case 'espeak-ng':
      if (!(await findOnPath(espeak, opts.env))) {
        throw new DependencyMissingError(
          `${espeak} (voice.tts = "espeak-ng")`,
          'install it with `apt-get install espeak-ng`, or set voice.tts = "auto"',
        );
      }
      return 'espeak-ng';
    case 'piper':
      if (!(await findOnPath(piper, opts.env))) {
        throw new DependencyMissingError(
          `${piper} (voice.tts = "piper")`,
          'install piper (https://github.com/rhasspy/piper) or set voice.tts = "espeak-ng"',
        );
      }
      if (!opts.piperModel) {
        throw new DependencyMissingError(
          'a piper voice model',
          'set voice.piper_model to a .onnx voice (with its .onnx.json beside it)',
        );
      }
      return 'piper';
    default:
      if (opts.piperModel && (await findOnPath(piper, opts.env))) return 'piper';
      if (await findOnPath(espeak, opts.env)) return 'espeak-ng';
      return null;
  }
}

async function synthesizeEspeak(
  text: string,
  opts: SpeakerOptions,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<SpeechAudio> {
  const bin = opts.espeakBin ?? 'espeak-ng';
  const args = ['--stdout', ...(opts.voice ? ['-v', opts.voice] : [])];
  const out = await runChild(
    bin,
    args,
    Buffer.from(text + '\n'),
    timeoutMs,
    signal,
    'install it with `apt-get install espeak-ng`',
  );
  return parseStreamedWav(out, bin);
}

async function synthesizePiper(
  text: string,
  opts: SpeakerOptions,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<SpeechAudio> {
  const bin = opts.piperBin ?? 'piper';
  const model = opts.piperModel!;
  let sampleRate = 22_050;
  try {
    const config = JSON.parse(await readFile(`${model}.json`, 'utf8')) as {
      audio?: { sample_rate?: number };
    };
    sampleRate = config.audio?.sample_rate ?? sampleRate;
  } catch {
    throw new DependencyMissingError(
      `the piper voice config ${model}.json`,
      'download it beside the .onnx model (each piper voice is two files)',
    );
  }
  const raw = await runChild(
    bin,
    ['--model', model, '--output_raw'],
    Buffer.from(text + '\n'),
    timeoutMs,
    signal,
    'install piper (https://github.com/rhasspy/piper)',
  );
  return { pcm: bytesToInt16(raw), sampleRate };
}

/** Plays mono 16-bit PCM through aplay. */
export async function play(
  audio: SpeechAudio,
  opts: Pick<SpeakerOptions, 'aplayBin' | 'playbackDevice'>,
  timeoutMs = 20_000,
  signal?: AbortSignal,
): Promise<void> {
  const bin = opts.aplayBin ?? 'aplay';
  const device = opts.playbackDevice ?? 'default';
  const args = [
    '-q',
    '-D',
    device,
    '-t',
    'raw',
    '-f',
    'S16_LE',
    '-c',
    '1',
    '-r',
    String(audio.sampleRate),
    '-',
  ];
  const bytes = Buffer.from(audio.pcm.buffer, audio.pcm.byteOffset, audio.pcm.byteLength);
  // long replies take as long to play as they last; allow that on top of the process timeout
  const playMs = (audio.pcm.length / audio.sampleRate) * 1000;
  try {
    await runChild(
      bin,
      args,
      bytes,
      Math.ceil(timeoutMs + playMs),
      signal,
      'install it with `apt-get install alsa-utils`',
    );
  } catch (err) {
    if (
      err instanceof ChildFailed &&
      /audio open error|Unknown PCM|No such (file|device)/i.test(err.stderr)
    ) {
      throw new DependencyMissingError(
        `ALSA playback device "${device}" (${err.stderr.trim().split('\n').at(-1)})`,
        'list devices with `aplay -L` and set voice.playback_device in helix.toml, or set voice.tts = "none"',
        { cause: err },
      );
    }
    throw err;
  }
}

class ChildFailed extends HelixError {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
  }
}

function runChild(
  bin: string,
  args: string[],
  stdin: Buffer,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  installHint: string,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs, signal });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    child.stdin.on('error', () => undefined); // the child may exit before reading everything
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT')
        reject(new DependencyMissingError(bin, installHint, { cause: err }));
      else if (err.name === 'AbortError') reject(signal?.reason ?? err);
      else reject(new HelixError(`${bin} could not run: ${err.message}`, { cause: err }));
    });
    child.once('close', (code, sig) => {
      if (code === 0) return resolve(Buffer.concat(out));
      if (signal?.aborted) return reject(signal.reason);
      const why = sig
        ? `was stopped by ${sig}${sig === 'SIGTERM' ? ` (timeout ${timeoutMs} ms)` : ''}`
        : `exited with status ${code}`;
      reject(
        new ChildFailed(
          `${bin} ${why}: ${stderr.trim().split('\n').slice(-2).join('; ') || 'no message'}`,
          stderr,
        ),
      );
    });
    child.stdin.end(stdin);
  });
}

/**
 * espeak-ng --stdout writes a WAV whose sizes say "unknown" (0x7ffff000): read the format from
 * the fmt chunk and take everything after the data chunk header.
 */
export function parseStreamedWav(bytes: Buffer, source: string): SpeechAudio {
  if (
    bytes.length < 12 ||
    bytes.toString('ascii', 0, 4) !== 'RIFF' ||
    bytes.toString('ascii', 8, 12) !== 'WAVE'
  ) {
    throw new HelixError(`${source} did not write a WAV stream`);
  }
  let at = 12;
  let sampleRate = 0;
  let channels = 1;
  let bits = 16;
  while (at + 8 <= bytes.length) {
    const id = bytes.toString('ascii', at, at + 4);
    const size = bytes.readUInt32LE(at + 4);
    if (id === 'fmt ') {
      channels = bytes.readUInt16LE(at + 10);
      sampleRate = bytes.readUInt32LE(at + 12);
      bits = bytes.readUInt16LE(at + 22);
    } else if (id === 'data') {
      if (sampleRate === 0 || bits !== 16 || channels !== 1) {
        throw new HelixError(
          `${source} wrote ${channels}-channel ${bits}-bit audio; expected mono 16-bit`,
        );
      }
      return { pcm: bytesToInt16(bytes.subarray(at + 8)), sampleRate };
    }
    at += 8 + size + (size & 1);
  }
  throw new HelixError(`${source} wrote a WAV stream without audio`);
}

function bytesToInt16(bytes: Uint8Array): Int16Array {
  const out = new Int16Array(bytes.length >> 1);
  Buffer.from(out.buffer).set(bytes.subarray(0, out.length * 2));
  return out;
}
