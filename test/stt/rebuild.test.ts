/**
 * The phrase recogniser swaps its grammar when the rooms change (issue 9), without reloading
 * the dictionary or restarting; two-word rooms stay words.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PhraseRecogniser } from '../../node/stt/index.js';
import { loadTestManifests } from './manifests.js';

const DICT = '/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict';
const skip = !existsSync(DICT);

describe.skipIf(skip)('PhraseRecogniser.setSlotValues', () => {
  it('rebuilds the grammar with the new rooms in well under a second', async () => {
    const recogniser = await PhraseRecogniser.create({
      manifests: loadTestManifests(),
      slotValues: { 'lights.rooms': ['kitchen'] },
    });
    const before = recogniser.grammar;
    expect(before.interpret('turn on the kitchen lights')?.args).toEqual({ room: 'kitchen' });
    expect(before.interpret('turn on the living room lights')).toBeNull();

    const started = performance.now();
    recogniser.setSlotValues({ 'lights.rooms': ['living room', 'garage'] });
    const ms = performance.now() - started;
    console.log(`phrase grammar rebuild: ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(1000);

    const after = recogniser.grammar;
    expect(after).not.toBe(before);
    expect(after.interpret('turn on the living room lights')?.args).toEqual({
      room: 'living room',
    });
    expect(after.interpret('turn on the garage lights')?.args).toEqual({ room: 'garage' });
    expect(after.interpret('turn on the kitchen lights')).toBeNull();
    expect(after.jsgf).toContain('living room');
    expect(after.jsgf).not.toContain('living_room');
    expect(recogniser.model).toContain(`${after.phraseCount} phrases`);
    await recogniser.close();
  });
});
