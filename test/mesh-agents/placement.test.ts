/**
 * `helix-node run` on three real daemons in network namespaces: node-a has no Docker, node-b and
 * node-c each have a private dockerd, and node-c has no Go, so the only way it gets an agent's
 * image is ImageStore.Fetch from node-b over gRPC between the namespaces: an image node-b ran
 * successfully, or one node-b builds for it on request (test/mesh-agents/platforms.test.ts; a node
 * that can neither fetch nor build is test/agenthost/transfer.test.ts's).
 */
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { RUN_EXIT_CODES } from '../../node/cli/commands/agents.js';
import type { AgentDetail, AgentList } from '../../node/agenthost/index.js';
import {
  agentMeshAvailable,
  runAgent,
  useAgentMesh,
  waitForView,
  type RunOutcome,
} from './helpers.js';

const A = 'node-a';
const B = 'node-b';
const C = 'node-c';

/** The echo images an engine holds: tag -> image id. */
async function echoImages(docker: Docker): Promise<Map<string, string>> {
  const images = await docker.listImages({ filters: { label: ['helix.agent=echo'] } });
  return new Map(images.flatMap((i) => (i.RepoTags ?? []).map((t) => [t, i.Id] as const)));
}

function hosts(run: RunOutcome): string[] {
  return run.events.flatMap((e) => (e.type === 'accepted' ? [e.hostName] : []));
}

describe.skipIf(!agentMeshAvailable)('agents placed across a mesh of real daemons', () => {
  const agentMesh = useAgentMesh({
    subnet: '100.64.80',
    nodes: [{ name: A }, { name: B, docker: true }, { name: C, docker: true, go: false }],
  });
  const mesh = () => agentMesh().mesh;
  const ia = () => agentMesh().index(A);
  const ic = () => agentMesh().index(C);

  it('fetches the image node-b ran successfully onto node-c over ImageStore, then runs it there', async () => {
    // node-b builds echo (or has it) and runs it once: its image becomes shareable.
    const onB = await runAgent(mesh(), ia(), 'echo', 'echo', {
      args: { text: 'from b' },
      extra: ['--on', B],
    });
    expect(onB.final, onB.stderr).toMatchObject({ type: 'result', text: 'from b', hostName: B });
    const bImages = await echoImages(agentMesh().engine(B).docker);
    expect(bImages.size).toBe(1);
    const [tag, id] = [...bImages][0]!;
    await waitForView(mesh(), ic(), (view) =>
      view
        .find((p) => p.name === B)
        ?.images.some((i) => i.agent === 'echo' && i.shareable && tag.includes(i.hash.slice(0, 16)))
        ? true
        : `${B} does not offer ${tag} yet`,
    );
    expect(await echoImages(agentMesh().engine(C).docker)).toEqual(new Map());

    const onC = await runAgent(mesh(), ia(), 'echo', 'echo', {
      args: { text: 'from c' },
      extra: ['--on', C],
    });
    expect(onC.final, onC.stderr).toMatchObject({ type: 'result', text: 'from c', hostName: C });
    expect(onC.placedOn).toEqual([C]);
    const progress = onC.events.flatMap((e) => (e.type === 'progress' ? [e.message] : []));
    expect(progress).toContain(`fetching image ${tag} from ${B}`);

    // The same image (same id) now sits in node-c's own engine, and node-c says it holds it.
    expect(await echoImages(agentMesh().engine(C).docker)).toEqual(new Map([[tag, id]]));
    const inspect = await mesh().cli(ic(), ['agents', 'inspect', 'echo', '--json']);
    const detail = JSON.parse(inspect.stdout) as AgentDetail;
    expect(detail.image).toMatchObject({ tag, held: true });
    expect(detail.image.successes).toBeGreaterThanOrEqual(1);
  }, 90_000);

  it('runs echo from a node without Docker on a Docker peer, never on itself', async () => {
    for (const text of ['hi', 'hi again']) {
      const run = await runAgent(mesh(), ia(), 'echo', 'echo', { args: { text } });
      expect(run.final, run.stderr).toMatchObject({ type: 'result', text });
      expect(run.code).toBe(0);
      expect(run.placedOn.length).toBeGreaterThan(0);
      for (const node of [...run.placedOn, ...hosts(run)]) expect([B, C]).toContain(node);
      expect(run.final?.type === 'result' && run.final.hostName).toMatch(/^node-[bc]$/);
    }
    const list = await mesh().cli(ia(), ['agents', 'list', '--json']);
    expect((JSON.parse(list.stdout) as AgentList).docker).toBe(false);
  }, 90_000);

  it('runs where --on says, and refuses an unknown node or one without Docker with the reason', async () => {
    for (const node of [B, C]) {
      const run = await runAgent(mesh(), ia(), 'echo', 'echo', {
        args: { text: `on ${node}` },
        extra: ['--on', node],
      });
      expect(run.final, run.stderr).toMatchObject({ type: 'result', hostName: node });
      expect(run.events[0]).toMatchObject({ type: 'placed', node, attempt: 1 });
      expect(run.events[0]?.type === 'placed' && run.events[0].reason).toMatch(/^--on /);
    }

    const unknown = await runAgent(mesh(), ia(), 'echo', 'echo', {
      args: { text: 'x' },
      extra: ['--on', 'nowhere'],
    });
    expect(unknown.code).toBe(RUN_EXIT_CODES.no_host);
    expect(unknown.placedOn).toEqual([]);
    expect(unknown.final).toMatchObject({ type: 'error', code: 'no_host' });
    const message = unknown.final?.type === 'error' ? unknown.final.message : '';
    expect(message).toMatch(/^--on nowhere: no node of that name or id in the mesh/);
    for (const name of [A, B, C]) expect(message).toContain(name);

    // Without --json the CLI prints the message and exits with the same status.
    const plain = await mesh().cli(ia(), ['run', 'echo', 'echo', '--arg', 'text=x', '--on', A]);
    expect(plain.code).toBe(RUN_EXIT_CODES.no_host);
    expect(plain.stderr).toContain(`--on ${A}: ${A} has no Docker engine`);
    expect(plain.stdout).toBe('');
  }, 90_000);
});
