/**
 * Whether this node can transcribe, without loading a model: for the capability advert (a node
 * whose engine or model is missing advertises no STT) and for `helix-node doctor`.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { describeError } from '../errors.js';
import { DEBIAN_MODEL_DIR } from './pocketsphinx.js';
import { checkModelFile } from './whisper.js';

export interface SttProbe {
  engine: Config['stt']['engine'];
  available: boolean;
  /** model file or model description */
  model: string;
  /** what is missing and how to get it, when not available */
  problem?: string;
}

export async function probeStt(
  stt: Config['stt'],
  opts: { pocketsphinxBin?: string; signal?: AbortSignal } = {},
): Promise<SttProbe> {
  if (stt.engine === 'none')
    return { engine: 'none', available: false, model: '', problem: 'stt.engine is "none"' };
  if (stt.engine === 'whisper') {
    try {
      await checkModelFile(stt.model);
      await import('smart-whisper');
      return { engine: 'whisper', available: true, model: stt.model };
    } catch (err) {
      const problem = /smart-whisper|Cannot find|\.node/.test(describeError(err))
        ? 'the smart-whisper native addon is not built; run `npm ci` then `scripts/build-native.sh`'
        : describeError(err);
      return { engine: 'whisper', available: false, model: stt.model, problem };
    }
  }
  const model = join(DEBIAN_MODEL_DIR, 'en-us');
  const bin = opts.pocketsphinxBin ?? 'pocketsphinx_batch';
  const found = await new Promise<boolean>((resolve) => {
    execFile(bin, [], { timeout: 5000, signal: opts.signal }, (err) => {
      resolve(!err || (err as NodeJS.ErrnoException).code !== 'ENOENT');
    });
  });
  const fix = 'install it with `apt-get install pocketsphinx pocketsphinx-en-us`';
  if (!found)
    return { engine: 'phrase', available: false, model, problem: `${bin} not found; ${fix}` };
  if (!existsSync(model))
    return {
      engine: 'phrase',
      available: false,
      model,
      problem: `pocketsphinx en-us model missing; ${fix}`,
    };
  return { engine: 'phrase', available: true, model: `pocketsphinx ${model}` };
}
