/**
 * Agent images: `go build` (static, stripped, cross-compiled for the target platform with
 * GOOS/GOARCH/GOARM) -> a FROM scratch image built by the runtime's engine (ImageRuntime.build)
 * for that platform, tagged `<prefix><agent>:<content hash>-<platform>`. An image whose tag
 * exists already is not built again. Any node with Go and an engine builds for any platform.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DependencyMissingError, describeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { AgentCompileError, ImageBuildError } from './errors.js';
import { snapshotSources } from './loader.js';
import { goEnvFor, parsePlatform, type Platform } from '../platform.js';
import {
  DEFAULT_IMAGE_PREFIX,
  GO_BUILD_FLAGS,
  dockerfile,
  imageLabels,
  imageTag,
} from './recipe.js';
import type { ImageRuntime } from './runtime.js';
import type { LoadedAgent } from '../agentspec/index.js';

/** DESIGN.md §6: an agent image stays under 10 MB (a hello agent is ~1.5 MB). */
export const IMAGE_SIZE_LIMIT_BYTES = 10 * 1000 * 1000;

export interface BuildOptions {
  /** the engine that builds and holds the image (DockerRuntime) */
  runtime: ImageRuntime;
  /** the Go toolchain (config agents.go) */
  go?: string;
  /** image repository prefix; tests use "helix-test-agent-" */
  imagePrefix?: string;
  /** what to build for (default: the platform this node runs agents as, runtime.platform()) */
  platform?: Platform;
  /** one line per step: go build, the engine's build output, the size */
  onProgress?: (line: string) => void;
  signal?: AbortSignal;
  /** go build's cache when neither GOCACHE nor HOME is set (a service's environment) */
  goCacheDir?: string;
  /** bound on `go build` (default 180 s) */
  goTimeoutMs?: number;
  log?: Logger;
}

export interface BuiltImage {
  agent: string;
  hash: string;
  /** what the binary was compiled for */
  platform: Platform;
  /** e.g. "helix-agent-echo:3fa9c2d41b7e0a55-linux-amd64" */
  tag: string;
  /** Docker image id, "sha256:..." */
  id: string;
  sizeBytes: number;
  /** false when the tag existed already and nothing was built */
  built: boolean;
  /** how long go build and the image build took (0 when nothing was built) */
  buildMs: number;
}

/** Builds the agent's image unless an image with its content tag is already there. */
export async function buildImage(agent: LoadedAgent, opts: BuildOptions): Promise<BuiltImage> {
  const { runtime } = opts;
  const name = agent.manifest.name;
  const say = opts.onProgress ?? (() => undefined);
  const log = opts.log ?? silentLogger;
  await runtime.check(opts.signal);

  // Hash and build from one snapshot of the sources (the agent's folder plus the agent SDK,
  // agents/sdk/helix.go), so the tag always names what was built.
  const platform = parsePlatform(opts.platform ?? (await runtime.platform(opts.signal)));
  const { files, hash } = await snapshotSources(agent.dir);
  const tag = imageTag(name, hash, platform, opts.imagePrefix ?? DEFAULT_IMAGE_PREFIX);
  const existing = await runtime.inspectImage(tag);
  if (existing && existing.platform === platform) {
    say(`${tag} is up to date (${formatSize(existing.sizeBytes)})`);
    return {
      agent: name,
      hash,
      platform,
      tag,
      id: existing.id,
      sizeBytes: existing.sizeBytes,
      built: false,
      buildMs: 0,
    };
  }

  const started = performance.now();
  const env = goEnvFor(platform);
  say(`go build ${name} (${platform})`);
  const binary = await goBuild(name, files, env, opts);
  say(`binary ${formatSize(binary.length)}; building image ${tag}`);

  await runtime.build(
    {
      agent: name,
      tag,
      platform,
      labels: imageLabels(name, hash, platform),
      files: [
        { name: 'Dockerfile', mode: 0o644, content: dockerfile(name, hash, platform) },
        { name: 'agent', mode: 0o755, content: binary },
      ],
    },
    { onProgress: say, signal: opts.signal },
  );

  const made = await runtime.inspectImage(tag);
  if (!made) throw new ImageBuildError(name, `the engine reported success but ${tag} is missing`);
  if (made.platform !== platform) {
    // An engine whose builder ignores the platform option would label an arm64 binary amd64.
    await runtime.removeImage(tag).catch(() => undefined);
    throw new ImageBuildError(
      name,
      `the ${runtime.engine} engine built ${tag} as ${made.platform}, not ${platform}; it was removed (the engine's builder must honour the build's platform option: Docker 20.10 or later)`,
    );
  }
  const buildMs = Math.round(performance.now() - started);
  say(`built ${tag} (${formatSize(made.sizeBytes)}) in ${(buildMs / 1000).toFixed(1)} s`);
  if (made.sizeBytes >= IMAGE_SIZE_LIMIT_BYTES) {
    say(
      `warning: ${tag} is ${formatSize(made.sizeBytes)}, over the ${formatSize(IMAGE_SIZE_LIMIT_BYTES)} agents should stay under`,
    );
  }
  log.info({ agent: name, tag, platform, sizeBytes: made.sizeBytes, buildMs }, 'agent image built');
  return {
    agent: name,
    hash,
    platform,
    tag,
    id: made.id,
    sizeBytes: made.sizeBytes,
    built: true,
    buildMs,
  };
}

