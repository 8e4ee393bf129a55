/**
 * `helix-node settings|rooms|node room` as a user runs them: the CLI in a child process talks to
 * a real ControlServer with the real settings routes over a real SettingsStore (no bus: this is
 * one node; replication is test/mesh/settings.test.ts's), and a status route with two nodes.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlServer, controlSocketPath, statusReport } from '../../node/control/index.js';
import { addNodeRoutes, addSettingsRoutes } from '../../node/control/routes/index.js';
import { silentLogger } from '../../node/log.js';
import { NodeNames, REDACTED, SettingsStore } from '../../node/settings/index.js';
import { peerView } from '../pipeline/support/mesh.js';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'node/cli/main.ts', ...args, '--state-dir', stateDir],
      { cwd: repoRoot, env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const DESK = 'id-12D3KooWdesk0001';
const PI = 'id-12D3KooWpi000002';
let stateDir: string;
let store: SettingsStore;
let control: ControlServer;

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'helix-cli-settings-'));
  store = new SettingsStore({ stateDir, selfId: DESK, logger: silentLogger });
  await store.start();
  control = new ControlServer(controlSocketPath(stateDir), silentLogger);
  const view = [
    { ...peerView({ name: 'desk', host: '100.64.0.10', port: 7700, self: true }), id: DESK },
    { ...peerView({ name: 'pi', host: '100.64.0.11', port: 7700 }), id: PI },
  ];
  control.route('GET', '/v1/status', async () =>
    statusReport({
      self: { id: DESK, shortId: DESK.slice(-8), name: 'desk' },
      meshId: 'mesh-test',
      version: '0.1.0',
      address: '100.64.0.10',
      startedAt: Date.now(),
      tailnet: { kind: 'disabled' },
      routes: [],
      natsRestarts: 0,
      drops: {},
      view,
    }),
  );
  addSettingsRoutes(control, store);
  // not started: no claim is written, so the other tests' settings lists stay as they are
  const names = new NodeNames({
    store,
    selfId: DESK,
    wish: () => 'desk',
    peers: () => [{ id: PI, name: 'pi' }],
    onName: () => undefined,
    logger: silentLogger,
  });
  addNodeRoutes(control, names);
  await control.start();
});

afterAll(async () => {
  await control?.stop();
  await store?.stop();
  await rm(stateDir, { recursive: true, force: true });
});

describe('helix-node settings', () => {
  it('set parses JSON when it parses, else takes the text; get and list show it', async () => {
    const set = await cli(['settings', 'set', 'lights.backend', 'home_assistant']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toBe('lights.backend = home_assistant\n');
    expect(store.get('lights.backend')).toBe('home_assistant');

    const json = await cli(['settings', 'set', 'rooms.study', '{"lights":["desk_lamp"]}']);
    expect(json.code, json.stderr).toBe(0);
    expect(store.get('rooms.study')).toEqual({ lights: ['desk_lamp'] });

    const get = await cli(['settings', 'get', 'lights.backend']);
    expect(get).toMatchObject({ code: 0, stdout: 'home_assistant\n' });
    const getJson = await cli(['settings', 'get', 'rooms.study', '--json']);
    expect(JSON.parse(getJson.stdout)).toMatchObject({
      key: 'rooms.study',
      set: true,
      secret: false,
      value: { lights: ['desk_lamp'] },
      writer: DESK,
    });

    const list = await cli(['settings', 'list']);
    expect(list.code, list.stderr).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^KEY\s+VALUE\s+BY\s+WRITTEN$/);
    expect(list.stdout).toMatch(/^lights\.backend\s+home_assistant\s+desk0001\s+\d{4}-/m);
    expect(list.stdout).toMatch(/^rooms\.study\s+\{"lights":\["desk_lamp"\]\}\s+desk0001/m);
  });

  it('never shows a secret: list, get and set print "••• set"', async () => {
    const set = await cli(['settings', 'set', 'mqtt.password', 'hunter2', '--json']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).not.toContain('hunter2');
    expect(JSON.parse(set.stdout)).toMatchObject({ value: REDACTED, secret: true });
    expect(store.get('mqtt.password')).toBe('hunter2');
    for (const args of [
      ['settings', 'list'],
      ['settings', 'list', '--json'],
      ['settings', 'get', 'mqtt.password'],
    ]) {
      const r = await cli(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(REDACTED);
      expect(r.stdout).not.toContain('hunter2');
    }
  });

  it('an unknown key or a value not allowed exits 64 with the store’s message', async () => {
    const unknown = await cli(['settings', 'set', 'lights.colour', 'red']);
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toMatch(/unknown setting "lights\.colour"; the settings are: rooms/);
    const invalid = await cli(['settings', 'set', 'lights.backend', 'x10']);
    expect(invalid.code).toBe(64);
    expect(invalid.stderr).toMatch(
      /setting lights\.backend = "x10" is invalid; allowed: zigbee2mqtt/,
    );
    const get = await cli(['settings', 'get', 'nope', '--json']);
    expect(get.code).toBe(64);
    expect(JSON.parse(get.stdout).error.message).toMatch(/unknown setting "nope"/);
  });

  it('delete removes a key, and says when it was not set', async () => {
    await cli(['settings', 'set', 'lights.preferred', 'zigbee2mqtt']);
    const del = await cli(['settings', 'delete', 'lights.preferred']);
    expect(del).toMatchObject({ code: 0, stdout: 'deleted lights.preferred\n' });
    expect(store.get('lights.preferred')).toBeUndefined();
    const again = await cli(['settings', 'delete', 'lights.preferred', '--json']);
    expect(JSON.parse(again.stdout)).toEqual({ key: 'lights.preferred', deleted: false });
    const get = await cli(['settings', 'get', 'lights.preferred', '--json']);
    expect(JSON.parse(get.stdout)).toMatchObject({ set: false, value: null });
  });
});

describe('helix-node rooms and node room', () => {
  it('rooms set, node room by name and by short id, rooms lists lights and nodes', async () => {
    const set = await cli([
      'rooms',
      'set',
      'kitchen',
      '--lights',
      'kitchen_ceiling, kitchen_counter',
    ]);
    expect(set).toMatchObject({ code: 0, stdout: 'kitchen: kitchen_ceiling, kitchen_counter\n' });
    expect(store.get('rooms.kitchen')).toEqual({ lights: ['kitchen_ceiling', 'kitchen_counter'] });

    const byName = await cli(['node', 'room', 'pi', 'kitchen']);
    expect(byName).toMatchObject({ code: 0, stdout: 'pi (pi000002) is in kitchen\n' });
    expect(store.get(`nodes.${PI}.room`)).toBe('kitchen');
    const byShortId = await cli(['node', 'room', 'desk0001', 'living room']);
    expect(byShortId.code, byShortId.stderr).toBe(0);
    expect(byShortId.stderr).toMatch(/room living room has no lights yet/);

    const rooms = await cli(['rooms']);
    expect(rooms.code, rooms.stderr).toBe(0);
    expect(rooms.stdout.split('\n')).toEqual([
      'ROOM         LIGHTS                            FROM      NODES',
      'kitchen      kitchen_ceiling, kitchen_counter  settings  pi',
      'living room  (no lights set)                   -         desk',
      'study        desk_lamp                         settings  -',
      '',
    ]);
    const json = await cli(['rooms', '--json']);
    const typed = (friendly: string) => ({
      id: `zigbee2mqtt:name/${friendly}`,
      name: friendly.replace(/_/g, ' '),
      backend: 'zigbee2mqtt',
      dims: true,
      address: friendly,
    });
    expect(JSON.parse(json.stdout)).toEqual({
      schema: 'helix.rooms/v1',
      rooms: [
        {
          name: 'kitchen',
          source: 'settings',
          lights: ['kitchen_ceiling', 'kitchen_counter'],
          details: [typed('kitchen_ceiling'), typed('kitchen_counter')],
          nodes: [{ id: PI, shortId: 'pi000002', name: 'pi' }],
        },
        {
          name: 'living room',
          source: null,
          lights: null,
          details: [],
          nodes: [{ id: DESK, shortId: 'desk0001', name: 'desk' }],
        },
        {
          name: 'study',
          source: 'settings',
          lights: ['desk_lamp'],
          details: [typed('desk_lamp')],
          nodes: [],
        },
      ],
    });
  });

  it('rooms rm removes a room; bad names and unknown nodes exit 64', async () => {
    const rm = await cli(['rooms', 'rm', 'study']);
    expect(rm).toMatchObject({ code: 0, stdout: 'removed study\n' });
    expect(store.get('rooms.study')).toBeUndefined();
    const bad = await cli(['rooms', 'set', 'Kitchen!', '--lights', 'x']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toMatch(/rooms\.Kitchen!/);
    const who = await cli(['node', 'room', 'attic', 'kitchen']);
    expect(who.code).toBe(64);
    expect(who.stderr).toMatch(
      /no node "attic" in the mesh; the nodes are: desk \(desk0001\), pi \(pi000002\)/,
    );
    const noLights = await cli(['rooms', 'set', 'hall']);
    expect(noLights.code).toBe(64);
  });

  it('node rename renames this node or another, and refuses a taken name or an unknown node', async () => {
    const self = await cli(['node', 'rename', 'study']);
    expect(self).toMatchObject({ code: 0, stdout: 'desk (desk0001) is now study\n' });
    expect(store.get(`nodes.${DESK}.name`)).toBe('study');
    const taken = await cli(['node', 'rename', 'pi', 'Study']);
    expect(taken.code).toBe(64);
    expect(taken.stderr).toMatch(/the name "Study" is taken by node study \(desk0001\)/);
    const other = await cli(['node', 'rename', 'pi000002', 'kitchen', '--json']);
    expect(other.code, other.stderr).toBe(0);
    expect(JSON.parse(other.stdout)).toEqual({
      id: PI,
      shortId: 'pi000002',
      name: 'kitchen',
      previous: 'pi',
    });
    expect(store.get(`nodes.${PI}.name`)).toBe('kitchen');
    const unknown = await cli(['node', 'rename', 'attic', 'x']);
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toMatch(
      /no node "attic" in the mesh; the nodes are: study \(desk0001\), kitchen \(pi000002\)/,
    );
  });
});
