/**
 * `helix-node agents …` and `helix-node run` as a user runs them: the CLI process talks to a
 * daemon-like node (agent services, gRPC and the control socket) on a real Docker engine.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONTAINER_PREFIX,
  IMAGE_PREFIX,
  startTestNode,
  type TestNode,
} from '../agenthost/service-helpers.js';
import { ensureDockerEngine, removeContainers, removeImages } from '../support/docker.js';
import { freePort } from '../support/ports.js';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');

/** The CLI in a child process (async: this process serves its control socket meanwhile). */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'node/cli/main.ts', ...args],
      { cwd: repoRoot, env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('helix-node agents and run against a running node', () => {
  let docker: Docker;
  let node: TestNode;
  const at = () => ['--state-dir', node.stateDir];

  beforeAll(async () => {
    docker = await ensureDockerEngine();
    await removeContainers(docker, CONTAINER_PREFIX);
    node = await startTestNode({
      docker,
      agents: ['echo', 'shout'],
      address: '127.0.7.2',
      port: await freePort(),
      name: 'laptop',
    });
    await node.svc.ready();
  }, 240_000);

  afterAll(async () => {
    await node?.stop();
    if (docker) {
      await removeContainers(docker, CONTAINER_PREFIX);
      await removeImages(docker, IMAGE_PREFIX);
    }
  }, 60_000);

  it('run prints progress on stderr and the result on stdout, exit 0', async () => {
    const r = await cli(['run', 'echo', 'echo', '--arg', 'text=hello there', ...at()]);
    expect(r.stderr).toContain('placed on laptop');
    expect(r.stderr).toContain('echoing');
    expect(r.stdout).toBe('hello there\n');
    expect(r.code).toBe(0);
  });

  it('run --json prints one JSON event per line, ending with the result', async () => {
    const r = await cli(['run', 'shout', 'say', '--arg', 'text=hi', '--json', ...at()]);
    expect(r.code).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; text?: string });
    expect(events[0]!.type).toBe('placed');
    expect(events.at(-1)).toMatchObject({ type: 'result', text: 'HI' });
  });

  it('run of an unknown agent exits 64 and names the agents there are', async () => {
    const r = await cli(['run', 'kettle', 'boil', ...at()]);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/no agent "kettle" on this node; agents: echo, shout/);
  });

  it('run --on a node that is not in the mesh exits 69 with the reason', async () => {
    const r = await cli(['run', 'echo', 'echo', '--arg', 'text=x', '--on', 'attic', ...at()]);
    expect(r.code).toBe(69);
    expect(r.stderr).toMatch(/attic/);
  });

  it('run with an argument that is not key=value exits 64', async () => {
    const r = await cli(['run', 'echo', 'echo', '--arg', 'text', ...at()]);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/not key=value/);
  });

  it('agents list shows each agent with its image, size and warm containers', async () => {
    const r = await cli(['agents', 'list', ...at()]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^AGENT\s+TIER\s+INTENTS\s+IMAGE\s+SIZE\s+HELD\s+WARM/);
    expect(lines[1]).toMatch(
      new RegExp(
        `^echo\\s+warm\\s+echo\\s+${IMAGE_PREFIX}echo:[0-9a-f]{16}-linux-[a-z0-9-]+\\s+[\\d.]+ MB\\s+yes\\s+1 idle`,
      ),
    );
    expect(lines[2]).toMatch(/^shout\s+cold\s+say\s+\S+\s+[\d.]+ MB\s+yes\s+-/);
  });

  it('agents build prints each image with its size', async () => {
    const r = await cli(['agents', 'build', ...at()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `^echo  ${IMAGE_PREFIX}echo:[0-9a-f]{16}-linux-[a-z0-9-]+  linux/[a-z0-9/]+  [\\d.]+ MB  up to date$`,
        'm',
      ),
    );
    expect(r.stdout).toMatch(/^shout {2}.* {2}up to date$/m);
    expect(r.stderr).toContain('0 built, 2 up to date, 0 failed');
  });

  it('agents inspect shows the sandbox and the intents; an unknown name exits 64', async () => {
    const r = await cli(['agents', 'inspect', 'shout', ...at()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /sandbox\s+16 MB memory, 0.25 CPUs, 16 pids, network none, timeout 20 s/,
    );
    expect(r.stdout).toMatch(/--arg text=…\s+string, required/);
    const bad = await cli(['agents', 'inspect', 'nope', '--json', ...at()]);
    expect(bad.code).toBe(64);
    expect(JSON.parse(bad.stdout).error.message).toMatch(/no agent "nope"/);
  });

  it('agents rm of a warm agent in use exits 75 and says what to do', async () => {
    const r = await cli(['agents', 'rm', 'echo', ...at()]);
    expect(r.code).toBe(75);
    expect(r.stderr).toMatch(/warm_pool_size = 0/);
  });
});
