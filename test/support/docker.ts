/**
 * A real Docker engine for tests. `ensureDockerEngine()` uses the engine on /var/run/docker.sock,
 * starting `dockerd` in the background when none answers (and leaving it running for the rest of
 * the suite, as a CI machine would). `startDockerd()` runs a private engine with its own data
 * root, exec root, pidfile and socket (two mesh nodes on one machine, each with its own images).
 * Tests name every container and image repository they create "helix-test-…" and remove them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import Docker from 'dockerode';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';
export const TEST_PREFIX = 'helix-test-';
const DOCKERD_LOG = '/tmp/helix-test-dockerd.log';

/** The engine on `socketPath`, started with `dockerd` if nothing answers there. */
export async function ensureDockerEngine(
  opts: { socketPath?: string; timeoutMs?: number } = {},
): Promise<Docker> {
  const socketPath = opts.socketPath ?? DEFAULT_DOCKER_SOCKET;
  const docker = new Docker({ socketPath });
  if (await answers(docker)) return docker;

  // Another test run may be starting one at the same moment: a second dockerd refuses to start
  // over the first one's pidfile and exits, and we wait for the first one all the same.
  const logFd = openSync(DOCKERD_LOG, 'a');
  const child = spawn('dockerd', ['-H', `unix://${socketPath}`], {
    detached: true,
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  child.unref();
  await waitForPing(docker, child, opts.timeoutMs ?? 60_000, DOCKERD_LOG);
  return docker;
}

export interface PrivateDockerd {
  docker: Docker;
  socketPath: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * A dockerd of its own under `dir` (data root, exec root, pidfile, socket), beside any other.
 * No default bridge and no iptables rules, so it does not fight the shared engine over docker0.
 *
 * With `netns` it runs in that network namespace (the socket is a file, so the daemon and this
 * process reach it from anywhere). There its bridge networks (the agents' egress network) are
 * checked for overlap against that namespace's routes only: in the host namespace, where other
 * engines and test runs hold most of Docker's default address pools, creating one failed under
 * load ("could not find an available, non-overlapping IPv4 address pool"). nsenter enters the
 * network namespace alone and execs dockerd: `ip netns exec` also remounts /sys, hiding the cgroup
 * mounts dockerd needs ("Devices cgroup isn't mounted").
 */
export async function startDockerd(
  dir: string,
  opts: { timeoutMs?: number; extraArgs?: string[]; netns?: string } = {},
): Promise<PrivateDockerd> {
  await mkdir(dir, { recursive: true });
  const socketPath = path.join(dir, 'docker.sock');
  const logPath = path.join(dir, 'dockerd.log');
  const logFd = openSync(logPath, 'a');
  const [cmd, ...prefix] = opts.netns
    ? ['nsenter', `--net=/run/netns/${opts.netns}`, 'dockerd']
    : ['dockerd'];
  const child = spawn(
    cmd!,
    [
      ...prefix,
      '--data-root',
      path.join(dir, 'data'),
      '--exec-root',
      path.join(dir, 'exec'),
      '--pidfile',
      path.join(dir, 'dockerd.pid'),
      '-H',
      `unix://${socketPath}`,
      '--bridge',
      'none',
      '--iptables=false',
      ...(opts.extraArgs ?? []),
    ],
    { stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  const docker = new Docker({ socketPath });
  try {
    await waitForPing(docker, child, opts.timeoutMs ?? 60_000, logPath);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    docker,
    socketPath,
    pid: child.pid ?? -1,
    async stop() {
      if (child.exitCode === null) {
        // Networks an engine made (agents' egress bridges) outlive it as br-* links in the
        // namespace and use up Docker's address pools run after run: remove them first.
        await removeEngineNetworks(docker);
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      // Image layers are overlay mounts under the data root; a stopped dockerd unmounts them.
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Removes the containers whose name starts with `prefix` (force: running ones too). */
export async function removeContainers(docker: Docker, prefix = TEST_PREFIX): Promise<void> {
  const all = await docker.listContainers({ all: true });
  await Promise.all(
    all
      .filter((c) => c.Names.some((n) => n.replace(/^\//, '').startsWith(prefix)))
      .map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined),
      ),
  );
}

/** Removes the images whose repository starts with `prefix`. */
export async function removeImages(docker: Docker, prefix = TEST_PREFIX): Promise<void> {
  const images = await docker.listImages();
  for (const image of images) {
    for (const tag of image.RepoTags ?? []) {
      if (tag.startsWith(prefix)) {
        await docker
          .getImage(tag)
          .remove({ force: true })
          .catch(() => undefined);
      }
    }
  }
}

/** Removes the networks whose name starts with `prefix`. */
export async function removeNetworks(docker: Docker, prefix = TEST_PREFIX): Promise<void> {
  const networks = await docker.listNetworks();
  for (const n of networks.filter((n) => n.Name.startsWith(prefix))) {
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch(() => undefined);
  }
}

/** Every user-defined network of an engine (its containers must be gone or stopping). */
async function removeEngineNetworks(docker: Docker): Promise<void> {
  const networks = await docker.listNetworks().catch(() => []);
  for (const n of networks.filter((n) => !['bridge', 'host', 'none'].includes(n.Name))) {
    for (const id of Object.keys(n.Containers ?? {})) {
      await docker
        .getContainer(id)
        .remove({ force: true })
        .catch(() => undefined);
    }
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch(() => undefined);
  }
}

async function answers(docker: Docker): Promise<boolean> {
  try {
    await (docker as unknown as { ping(o: { abortSignal: AbortSignal }): Promise<unknown> }).ping({
      abortSignal: AbortSignal.timeout(2000),
    });
    return true;
  } catch {
    return false;
  }
}

async function waitForPing(
  docker: Docker,
  child: ChildProcess,
  timeoutMs: number,
  logPath: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await answers(docker)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  const exited = child.exitCode !== null ? ` (dockerd exited with ${child.exitCode})` : '';
  throw new Error(
    `no Docker engine answered within ${timeoutMs} ms${exited}; dockerd log:\n${tail(logPath)}`,
  );
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}
