/**
 * Microphone capture through ALSA's `arecord` as a child process: 16 kHz mono S16_LE frames as
 * an async iterable that ends when the signal aborts. Also a frame source over PCM already in
 * memory (a WAV file), so the same pipeline runs from a file.
 */
import { spawn } from 'node:child_process';
import { DependencyMissingError, HelixError } from '../errors.js';
import { PCM16_RATE, pcm16FromBytes, type Pcm16 } from './audio.js';

export const CAPTURE_RATE = PCM16_RATE;

/** Where utterance audio comes from: the mic or a file. */
export interface AudioSource {
  /** 16 kHz mono Pcm16 frames until the source ends or the signal aborts */
  frames(options?: { signal?: AbortSignal }): AsyncIterable<Pcm16>;
}

export interface ArecordOptions {
  /** ALSA device for -D (voice.device), e.g. "default" or "plughw:1,0" */
  device: string;
  /** arecord binary; default "arecord" on PATH */
  arecord?: string;
  /** samples per frame; default 512 (32 ms, one VAD window) */
  frameSamples?: number;
}

/** The microphone through arecord. */
export function arecordSource(options: ArecordOptions): AudioSource {
  return { frames: ({ signal } = {}) => captureArecord({ ...options, signal }) };
}

/** Runs `arecord -D <device> -f S16_LE -r 16000 -c 1 -t raw` and yields its PCM in frames. */
export async function* captureArecord(
  options: ArecordOptions & { signal?: AbortSignal },
): AsyncGenerator<Pcm16> {
  const { device, arecord = 'arecord', frameSamples = 512, signal } = options;
  signal?.throwIfAborted();
  const args = [
    '-q',
    '-D',
    device,
    '-f',
    'S16_LE',
    '-r',
    String(CAPTURE_RATE),
    '-c',
    '1',
    '-t',
    'raw',
  ];
  const child = spawn(arecord, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    if (stderr.length < 4096) stderr += d;
  });
  const exited = new Promise<{ code: number | null; error?: NodeJS.ErrnoException }>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => resolve({ code: null, error }));
    child.once('close', (code) => resolve({ code }));
  });
  const stop = () => child.kill('SIGTERM');
  signal?.addEventListener('abort', stop, { once: true });

  const frameBytes = frameSamples * 2;
  let pending: Buffer = Buffer.alloc(0);
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      let at = 0;
      while (pending.length - at >= frameBytes) {
        // copied: a frame must not alias a pooled Buffer, and needs 2-byte alignment
        const frame = pcm16FromBytes(pending.subarray(at, at + frameBytes));
        at += frameBytes;
        yield frame;
        if (signal?.aborted) return;
      }
      pending = pending.subarray(at);
    }
    const { code, error } = await exited;
    if (signal?.aborted) return;
    if (error?.code === 'ENOENT') {
      throw new DependencyMissingError(
        `${arecord} (ALSA capture)`,
        'install it with `apt-get install alsa-utils`',
        {
          cause: error,
        },
      );
    }
    if (error) throw new HelixError(`cannot start ${arecord}: ${error.message}`, { cause: error });
    if (code !== 0) {
      const detail = stderr.trim().split('\n').slice(-2).join('; ');
      if (/Unknown PCM|No such (file|device)|audio open error/i.test(stderr)) {
        throw new DependencyMissingError(
          `ALSA capture device "${device}" (${detail})`,
          'list devices with `arecord -L` and set voice.device in helix.toml',
        );
      }
      throw new HelixError(`${arecord} exited with status ${code}: ${detail || 'no message'}`);
    }
  } finally {
    signal?.removeEventListener('abort', stop);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 1000);
      await exited;
      clearTimeout(killer);
    }
  }
}

/** PCM already in memory (a decoded WAV) as a frame source; `realtime` paces frames like a mic. */
export function pcmSource(
  samples: Pcm16,
  options: { frameSamples?: number; realtime?: boolean } = {},
): AudioSource {
  const frameSamples = options.frameSamples ?? 512;
  return {
    async *frames({ signal } = {}) {
      const started = Date.now();
      for (let at = 0; at < samples.length; at += frameSamples) {
        signal?.throwIfAborted();
        if (options.realtime) {
          const due = started + (at * 1000) / CAPTURE_RATE - Date.now();
          if (due > 0) await sleep(due, signal);
        }
        yield samples.slice(at, at + frameSamples);
      }
    },
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
