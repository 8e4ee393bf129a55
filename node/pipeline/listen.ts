/**
 * The mic side: audio frames (arecord, or a file paced like a mic) -> VAD -> utterances -> the
 * pipeline. VoiceLoop runs while `helix-node join` runs with voice.enabled; `listen --once`
 * either takes the next command the running loop hears, or captures one utterance itself.
 * Utterances that end while a command is still being handled are dropped (logged): the person
 * hears the reply first, as with a voice assistant. `listen --once --file X.wav` feeds a WAV file
 * through the same VAD, paced like a mic, on nodes with or without one (listenToFile).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import {
  encodeWav16,
  pcmSource,
  segmentStream,
  UtteranceSegmenter,
  type AudioSource,
  type SegmenterOptions,
  type Pcm16,
  type SpeechDetector,
  type SpeechLevel,
} from '../voice/index.js';
import { describeHeard, type HeardUtterance } from './arbitration.js';
import { YieldedError, type ArbitrationResult, type OwnHearing } from './heard.js';
import type { Pipeline, PipelineEvent, PipelineResult } from './pipeline.js';

export interface CapturedUtterance {
  /** 16 kHz mono, with pre-roll, as captured */
  pcm: Pcm16;
  /** wall clock (epoch ms) when the VAD saw speech start, and when it decided speech had ended */
  speechStartAt: number;
  speechEndAt: number;
  truncated: boolean;
  /**
   * the speech itself, wall clock (epoch ms): its padded edges, placed back in time from the
   * moment the end was decided (what other mics' hearings of it are compared with)
   */
  speech: { startAt: number; endAt: number };
  /** level and SNR from the segmenter */
  level: SpeechLevel;
}

export interface CaptureOptions {
  source: AudioSource;
  /** a fresh detector per stream (a SileroVad over the loaded model) */
  detector: () => SpeechDetector;
  segmenter?: SegmenterOptions;
  logger?: Logger;
}

/** Captures until one utterance ends; null when the source ends first or `timeoutMs` passes without one. */
export async function captureUtterance(
  opts: CaptureOptions & { signal?: AbortSignal; timeoutMs?: number },
): Promise<CapturedUtterance | null> {
  const stop = new AbortController();
  const timer = opts.timeoutMs
    ? setTimeout(() => stop.abort(new Error('no speech')), opts.timeoutMs)
    : undefined;
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
  try {
    for await (const u of utterances(opts, signal)) return u;
    return null;
  } catch (err) {
    if (stop.signal.aborted && !opts.signal?.aborted) return null;
    throw err;
  } finally {
    clearTimeout(timer);
    stop.abort();
  }
}

/** Utterances from a source, as they end. Ends with the source or the signal. */
export async function* utterances(
  opts: CaptureOptions,
  signal: AbortSignal,
): AsyncGenerator<CapturedUtterance> {
  const segmenter = new UtteranceSegmenter(opts.detector(), opts.segmenter);
  let speechStartAt = 0;
  try {
    for await (const e of segmentStream(opts.source.frames({ signal }), segmenter, { signal })) {
      if (e.type === 'speech-start') speechStartAt = Date.now();
      else if (e.type === 'speech-discarded')
        opts.logger?.debug({ ms: e.durationMs }, 'too short for speech; ignored');
      else {
        const now = Date.now();
        const u = e.utterance;
        yield {
          pcm: e.utterance.pcm,
          speechStartAt:
            speechStartAt || now - (e.utterance.speechEnd - e.utterance.speechStart) * 1000,
          speechEndAt: now,
          truncated: e.utterance.truncated,
          speech: {
            startAt: now - (u.detectedAt - u.speechStart) * 1000,
            endAt: now - (u.detectedAt - u.speechEnd) * 1000,
          },
          level: u.level,
        };
        speechStartAt = 0;
      }
    }
  } catch (err) {
    if (signal.aborted) return;
    throw err;
  }
}

/**
 * One command from audio already in memory (a WAV file), as if spoken into the mic: the frames are
 * paced in real time through the VAD, so the trace's vad hop and its end of speech mean what they
 * mean for the mic. Null when the VAD finds no speech in it.
 */
export async function listenToFile(
  pcm: Pcm16,
  opts: Omit<CaptureOptions, 'source'> & {
    pipeline: Pipeline;
    signal?: AbortSignal;
    timeoutMs?: number;
    onEvent?: (e: PipelineEvent) => void;
  },
): Promise<PipelineResult | null> {
  const u = await captureUtterance({
    ...opts,
    source: pcmSource(pcm, { realtime: true }),
  });
  if (!u) return null;
  return opts.pipeline.handleUtterance(u.pcm, {
    source: 'file',
    capture: {
      speechStartAt: u.speechStartAt,
      speechEndAt: u.speechEndAt,
      detail: `utterance of ${Math.round(u.pcm.length / 16)} ms from a file, paced like a mic${u.truncated ? ', cut at the longest utterance' : ''}`,
    },
    signal: opts.signal,
    onEvent: opts.onEvent,
  });
}

export interface VoiceLoopOptions extends CaptureOptions {
  pipeline: Pipeline;
  /** every finished command (the daemon prints the reply) */
  onResult?: (result: PipelineResult) => void;
  /** a capture failure (mic unplugged, arecord missing); the loop retries after `retryMs` */
  onError?: (err: unknown) => void;
  retryMs?: number;
  /** voice.debug_capture_dir: keep each utterance as <dir>/<time>-mic.wav (never otherwise) */
  debugCaptureDir?: string;
  /**
   * many mics, one action: announce each utterance and act only when this mic heard it best
   * (Arbiter over the bus); absent: every utterance is acted on
   */
  arbiter?: {
    arbitrate(own: OwnHearing, signal?: AbortSignal): Promise<ArbitrationResult>;
    watchForBetter?(own: HeardUtterance, onBetter: (better: HeardUtterance) => void): () => void;
  };
}

