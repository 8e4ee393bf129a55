#!/usr/bin/env node
/**
 * A stand-in for ALSA's `arecord` where no sound card can run (the tests' network namespaces):
 * it speaks arecord's wire format, the way the daemon uses it.
 *   arecord -l                         one capture card, as real arecord lists it
 *   arecord -q -D DEV -f S16_LE -r 16000 -c 1 -t raw
 *                                      16 kHz mono S16_LE on stdout, in real time (512 samples
 *                                      every 32 ms, on the wall clock), quiet room noise, until
 *                                      killed
 * What the mic hears comes from $HXT_MIC_DIR: a file `<epoch ms>.raw` (S16_LE mono 16 kHz) is
 * mixed in from that wall-clock instant on, to the sample, and then removed; every fake mic of a
 * test reads the same clock, so offsets between mics are exact. $HXT_MIC_NOISE is the noise
 * amplitude (fraction of full scale, default 0.003), $HXT_MIC_SEED its seed.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout } from 'node:timers';

const args = process.argv.slice(2);
if (args.includes('-l') || args.includes('--list-devices')) {
  process.stdout.write(
    [
      '**** List of CAPTURE Hardware Devices ****',
      'card 0: HelixTest [Helix test mic], device 0: Fake capture [Fake capture]',
      '  Subdevices: 1/1',
      '  Subdevice #0: subdevice #0',
      '',
    ].join('\n'),
  );
  process.exit(0);
}
const want = ['-f', 'S16_LE', '-r', '16000', '-c', '1', '-t', 'raw'];
for (let i = 0; i < want.length; i += 2) {
  const at = args.indexOf(want[i]);
  if (at < 0 || args[at + 1] !== want[i + 1]) {
    process.stderr.write(
      `fake arecord: expected ${want[i]} ${want[i + 1]} in: ${args.join(' ')}\n`,
    );
    process.exit(2);
  }
}

const RATE = 16;
const FRAME = 512;
const dir = process.env.HXT_MIC_DIR ?? '';
const noiseAmp = Number(process.env.HXT_MIC_NOISE ?? '0.003') * 32767;
let seed = Number(process.env.HXT_MIC_SEED ?? '1') >>> 0 || 1;
const t0 = Date.now();
/** clips being mixed: their samples and the sample index (from t0) they start at */
let clips = [];

function scan() {
  if (!dir) return;
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^(\d+)\.raw$/.exec(name);
    if (!m) continue;
    const file = path.join(dir, name);
    try {
      const bytes = readFileSync(file);
      rmSync(file, { force: true });
      const pcm = new Int16Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 2));
      clips.push({ pcm: Int16Array.from(pcm), start: Math.round((Number(m[1]) - t0) * RATE) });
    } catch {
      // a clip being written; the next tick takes it
    }
  }
}

function frame(k) {
  const out = Buffer.alloc(FRAME * 2);
  const first = k * FRAME;
  for (let n = 0; n < FRAME; n++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    let x = ((seed / 0xffffffff) * 2 - 1) * noiseAmp;
    for (const c of clips) {
      const i = first + n - c.start;
      if (i >= 0 && i < c.pcm.length) x += c.pcm[i];
    }
    out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(x))), n * 2);
  }
  clips = clips.filter((c) => c.start + c.pcm.length > first + FRAME);
  return out;
}

let k = 0;
function tick() {
  scan();
  // a frame is delivered once its 32 ms have passed, as a sound card does
  while (Date.now() >= t0 + ((k + 1) * FRAME) / RATE) {
    if (!process.stdout.write(frame(k))) {
      // the reader is behind: keep the clock, wait for it
    }
    k++;
  }
  const next = t0 + ((k + 1) * FRAME) / RATE - Date.now();
  setTimeout(tick, Math.max(1, next));
}
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
process.stdout.on('error', () => process.exit(0));
tick();
