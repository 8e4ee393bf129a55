/** ImageEngine over a Docker engine (dockerode): inspect, `docker save`, `docker load`. */
import type Docker from 'dockerode';
import { ImageTransferError } from './errors.js';
import type { ImageEngine } from './types.js';

export function dockerImageEngine(docker: Docker): ImageEngine {
  return {
    async has(tag, signal) {
      signal?.throwIfAborted();
      try {
        await docker.getImage(tag).inspect();
        return true;
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) return false;
        throw err;
      }
    },

    async save(tag, signal) {
      signal?.throwIfAborted();
      const stream = (await docker.getImage(tag).get()) as NodeJS.ReadableStream & {
        destroy?: (e?: Error) => void;
      };
      const onAbort = () => stream.destroy?.(new Error('docker save cancelled'));
      if (signal) {
        signal.addEventListener('abort', onAbort, { once: true });
        stream.once('close', () => signal.removeEventListener('abort', onAbort));
      }
      return stream;
    },

    async load(tar, signal) {
      const output = await docker.loadImage(tar, { quiet: true, abortSignal: signal });
      await new Promise<void>((resolve, reject) => {
        docker.modem.followProgress(output, (err: Error | null, lines: LoadLine[]) => {
          const failed = lines?.find((l) => l.error || l.errorDetail);
          if (err || failed) {
            const why =
              failed?.errorDetail?.message ?? failed?.error ?? err?.message ?? 'unknown error';
            reject(
              new ImageTransferError(`docker load refused the image: ${why}`, {
                cause: err ?? undefined,
              }),
            );
          } else resolve();
        });
      });
    },
  };
}

interface LoadLine {
  stream?: string;
  error?: string;
  errorDetail?: { message?: string };
}