export function formatSize(bytes: number): string {
  if (bytes >= 1000 * 1000) return `${(bytes / 1000 / 1000).toFixed(1)} MB`;
  if (bytes >= 1000) return `${(bytes / 1000).toFixed(0)} kB`;
  return `${bytes} B`;
}

async function goBuild(
  name: string,
  files: Map<string, Buffer>,
  arch: { GOOS: string; GOARCH: string; GOARM?: string },
  opts: BuildOptions,
): Promise<Buffer> {
  const go = opts.go ?? 'go';
  const dir = await mkdtemp(path.join(os.tmpdir(), `helix-build-${name}-`));
  try {
    for (const [rel, content] of files) {
      await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
      await writeFile(path.join(dir, rel), content);
    }
    // A lone main.go builds as its own module; standard library only, so nothing is downloaded.
    if (!files.has('go.mod'))
      await writeFile(path.join(dir, 'go.mod'), `module helix.local/agents/${name}\n\ngo 1.19\n`);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CGO_ENABLED: '0',
      GOOS: arch.GOOS,
      GOARCH: arch.GOARCH,
      GOFLAGS: '',
      GOPROXY: 'off',
      GOTOOLCHAIN: 'local',
      GOWORK: 'off',
    };
    if (arch.GOARM) env.GOARM = arch.GOARM;
    else delete env.GOARM;
    if (!env.GOCACHE && !env.HOME && !env.XDG_CACHE_HOME) {
      env.GOCACHE = opts.goCacheDir ?? path.join(os.tmpdir(), 'helix-go-cache');
    }
    await run(go, ['build', ...GO_BUILD_FLAGS, '-o', 'agent', '.'], { cwd: dir, env, name, opts });
    return await readFile(path.join(dir, 'agent'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function run(
  file: string,
  args: string[],
  ctx: { cwd: string; env: NodeJS.ProcessEnv; name: string; opts: BuildOptions },
): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        cwd: ctx.cwd,
        env: ctx.env,
        timeout: ctx.opts.goTimeoutMs ?? 180_000,
        signal: ctx.opts.signal,
        maxBuffer: 4 << 20,
      },
      (err, _stdout, stderr) => {
        if (!err) return resolve();
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          return reject(
            new DependencyMissingError(
              `the Go toolchain (${file})`,
              'install it (`apt-get install golang-go`) or set agents.go in helix.toml to its path; a node without Go can fetch built images from a peer',
              { cause: err },
            ),
          );
        }
        const output = stderr.trim().split('\n').slice(0, 20).join('\n');
        // The compiler ran and refused the source (not killed at the bound, not cancelled).
        const refused = output !== '' && !err.killed && typeof err.code === 'number';
        const message = `go build: ${output || describeError(err)}`;
        // The compiler's output is the whole story; the exec error would only repeat it.
        reject(
          refused
            ? new AgentCompileError(ctx.name, message)
            : new ImageBuildError(ctx.name, message, { cause: err }),
        );
      },
    );
  });
}
