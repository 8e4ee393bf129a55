import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { DependencyMissingError } from '../../node/errors.js';
import {
  arecordSource,
  captureArecord,
  listen,
  pcmSource,
  type SpeechDetector,
} from '../../node/voice/index.js';

function hasArecord(): boolean {
  try {
    execFileSync('arecord', ['--version'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

const arecord = hasArecord();

describe('captureArecord', () => {
  it.skipIf(!arecord)(
    `yields 16 kHz frames from a real arecord and stops it on abort${arecord ? '' : ' (skipped: arecord not installed; apt-get install alsa-utils)'}`,
    async () => {
      // ALSA's "null" device delivers silence as fast as it is read: a real arecord without a sound card
      const ac = new AbortController();
      const frames: Int16Array[] = [];
      for await (const frame of captureArecord({
        device: 'null',
        frameSamples: 512,
        signal: ac.signal,
      })) {
        frames.push(frame);
        if (frames.length === 20) ac.abort();
      }
      expect(frames).toHaveLength(20);
      expect(frames.every((f) => f.length === 512)).toBe(true);
    },
  );

  it.skipIf(!arecord)('feeds real arecord audio through the segmenter until aborted', async () => {
    // the null device is digital silence; a detector that counts windows proves frames flowed
    let windows = 0;
    const detector: SpeechDetector = {
      windowSize: 512,
      process: () => (windows++, 0),
      reset: () => {},
    };
    const ac = new AbortController();
    const events: string[] = [];
    const done = (async () => {
      for await (const e of listen({
        source: arecordSource({ device: 'null' }),
        detector,
        signal: ac.signal,
      }))
        events.push(e.type);
    })();
    while (windows < 50) await new Promise((r) => setTimeout(r, 5));
    ac.abort();
    await expect(done).rejects.toThrow();
    expect(events).toEqual([]);
  });

  it('says how to install arecord when it is missing', async () => {
    const gen = captureArecord({ device: 'default', arecord: '/nonexistent/arecord' });
    const err = await gen.next().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyMissingError);
    expect((err as Error).message).toMatch(/apt-get install alsa-utils/);
  });

  it.skipIf(!arecord)('says how to pick a device when the ALSA device does not exist', async () => {
    const gen = captureArecord({ device: 'helix-no-such-device' });
    const err = await gen.next().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyMissingError);
    expect((err as Error).message).toMatch(/"helix-no-such-device".*arecord -L.*voice\.device/);
  });
});

describe('pcmSource', () => {
  it('cuts PCM into frames, the last one short', async () => {
    const pcm = new Int16Array(1300).map((_, i) => i);
    const frames: Int16Array[] = [];
    for await (const f of pcmSource(pcm, { frameSamples: 512 }).frames()) frames.push(f);
    expect(frames.map((f) => f.length)).toEqual([512, 512, 276]);
    expect(frames[2]![0]).toBe(1024);
  });

  it('stops when aborted', async () => {
    const ac = new AbortController();
    const frames = pcmSource(new Int16Array(16000), { realtime: true }).frames({
      signal: ac.signal,
    });
    const it = frames[Symbol.asyncIterator]();
    await it.next();
    ac.abort();
    await expect(it.next()).rejects.toThrow();
  });
});
