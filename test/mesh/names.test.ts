/**
 * Node names unique in the mesh (issue 9) on real daemons in network namespaces:
 * - three nodes whose helix.toml all say node.name = "raspberrypi": the first one keeps it, the
 *   two newcomers take "-2" and "-3" with a warn line, and every node's status agrees;
 * - `helix-node node rename` on another member renames one, every node shows it within ~2 s
 *   (the renamed node's own status and log context too), a taken name is refused (exit 64);
 * - a restart of all three keeps every name;
 * - three started at once (no one known first) still end with distinct names that all agree on;
 * - a node with no node.name on a tailnet is called by its tailnet machine name.
 */
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { controlCall, type SettingsList } from '../../node/control/index.js';
import type { MeshHarness, StatusView } from '../harness/index.js';
import { useMeshHarness } from '../harness/vitest.js';
import { waitFor } from '../support/wait.js';
import { daemonMesh, logEntries, meshAvailable, secs } from './helpers.js';

const PI = 'raspberrypi';

/** id → name as node i's status shows every node (null until it sees `count` nodes alive). */
async function namesSeenBy(
  m: MeshHarness,
  i: number,
  count = 3,
): Promise<Map<string, string> | null> {
  const v: StatusView | null = await m.status(i).catch(() => null);
  if (!v || v.nodes.filter((n) => n.state === 'alive').length < count) return null;
  return new Map(v.nodes.map((n) => [n.id, n.name]));
}

/** Node i's `nodes.<id>.name` setting. */
async function nameSetting(m: MeshHarness, i: number, id: string): Promise<unknown> {
  const list = await controlCall<SettingsList>(m.info(i).stateDir, '/v1/settings');
  return list.settings.find((s) => s.key === `nodes.${id}.name`)?.value;
}

/** Wait until nodes 0-2 see the same three distinct names; returns id → name. */
function agreedNames(m: MeshHarness, what: string): Promise<Map<string, string>> {
  return waitFor(
    async () => {
      const seen = await Promise.all([0, 1, 2].map((i) => namesSeenBy(m, i)));
      if (seen.some((x) => x === null)) return null;
      const first = JSON.stringify([...seen[0]!].sort());
      if (seen.some((x) => JSON.stringify([...x!].sort()) !== first)) return null;
      return new Set(seen[0]!.values()).size === 3 ? seen[0]! : null;
    },
    { timeoutMs: 40_000, intervalMs: 250, what },
  );
}

describe.skipIf(!meshAvailable)('node names unique in a mesh of three "raspberrypi"', () => {
  const mesh = useMeshHarness(
    () =>
      daemonMesh({
        nodes: 3,
        subnet: '100.64.76',
        node: () => ({ config: { node: { name: PI } } }),
      }),
    { tailLines: 40 },
  );

  it('gives each a distinct name, renames live from another member, keeps names on restart', async () => {
    const m = mesh();
    // node0 first: it holds "raspberrypi" before the others arrive
    m.startNode(0);
    const v0 = await m.waitForStatus(0, { timeoutMs: 30_000, intervalMs: 200 });
    const id0 = v0.self.id;
    await waitFor(async () => (await nameSetting(m, 0, id0)) === PI, {
      timeoutMs: 15_000,
      what: `node0 to hold nodes.${id0}.name = ${PI}`,
    });
    m.startNode(1);
    m.startNode(2);

    const names = await agreedNames(m, 'every node to show three distinct names');
    const ids = await Promise.all([0, 1, 2].map(async (i) => (await m.status(i)).self.id));
    expect(names.get(id0)).toBe(PI);
    expect(new Set([names.get(ids[1]!), names.get(ids[2]!)])).toEqual(
      new Set([`${PI}-2`, `${PI}-3`]),
    );
    // each newcomer says why it is not "raspberrypi"; node0 never does
    for (const i of [1, 2]) {
      const clash = logEntries(m, i).find((e) => String(e.msg).startsWith('node name clash'));
      expect(clash, `node${i}'s clash line`).toMatchObject({ level: 40, wanted: PI });
      expect(String(clash!.msg)).toContain(PI);
    }
    expect(m.log(0)).not.toMatch(/node name clash/);
    // the chosen names are settings: every node holds all three
    for (const i of [0, 1, 2])
      for (const id of ids) expect(await nameSetting(m, i, id)).toBe(names.get(id));

    // node1 renames node2 (by its current name); every node shows the new name
    const target = ids[2]!;
    const old = names.get(target)!;
    // polled from before the command runs: the write's own time (node1's clock, the same
    // machine clock in every namespace) to the last node showing it is the spread
    const shown = waitFor(
      async () => {
        const views = await Promise.all([0, 1, 2].map((i) => m.status(i)));
        return views.every((v) => v.nodes.find((n) => n.id === target)?.name === 'attic') &&
          views[2]!.self.name === 'attic'
          ? Date.now()
          : null;
      },
      { timeoutMs: 30_000, intervalMs: 50, what: 'every node to show node2 as attic' },
    );
    const rename = await m.cli(1, ['node', 'rename', old, 'attic', '--json']);
    expect(rename.code, rename.stderr).toBe(0);
    expect(JSON.parse(rename.stdout)).toMatchObject({ id: target, name: 'attic', previous: old });
    const seenAt = await shown;
    const writtenAt = (
      await controlCall<SettingsList>(m.info(1).stateDir, '/v1/settings')
    ).settings.find((x) => x.key === `nodes.${target}.name`)!.writtenAt;
    console.log(
      `[mesh] node rename on node1 shown by all three nodes ${secs(seenAt - writtenAt)} after the write`,
    );
    expect(seenAt - writtenAt).toBeLessThan(2000);
    // node2's log says so, and its lines carry the new name from then on
    await waitFor(() => /this node is now called attic/.test(m.log(2)), {
      timeoutMs: 5000,
      what: 'node2 to log its new name',
    });
    const after = logEntries(m, 2);
    const at = after.findIndex((e) => String(e.msg).includes('now called attic'));
    expect(after[at]).toMatchObject({ node: 'attic', previous: old });

    // a name another node has is refused, with a message naming the holder
    const taken = await m.cli(0, ['node', 'rename', 'attic', PI]);
    expect(taken.code).toBe(64);
    expect(taken.stderr).toMatch(new RegExp(`name "${PI}" is taken by node ${PI}`));
    // and so is node1's name for node2 renaming itself (the one-argument form)
    const own = await m.cli(2, ['node', 'rename', names.get(ids[1]!)!]);
    expect(own.code).toBe(64);
    expect(own.stderr).toMatch(/is taken by node/);

    // a restart of all three keeps every name
    const expected = new Map(names);
    expected.set(target, 'attic');
    for (const i of [0, 1, 2]) expect((await m.stopNode(i)).code).toBe(0);
    for (const i of [0, 1, 2]) m.startNode(i);
    const again = await agreedNames(m, 'every node to show the names again after a restart');
    expect([...again].sort()).toEqual([...expected].sort());
    expect(m.log(0)).not.toMatch(/node name clash/);
  }, 180_000);
});

