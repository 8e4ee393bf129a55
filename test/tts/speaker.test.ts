/** Reply speech with the real espeak-ng and aplay (ALSA's null device: no sound card needed). */
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findOnPath } from '../../node/capabilities/index.js';
import { DependencyMissingError } from '../../node/errors.js';
import { createSpeaker, parseStreamedWav } from '../../node/tts/index.js';
import { tempDir } from '../pipeline/support/net.js';

const espeak = await findOnPath('espeak-ng');
const aplay = await findOnPath('aplay');

function rms(pcm: Int16Array): number {
  let sum = 0;
  for (const s of pcm) sum += s * s;
  return Math.sqrt(sum / Math.max(1, pcm.length));
}

describe.skipIf(!espeak)('speaking replies with espeak-ng (needs espeak-ng)', () => {
  const tmp = tempDir('tts');
  afterAll(() => tmp.remove());

  it('synthesizes audible speech whose length grows with the text', async () => {
    const speaker = await createSpeaker({ engine: 'espeak-ng' });
    expect(speaker.engine).toBe('espeak-ng');
    const short = await speaker.synthesize('Done.');
    const long = await speaker.synthesize(
      'The kitchen lights are on, and the timer is set for ten minutes.',
    );
    expect(short.sampleRate).toBe(22050);
    expect(rms(short.pcm)).toBeGreaterThan(100);
    expect(long.pcm.length).toBeGreaterThan(short.pcm.length * 3);
  });

  it('reads the reply from stdin, so a reply that looks like an option is spoken, not obeyed', async () => {
    const speaker = await createSpeaker({ engine: 'espeak-ng' });
    const audio = await speaker.synthesize('--version');
    expect(rms(audio.pcm)).toBeGreaterThan(100);
  });

  it.skipIf(!aplay)('plays the reply through aplay on the given device', async () => {
    const speaker = await createSpeaker({ engine: 'espeak-ng', playbackDevice: 'null' });
    await expect(speaker.speak('Kitchen lights on.')).resolves.toEqual({ engine: 'espeak-ng' });
  });

  it.skipIf(!aplay)('says which playback device is missing and how to pick one', async () => {
    const speaker = await createSpeaker({ engine: 'espeak-ng', playbackDevice: 'hw:97,0' });
    const err = await speaker.speak('Hello.').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyMissingError);
    expect((err as Error).message).toMatch(
      /ALSA playback device "hw:97,0".*aplay -L.*voice\.playback_device/,
    );
  });

  it('picks espeak-ng in auto mode when piper has no voice model', async () => {
    const fakePiper = path.join(tmp.dir, 'piper');
    writeFileSync(fakePiper, '#!/bin/sh\nexit 1\n');
    chmodSync(fakePiper, 0o755);
    const speaker = await createSpeaker({
      engine: 'auto',
      env: { PATH: `${tmp.dir}:${process.env.PATH}` },
    });
    expect(speaker.engine).toBe('espeak-ng');
  });
});

describe('choosing no speech', () => {
  it('prints only when voice.tts is none', async () => {
    const speaker = await createSpeaker({ engine: 'none' });
    expect(speaker.engine).toBeNull();
    await expect(speaker.speak('Hello.')).resolves.toBeNull();
  });

  it('says how to install an engine that is asked for but missing', async () => {
    const err = await createSpeaker({
      engine: 'espeak-ng',
      espeakBin: 'espeak-ng-not-installed',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyMissingError);
    expect((err as Error).message).toContain('apt-get install espeak-ng');
  });

  it('finds no engine in auto mode on a PATH without one', async () => {
    const speaker = await createSpeaker({ engine: 'auto', env: { PATH: '/nonexistent' } });
    expect(speaker.engine).toBeNull();
  });

  it('rejects a stream that is not mono 16-bit WAV', () => {
    const header = Buffer.alloc(44);
    header.write('RIFF', 0, 'ascii');
    header.write('WAVE', 8, 'ascii');
    header.write('fmt ', 12, 'ascii');
    header.writeUInt32LE(16, 16);
    header.writeUInt16LE(1, 20);
    header.writeUInt16LE(2, 22);
    header.writeUInt32LE(22050, 24);
    header.writeUInt16LE(16, 34);
    header.write('data', 36, 'ascii');
    header.writeUInt32LE(0x7ffff000, 40);
    expect(() => parseStreamedWav(header, 'espeak-ng')).toThrow(/2-channel 16-bit/);
  });
});
