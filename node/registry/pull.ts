/**
 * The engine pulls an agent image through this node's mirror, by digest: resolve the agent
 * version to its image index (here or on a holder), `docker pull 127.0.0.1:<port>/helix/<agent>@
 * sha256:<index>` (the engine picks its platform's manifest and checks every digest), tag the
 * result with the node's image tag and drop the by-digest reference, so the agents registry's
 * least-recently-used removal of the tag removes the image.
 */
import type Docker from 'dockerode';
import { describeError } from '../errors.js';
import type { RegistryMirror } from './mirror.js';
import { platformName, REPOSITORY_PREFIX, type Platform } from './oci.js';

/** What pulling through the mirror needs of the engine. */
export interface EnginePull {
  /**
   * Pulls `reference` (a registry reference by digest) for `platform` (default: the engine's
   * own; an engine that runs another under emulation is given it); rejects with the engine's
   * message.
   */
  pull(reference: string, signal?: AbortSignal, platform?: Platform): Promise<void>;
  /** Adds `target` ("repo:tag") to the image `source` names. */
  tag(source: string, target: string): Promise<void>;
  /** Removes the reference (not the image, which the tag keeps). */
  untag(reference: string): Promise<void>;
}

export interface PulledImage {
  /** the by-digest reference the engine pulled */
  reference: string;
  /** the image index's digest */
  digest: string;
}

export interface PullThroughMirrorOptions {
  mirror: RegistryMirror;
  /** the mirror's "127.0.0.1:<port>" */
  address: string;
  engine: EnginePull;
  agent: string;
  hash: string;
  /** the node's tag for the image, e.g. "helix-agent-echo:3fa9c2d41b7e0a55" */
  tag: string;
  /** the engine's platform: prefer a holder that built for it */
  platform?: Platform;
  signal?: AbortSignal;
}

export async function pullThroughMirror(opts: PullThroughMirrorOptions): Promise<PulledImage> {
  const index = await opts.mirror.manifest(opts.agent, opts.hash, {
    signal: opts.signal,
    want: opts.platform,
  });
  const reference = `${opts.address}/${REPOSITORY_PREFIX}${opts.agent}@${index.digest}`;
  await opts.engine.pull(reference, opts.signal, opts.platform);
  await opts.engine.tag(reference, opts.tag);
  await opts.engine.untag(reference);
  return { reference, digest: index.digest };
}

interface ProgressLine {
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/** EnginePull over the Docker engine API. */
export function dockerEnginePull(client: Docker | (() => Docker)): EnginePull {
  // a function: the client is made (dockerode loaded) by the first use, not before
  const engine = (): Docker => (typeof client === 'function' ? client() : client);
  return {
    pull: async (reference, signal, platform) => {
      const docker = engine();
      let output: NodeJS.ReadableStream;
      try {
        output = (await docker.pull(reference, {
          abortSignal: signal,
          ...(platform && { platform: platformName(platform) }),
        })) as NodeJS.ReadableStream;
      } catch (err) {
        throw new Error(`docker pull ${reference} failed: ${describeError(err)}`, { cause: err });
      }
      await new Promise<void>((resolve, reject) => {
        docker.modem.followProgress(output, (err: Error | null, lines: ProgressLine[]) => {
          const failed = lines?.find((l) => l.error || l.errorDetail);
          if (err || failed) {
            const why = failed?.errorDetail?.message ?? failed?.error ?? describeError(err);
            reject(
              new Error(`docker pull ${reference} failed: ${why}`, { cause: err ?? undefined }),
            );
          } else resolve();
        });
      });
    },
    tag: async (source, target) => {
      const colon = target.lastIndexOf(':');
      await engine()
        .getImage(source)
        .tag({ repo: target.slice(0, colon), tag: target.slice(colon + 1) });
    },
    untag: async (reference) => {
      await engine()
        .getImage(reference)
        .remove({ noprune: true })
        .catch((err: unknown) => {
          if ((err as { statusCode?: number }).statusCode !== 404) throw err;
        });
    },
  };
}
