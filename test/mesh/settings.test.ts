/**
 * Mesh-wide settings on two real daemons (issue 9, first slice): node0's helix.toml
 * [lights.rooms] becomes the mesh's initial rooms; `helix-node rooms set` on node0 reaches node1
 * within 2 s; node1 keeps it across a restart (from its own settings.json).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { controlCall, type SettingsList } from '../../node/control/index.js';
import { useMeshHarness } from '../harness/vitest.js';
import { waitFor } from '../support/wait.js';
import { daemonMesh, meshAvailable, secs, startMesh } from './helpers.js';

interface Rooms {
  rooms: { name: string; lights: string[] | null }[];
}

describe.skipIf(!meshAvailable)('mesh-wide rooms on two nodes', () => {
  const mesh = useMeshHarness(
    () =>
      daemonMesh({
        nodes: 2,
        subnet: '100.64.71',
        node: (i) => (i === 0 ? { config: { lights: { rooms: { hall: ['hall_lamp'] } } } } : {}),
      }),
    { tailLines: 40 },
  );

  const rooms = async (i: number): Promise<Rooms> => {
    const r = await mesh().cli(i, ['rooms', '--json'], { timeoutMs: 20_000 });
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Rooms;
  };
  const lightsOf = (r: Rooms, room: string) => r.rooms.find((x) => x.name === room)?.lights;
  /** node i's settings straight from its control socket (cheap enough to poll every 20 ms) */
  const held = async (i: number, key: string) =>
    (await controlCall<SettingsList>(mesh().info(i).stateDir, '/v1/settings')).settings.find(
      (s) => s.key === key,
    );

  it('seeds from helix.toml, spreads a room set on node0 to node1 within 2 s, keeps it across node1’s restart', async () => {
    await startMesh(mesh(), [0, 1], { timeoutMs: 30_000 });
    await mesh().waitForConvergence({ timeoutMs: 30_000, intervalMs: 200 });

    // node0 had no rooms in its store: helix.toml's are now mesh settings, with a line saying so
    expect(mesh().log(0)).toMatch(/rooms taken from helix\.toml \[lights\.rooms\]/);
    expect(mesh().log(1)).not.toMatch(/rooms taken from helix\.toml/);
    await waitFor(async () => (await held(1, 'rooms.hall')) !== undefined, {
      timeoutMs: 5000,
      what: 'node1 to hold the room seeded on node0',
    });

    // node1 is polled from before the command runs; the write's own time (wall ms of node0's
    // clock, the same machine clock in every namespace) to node1 holding it is the spread
    const seen = waitFor(
      async () => {
        const e = await held(1, 'rooms.kitchen');
        return e ? { writtenAt: e.writtenAt, seenAt: Date.now() } : null;
      },
      { timeoutMs: 30_000, intervalMs: 20, what: 'node1 to hold rooms.kitchen' },
    );
    const set = await mesh().cli(0, ['rooms', 'set', 'kitchen', '--lights', 'kitchen_ceiling'], {
      timeoutMs: 20_000,
    });
    expect(set.code, set.stderr).toBe(0);
    const { writtenAt, seenAt } = await seen;
    const spreadMs = seenAt - writtenAt;
    console.log(`[mesh] rooms.kitchen written on node0, held by node1 ${secs(spreadMs)} later`);
    expect(spreadMs).toBeLessThan(2000);
    const onB = await waitFor(
      async () => {
        const r = await rooms(1);
        return lightsOf(r, 'kitchen') ? r : null;
      },
      { timeoutMs: 5000, what: '`helix-node rooms --json` on node1 to show kitchen' },
    );
    expect(lightsOf(onB, 'kitchen')).toEqual(['kitchen_ceiling']);
    expect(lightsOf(onB, 'hall')).toEqual(['hall_lamp']);

    // node1 restarts: the room comes back from its own file, not only from node0
    const stopped = await mesh().stopNode(1);
    expect(stopped.code).toBe(0);
    const file = readFileSync(path.join(mesh().info(1).stateDir, 'settings.json'), 'utf8');
    expect(file).toContain('rooms.kitchen');
    mesh().startNode(1);
    await mesh().waitForStatus(1, { timeoutMs: 30_000, intervalMs: 200 });
    const after = await rooms(1);
    expect(lightsOf(after, 'kitchen')).toEqual(['kitchen_ceiling']);
    // and a restart does not seed again (node1 has no [lights.rooms]; node0's store is not empty)
    expect(mesh().log(1)).not.toMatch(/rooms taken from helix\.toml/);
  }, 120_000);
});