describe.skipIf(!meshAvailable)('three "raspberrypi" started at once', () => {
  const mesh = useMeshHarness(
    () =>
      daemonMesh({
        nodes: 3,
        subnet: '100.64.78',
        node: () => ({ config: { node: { name: PI } } }),
      }),
    { tailLines: 40 },
  );

  it('still end with one "raspberrypi" and two suffixed names that every node agrees on', async () => {
    const m = mesh();
    for (const i of [0, 1, 2]) m.startNode(i);
    const names = await agreedNames(m, 'every node to show three distinct names');
    const sorted = [...names.values()].sort();
    expect(sorted[0]).toBe(PI);
    expect(sorted.slice(1)).toEqual([
      expect.stringMatching(/^raspberrypi-\d+$/),
      expect.stringMatching(/^raspberrypi-\d+$/),
    ]);
    // settled: nothing renames itself again a few seconds later
    await new Promise((r) => setTimeout(r, 3000));
    expect(await agreedNames(m, 'the same names 3 s later')).toEqual(names);
    for (const i of [0, 1, 2])
      for (const [id, name] of names) expect(await nameSetting(m, i, id)).toBe(name);
  }, 120_000);
});

describe.skipIf(!meshAvailable)('a node named by its tailnet', () => {
  const mesh = useMeshHarness(
    () =>
      daemonMesh({
        nodes: 1,
        subnet: '100.64.77',
        // the stand-in tailscale calls this node "desk-pi"; helix.toml gives no node.name
        node: [{ name: 'desk-pi', configName: false }],
      }),
    { tailLines: 40 },
  );

  it('takes the tailnet machine name, not the host name, when helix.toml names none', async () => {
    expect(os.hostname().split('.')[0]).not.toBe('desk-pi');
    const m = mesh();
    expect(m.configTree(0).node).not.toHaveProperty('name');
    m.startNode(0);
    await m.waitForStatus(0, { timeoutMs: 30_000, intervalMs: 200 });
    const v = await waitFor(
      async () => {
        const s = await m.status(0);
        return s.self.name === 'desk-pi' && s.nodes[0]?.name === 'desk-pi' ? s : null;
      },
      { timeoutMs: 15_000, what: 'node0 to call itself desk-pi' },
    );
    // persisted as its setting, so it stays the same across restarts
    await waitFor(
      async () =>
        (await controlCall<SettingsList>(m.info(0).stateDir, '/v1/settings')).settings.find(
          (x) => x.key === `nodes.${v.self.id}.name`,
        )?.value === 'desk-pi',
      { timeoutMs: 10_000, what: 'node0 to hold its name as a setting' },
    );
  }, 90_000);
});