type Waiter = { resolve: (r: PipelineResult) => void; onEvent?: (e: PipelineEvent) => void };

/** Listens on the mic while the node runs; every utterance becomes a command. */
export class VoiceLoop {
  private abort: AbortController | null = null;
  private running: Promise<void> | null = null;
  private busy = false;
  private readonly waiters = new Set<Waiter>();
  private readonly log: Logger;

  constructor(private readonly opts: VoiceLoopOptions) {
    this.log = (opts.logger ?? silentLogger).child({ component: 'voice' });
  }

  get listening(): boolean {
    return this.running !== null;
  }

  start(): void {
    if (this.running) return;
    const abort = new AbortController();
    this.abort = abort;
    this.running = this.loop(abort.signal).finally(() => {
      this.running = null;
    });
    this.log.info('listening on the mic');
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    await this.running;
    this.abort = null;
  }

  /**
   * `listen --once`: the next command this loop handles, with its events; or, when the loop is
   * not running, capture one utterance now and handle it. Null when nothing was heard in time.
   */
  async once(
    opts: { signal?: AbortSignal; timeoutMs?: number; onEvent?: (e: PipelineEvent) => void } = {},
  ): Promise<PipelineResult | null> {
    if (this.running) {
      return new Promise<PipelineResult | null>((resolve) => {
        const waiter: Waiter = {
          resolve: (r) => {
            cleanup();
            resolve(r);
          },
          onEvent: opts.onEvent,
        };
        const timer = opts.timeoutMs ? setTimeout(() => done(), opts.timeoutMs) : undefined;
        const done = () => {
          cleanup();
          resolve(null);
        };
        const cleanup = () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          opts.signal?.removeEventListener('abort', done);
        };
        opts.signal?.addEventListener('abort', done, { once: true });
        this.waiters.add(waiter);
      });
    }
    const u = await captureUtterance({
      ...this.opts,
      signal: opts.signal,
      timeoutMs: opts.timeoutMs,
    });
    if (!u) return null;
    return this.opts.pipeline.handleUtterance(u.pcm, {
      source: 'mic',
      capture: { speechStartAt: u.speechStartAt, speechEndAt: u.speechEndAt },
      signal: opts.signal,
      onEvent: opts.onEvent,
    });
  }

  private async loop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        for await (const u of utterances(this.opts, signal)) {
          if (this.busy) {
            this.log.info('an utterance ended while the last command was still running; ignored');
            continue;
          }
          this.busy = true;
          void this.handle(u, signal).finally(() => {
            this.busy = false;
          });
        }
        if (signal.aborted) return;
        this.log.warn('the audio source ended; restarting capture');
      } catch (err) {
        if (signal.aborted) return;
        this.log.warn({ err: describeError(err) }, 'capture failed; retrying');
        this.opts.onError?.(err);
      }
      await sleep(this.opts.retryMs ?? 5000, signal);
    }
  }

  private async handle(u: CapturedUtterance, signal: AbortSignal): Promise<void> {
    const waiters = [...this.waiters];
    try {
      let arbitration: ArbitrationResult | undefined;
      if (this.opts.arbiter) {
        arbitration = await this.opts.arbiter.arbitrate(
          {
            startAt: u.speech.startAt,
            endAt: u.speech.endAt,
            levelDbfs: u.level.levelDbfs,
            snrDb: u.level.snrDb,
          },
          signal,
        );
        if (!arbitration.won) {
          this.log.debug(
            {
              winner: arbitration.winner.name,
              heard: arbitration.heard.map(describeHeard),
              waitedMs: arbitration.waitedMs,
            },
            'another mic heard this utterance better; it acts, this node yields',
          );
          return;
        }
      }
      // A better hearing announced after the window (its node was busy) still wins while this
      // command has not run yet: this node then gives it up, and only the better one acts.
      const yielded = new AbortController();
      let running = false;
      const stopWatching =
        arbitration?.won && this.opts.arbiter?.watchForBetter
          ? this.opts.arbiter.watchForBetter(arbitration.winner, (better) => {
              if (running) return;
              this.log.info(
                { better: describeHeard(better) },
                `${better.name} heard it better (announced late); yielding`,
              );
              yielded.abort(new YieldedError(better));
            })
          : () => undefined;
      if (this.opts.debugCaptureDir) await this.capture(this.opts.debugCaptureDir, u.pcm);
      const result = await this.opts.pipeline
        .handleUtterance(u.pcm, {
          source: 'mic',
          capture: {
            speechStartAt: u.speechStartAt,
            speechEndAt: u.speechEndAt,
            ...(u.truncated ? { detail: 'cut at the longest utterance' } : {}),
            ...(arbitration ? { arbitration } : {}),
          },
          signal: AbortSignal.any([signal, yielded.signal]),
          onEvent: (e) => {
            // the intent is about to run: from here on this node has acted
            if (e.type === 'intent') {
              running = true;
              stopWatching();
            }
            waiters.forEach((w) => w.onEvent?.(e));
          },
        })
        .finally(stopWatching);
      if (yielded.signal.aborted && !running) return;
      this.opts.onResult?.(result);
      waiters.forEach((w) => w.resolve(result));
    } catch (err) {
      this.log.error({ err: describeError(err) }, 'command failed unexpectedly');
    }
  }

  private async capture(dir: string, pcm: Pcm16): Promise<void> {
    try {
      await mkdir(dir, { recursive: true });
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-mic.wav`;
      await writeFile(path.join(dir, name), encodeWav16(pcm, 16_000));
    } catch (err) {
      this.log.warn({ dir, err: describeError(err) }, 'could not write the debug capture');
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
