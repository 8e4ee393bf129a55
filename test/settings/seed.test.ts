/** helix.toml's [lights.rooms] as the initial value of the mesh-wide rooms: written once. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger, type Logger } from '../../node/log.js';
import { SettingsStore, seedRoomsFromConfig } from '../../node/settings/index.js';

let dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  dirs = [];
});

async function store(): Promise<SettingsStore> {
  const dir = await mkdtemp(path.join(tmpdir(), 'helix-seed-'));
  dirs.push(dir);
  const s = new SettingsStore({ stateDir: dir, selfId: 'node-a', logger: silentLogger });
  await s.start();
  return s;
}

const capture = () => {
  const lines: { level: string; fields: unknown; msg: string }[] = [];
  const at = (level: string) => (fields: unknown, msg: string) =>
    lines.push({ level, fields, msg });
  return { lines, logger: { info: at('info'), warn: at('warn') } as unknown as Logger };
};

describe('seedRoomsFromConfig', () => {
  it('writes the rooms of helix.toml into an empty store, with a line saying where they went', async () => {
    const s = await store();
    const { lines, logger } = capture();
    const rooms = { kitchen: ['kitchen_ceiling'], 'living room': ['sofa_lamp', 'tv_strip'] };
    expect(seedRoomsFromConfig(s, rooms, logger)).toEqual(['kitchen', 'living room']);
    expect(s.get('rooms.kitchen')).toEqual({ lights: ['kitchen_ceiling'] });
    expect(s.get('rooms.living room')).toEqual({ lights: ['sofa_lamp', 'tv_strip'] });
    expect(lines).toEqual([
      {
        level: 'info',
        fields: { rooms: ['kitchen', 'living room'] },
        msg: 'rooms taken from helix.toml [lights.rooms]; they are now mesh settings: `helix-node rooms`',
      },
    ]);
  });

  it('leaves a store that holds any room alone, a deleted one included', async () => {
    const s = await store();
    s.set('rooms.study', { lights: ['desk_lamp'] });
    const { lines, logger } = capture();
    expect(seedRoomsFromConfig(s, { kitchen: ['k'] }, logger)).toEqual([]);
    expect(s.get('rooms.kitchen')).toBeUndefined();
    s.delete('rooms.study');
    expect(seedRoomsFromConfig(s, { kitchen: ['k'] }, logger)).toEqual([]);
    expect(s.get('rooms.kitchen')).toBeUndefined();
    expect(lines).toEqual([]);
  });

  it('skips a room whose name the setting does not allow, with a warning naming it', async () => {
    const s = await store();
    const { lines, logger } = capture();
    expect(seedRoomsFromConfig(s, { Kitchen: ['k'], hall: ['h'] }, logger)).toEqual(['hall']);
    expect(lines[0]).toMatchObject({ level: 'warn', fields: { room: 'Kitchen' } });
    expect(lines[1]).toMatchObject({ level: 'info', fields: { rooms: ['hall'] } });
  });

  it('does nothing without [lights.rooms]', async () => {
    const s = await store();
    const { lines, logger } = capture();
    expect(seedRoomsFromConfig(s, {}, logger)).toEqual([]);
    expect(s.entries()).toEqual([]);
    expect(lines).toEqual([]);
  });
});
