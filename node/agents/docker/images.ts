/**
 * The image side of DockerRuntime, over the Docker engine API (dockerode): ping, build from a tar
 * context made in memory, inspect, list, remove, `docker save` and `docker load`.
 */
import type Docker from 'dockerode';
import { DependencyMissingError, describeError } from '../../errors.js';
import { ImageBuildError, ImageBusyError } from '../errors.js';
import { platformOf } from '../../platform.js';
import type { ImageInfo, ImageRecipe } from '../runtime.js';

/** The image's id, size and platform, or null when the engine does not have it. */
export async function inspectImage(docker: Docker, tag: string): Promise<ImageInfo | null> {
  try {
    const info = (await docker.getImage(tag).inspect()) as Awaited<
      ReturnType<Docker.Image['inspect']>
    > & { Variant?: string };
    return {
      id: info.Id,
      sizeBytes: info.Size,
      platform: platformOf({ os: info.Os, architecture: info.Architecture, variant: info.Variant }),
    };
  } catch (err) {
    if (statusOf(err) === 404) return null;
    throw err;
  }
}

/** Throws DependencyMissingError (with the fix) when no Docker engine answers. */
export async function checkDocker(docker: Docker, signal?: AbortSignal): Promise<void> {
  try {
    await pingEngine(docker, signal ?? AbortSignal.timeout(5000));
  } catch (err) {
    const socket = (docker.modem as { socketPath?: string }).socketPath ?? 'the Docker socket';
    throw dockerMissingError(socket, err);
  }
}

/** The error of an engine that does not answer at `socket`, with what to do. */
export function dockerMissingError(socket: string, cause: unknown): DependencyMissingError {
  return new DependencyMissingError(
    `the Docker engine (${socket})`,
    'start it (`sudo systemctl start docker`; on Debian install it with `apt-get install docker.io`) or set capabilities.docker_socket in helix.toml',
    { cause },
  );
}

/** GET /_ping, bounded (dockerode takes the signal; its type declarations do not say so). */
export function pingEngine(docker: Docker, signal: AbortSignal): Promise<unknown> {
  return (docker as unknown as { ping(opts: { abortSignal: AbortSignal }): Promise<unknown> }).ping(
    { abortSignal: signal },
  );
}

/** Tags of the images labelled helix.agent (or helix.agent=<agent>). */
export async function agentImageTags(docker: Docker, agent?: string): Promise<string[]> {
  const label = agent === undefined ? 'helix.agent' : `helix.agent=${agent}`;
  const images = await docker.listImages({ filters: { label: [label] } });
  return images.flatMap((i) => i.RepoTags ?? []);
}

/** Removes the image; false when it was not there. ImageBusyError when a container uses it. */
export async function removeImage(docker: Docker, tag: string): Promise<boolean> {
  try {
    await docker.getImage(tag).remove();
    return true;
  } catch (err) {
    const status = statusOf(err);
    if (status === 404) return false;
    if (status === 409) throw new ImageBusyError(describeError(err), { cause: err });
    throw err;
  }
}

/** Builds the recipe's context (packed as a tar in memory) and follows the engine's output. */
export async function buildRecipe(
  docker: Docker,
  recipe: ImageRecipe,
  opts: { onProgress?: (line: string) => void; signal?: AbortSignal },
): Promise<void> {
  const say = opts.onProgress ?? (() => undefined);
  // loaded by the first build, not at import (issue 12: a node's start-up on a Pi)
  const { default: tar } = await import('tar-stream');
  const context = tar.pack();
  const mtime = new Date(0); // a context that does not change with the clock
  for (const f of recipe.files) {
    context.entry({ name: f.name, mode: f.mode, mtime, uid: 0, gid: 0 }, f.content);
  }
  context.finalize();

  let output: NodeJS.ReadableStream;
  try {
    // tar-stream's pack is a streamx Readable: pipeable, which is all the engine client needs.
    output = await docker.buildImage(context as unknown as NodeJS.ReadableStream, {
      t: recipe.tag,
      // The classic builder sets the image's Os/Architecture/Variant from it (FROM scratch).
      platform: recipe.platform,
      rm: true,
      forcerm: true,
      labels: recipe.labels,
      abortSignal: opts.signal,
    });
  } catch (err) {
    throw new ImageBuildError(
      recipe.agent,
      `the Docker engine refused the build: ${describeError(err)}`,
      { cause: err },
    );
  }
  await followBuild(docker, output, recipe.agent, say, opts.signal);
}

/** `docker save` of one image: a tar stream, destroyed when `signal` aborts. */
export async function saveImage(
  docker: Docker,
  tag: string,
  signal?: AbortSignal,
): Promise<NodeJS.ReadableStream> {
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
}

/** `docker load` of a tar stream; ImageTransferError-worthy message when the engine refuses. */
export async function loadImage(
  docker: Docker,
  archive: NodeJS.ReadableStream,
  signal?: AbortSignal,
): Promise<void> {
  const output = await docker.loadImage(archive, { quiet: true, abortSignal: signal });
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(output, (err: Error | null, lines: ProgressLine[]) => {
      const failed = lines?.find((l) => l.error || l.errorDetail);
      if (err || failed) {
        const why =
          failed?.errorDetail?.message ?? failed?.error ?? err?.message ?? 'unknown error';
        reject(new Error(`docker load refused the image: ${why}`, { cause: err ?? undefined }));
      } else resolve();
    });
  });
}

interface ProgressLine {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
}

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

function followBuild(
  docker: Docker,
  output: NodeJS.ReadableStream,
  name: string,
  say: (line: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      (output as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      reject(new ImageBuildError(name, 'cancelled', { cause: signal?.reason }));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    docker.modem.followProgress(
      output,
      (err: Error | null, lines: ProgressLine[]) => {
        signal?.removeEventListener('abort', onAbort);
        const failed = lines?.find((l) => l.error || l.errorDetail);
        if (err || failed) {
          const why = failed?.errorDetail?.message ?? failed?.error ?? describeError(err);
          return reject(
            new ImageBuildError(name, `docker build: ${why}`, { cause: err ?? undefined }),
          );
        }
        resolve();
      },
      (line: ProgressLine) => {
        const text = (line.stream ?? line.status ?? '').trim();
        if (text) say(text);
      },
    );
  });
}
