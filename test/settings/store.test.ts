import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { StateError } from '../../node/errors.js';
import { silentLogger } from '../../node/log.js';
import {
  InvalidSettingError,
  REDACTED,
  SETTINGS_FILE,
  SettingsStore,
  type SettingsChange,
} from '../../node/settings/index.js';
import { canMount, mountTinyFs } from '../support/tmpfs.js';

let dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  dirs = [];
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'helix-settings-'));
  dirs.push(d);
  return d;
}

async function started(
  stateDir: string,
  opts: Partial<ConstructorParameters<typeof SettingsStore>[0]> = {},
) {
  const store = new SettingsStore({ stateDir, selfId: 'node-a', logger: silentLogger, ...opts });
  await store.start();
  return store;
}

describe('settings store', () => {
  it('keeps every setting, tombstones and clocks across a restart, in a 0600 file', async () => {
    const dir = await tempDir();
    const a = await started(dir);
    a.set('rooms.kitchen', { lights: ['kitchen_ceiling'] });
    a.set('lights.backend', 'both');
    a.set('mqtt.password', 'hunter2');
    a.set('rooms.attic', { lights: [] });
    a.delete('rooms.attic');
    const before = a.entries();
    await a.stop();

    const b = await started(dir);
    expect(b.entries()).toEqual(before);
    expect(b.get('mqtt.password')).toBe('hunter2');
    expect(b.get('rooms.attic')).toBeUndefined();
    expect(b.entry('rooms.attic')?.deleted).toBe(true);
    const mode = (await stat(path.join(dir, SETTINGS_FILE))).mode & 0o777;
    expect(mode).toBe(0o600);
  });

  it('stamps a write after a restart later than every write before it, even with the clock set back', async () => {
    const dir = await tempDir();
    const a = await started(dir, { clock: () => 1_000_000 });
    const first = a.set('lights.backend', 'zigbee2mqtt');
    await a.stop();
    const b = await started(dir, { clock: () => 5 }); // wall clock far in the past
    const second = b.set('lights.backend', 'home_assistant');
    expect(second.hlc.wall).toBe(first.hlc.wall);
    expect(second.hlc.logical).toBeGreaterThan(first.hlc.logical);
    expect(b.get('lights.backend')).toBe('home_assistant');
  });

  it('tells listeners which keys changed and where the change came from', async () => {
    const store = await started(await tempDir());
    const changes: SettingsChange[] = [];
    store.onChange((c) => changes.push(c));
    store.set('mqtt.username', 'helix');
    store.merge([
      {
        key: 'rooms.study',
        value: { lights: ['lamp'] },
        hlc: { wall: Date.now() + 10_000, logical: 0, node: 'node-b' },
      },
      { key: 'mqtt.username', value: 'old', hlc: { wall: 1, logical: 0, node: 'node-b' } },
    ]);
    store.delete('mqtt.username');
    expect(changes.map((c) => [c.origin, c.keys])).toEqual([
      ['local', ['mqtt.username']],
      ['remote', ['rooms.study']],
      ['local', ['mqtt.username']],
    ]);
  });

  it('saves writes merged from peers in one go, shortly after they arrive', async () => {
    const dir = await tempDir();
    const store = await started(dir);
    const hlc = (i: number) => ({ wall: 1_000 + i, logical: 0, node: 'node-b' });
    for (let i = 0; i < 50; i++)
      store.merge([{ key: `rooms.r${i}`, value: { lights: [] }, hlc: hlc(i) }]);
    await new Promise((r) => setTimeout(r, 300));
    const onDisk = JSON.parse(await readFile(path.join(dir, SETTINGS_FILE), 'utf8')) as {
      entries: unknown[];
    };
    expect(onDisk.entries).toHaveLength(50);
  });

  it('refuses an invalid value and keeps the state as it was', async () => {
    const store = await started(await tempDir());
    store.set('lights.backend', 'zigbee2mqtt');
    expect(() => store.set('lights.backend', 'hue')).toThrow(InvalidSettingError);
    expect(store.get('lights.backend')).toBe('zigbee2mqtt');
  });

  it("keeps peers' writes it cannot use (so states converge), reading them as unset", async () => {
    const store = await started(await tempDir());
    const hlc = { wall: 1, logical: 0, node: 'node-b' };
    const { won, refused } = store.merge([
      { key: 'future.setting', value: 1, hlc },
      { key: 'lights.backend', value: 'hue', hlc }, // a backend of a newer version
      { key: 'bad..key', value: 1, hlc },
    ]);
    expect(won.map((e) => e.key)).toEqual(['future.setting', 'lights.backend']);
    expect(refused.map((e) => e.key)).toEqual(['bad..key']);
    expect(store.get('lights.backend')).toBeUndefined();
    expect(store.settings().lights.backend).toBe('zigbee2mqtt');
    expect(store.list().find((s) => s.key === 'lights.backend')).toMatchObject({
      value: 'hue',
      allowed: false,
    });
    expect(store.get('future.setting')).toBe(1);
  });

  it('redacts secrets in list() and never logs a value', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = pino({ level: 'trace' }, sink);
    const dir = await tempDir();
    const store = await started(dir, { logger });
    store.set('home_assistant.token', 'tok-secret-123');
    store.set('mqtt.password', 'hunter2');
    store.merge([
      {
        key: 'mqtt.password',
        value: 'newer-pw',
        hlc: { wall: Date.now() + 1e6, logical: 0, node: 'b' },
      },
    ]);
    expect(
      store
        .list()
        .filter((s) => s.secret)
        .map((s) => s.value),
    ).toEqual([REDACTED, REDACTED]);
    await store.stop();
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('')).not.toMatch(/tok-secret-123|hunter2|newer-pw/);
  });

  it('names the file and the fix when the file is unreadable', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, SETTINGS_FILE), '{ torn');
    const store = new SettingsStore({ stateDir: dir, selfId: 'node-a', logger: silentLogger });
    await expect(store.start()).rejects.toThrow(
      /settings\.json is unreadable .*move it away and restart/,
    );
  });

  it.skipIf(!canMount)(
    'on a full disk: StateError with the hint, previous file and state kept',
    async () => {
      const fs = mountTinyFs(256);
      try {
        const store = await started(fs.dir);
        store.set('lights.backend', 'both');
        const file = path.join(fs.dir, SETTINGS_FILE);
        const before = await readFile(file, 'utf8');
        fs.fill();
        let err: unknown;
        try {
          store.set('rooms.kitchen', { lights: ['a'.repeat(100)] });
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(StateError);
        expect((err as Error).message).toMatch(/disk is full; free some space/);
        expect(await readFile(file, 'utf8')).toBe(before);
        expect(store.get('rooms.kitchen')).toBeUndefined();
        expect(store.get('lights.backend')).toBe('both');
        // a peer's write is kept in memory (peers resend it) and saved once there is room
        store.merge([
          {
            key: 'rooms.study',
            value: { lights: [] },
            hlc: { wall: Date.now() + 1e6, logical: 0, node: 'b' },
          },
        ]);
        expect(store.get('rooms.study')).toEqual({ lights: [] });
        expect(await readFile(file, 'utf8')).toBe(before);
        await rm(path.join(fs.dir, 'filler'));
        await store.stop();
        const again = await started(fs.dir);
        expect(again.get('rooms.study')).toEqual({ lights: [] });
      } finally {
        fs.unmount();
      }
    },
  );
});
