/**
 * The voice vocabulary follows the mesh settings (issue 9, "Speech follows the house"): a room
 * added to the settings is matched after the rebuild, a removed one is not, a burst of changes
 * is one rebuild, and the STT engine and the LLM router are handed the same slot values.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SlotValues } from '../../node/agentspec/index.js';
import { silentLogger } from '../../node/log.js';
import { Vocabulary } from '../../node/pipeline/vocabulary.js';
import { buildIntentSchema } from '../../node/agentspec/index.js';
import { LlmRouter } from '../../node/router/index.js';
import { overlayMeshSettings, SettingsStore } from '../../node/settings/index.js';
import { CONFIG_LIKE, MANIFESTS } from '../agentspec/fixtures.js';

const dirs: string[] = [];
const vocabularies: Vocabulary[] = [];
afterEach(async () => {
  for (const v of vocabularies.splice(0)) v.stop();
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  vi.useRealTimers();
});

async function store(): Promise<SettingsStore> {
  const d = await mkdtemp(path.join(tmpdir(), 'helix-vocab-'));
  dirs.push(d);
  const s = new SettingsStore({ stateDir: d, selfId: 'node-a', logger: silentLogger });
  await s.start();
  return s;
}

function rebuilt(v: Vocabulary, after: number): Promise<void> {
  return vi.waitFor(() => expect(v.rebuilds).toBeGreaterThan(after), { timeout: 2000 });
}

const NO_FOUND = {
  found: {},
  lights: { backend: 'zigbee2mqtt', preferred: 'zigbee2mqtt' },
} as const;

describe('overlayMeshSettings', () => {
  it('replaces lights.rooms with the mesh rooms and keeps the rest of the tree', () => {
    const config = {
      lights: { rooms: { attic: ['a1'] }, other: 1 },
      mqtt: { url: 'mqtt://broker:1883', base_topic: 'z2m' },
    };
    const out = overlayMeshSettings(config, {
      ...NO_FOUND,
      rooms: { living_room: { lights: ['l1'] }, kitchen: { lights: [] } },
    });
    expect(out.lights.rooms).toEqual({ kitchen: [], 'living room': ['l1'] });
    expect((out.lights as unknown as { other: number }).other).toBe(1);
    expect(out.mqtt).toEqual(config.mqtt);
    expect(config.lights.rooms).toEqual({ attic: ['a1'] });
  });

  it('keeps broker credentials out of the tree agents read their context from', () => {
    const out = overlayMeshSettings(
      { mqtt: { url: 'mqtt://helix:hunter2@broker:1883', password: 'hunter2', base_topic: 'z' } },
      { ...NO_FOUND, rooms: {}, mqtt: { baseTopic: 'zigbee' } },
    );
    expect(out).toMatchObject({ mqtt: { url: 'mqtt://broker:1883', base_topic: 'zigbee' } });
    expect(JSON.stringify(out)).not.toContain('hunter2');
  });

  it('works on a tree without a lights table', () => {
    expect(
      overlayMeshSettings({}, { ...NO_FOUND, rooms: { den: { lights: [] } } }).lights.rooms,
    ).toEqual({ den: [] });
  });
});

describe('Vocabulary', () => {
  it('matches a room added to the settings after the rebuild, and no longer a removed one', async () => {
    const settings = await store();
    settings.set('rooms.kitchen', { lights: ['k1'] });
    const v = new Vocabulary({
      manifests: MANIFESTS,
      config: CONFIG_LIKE,
      settings,
      debounceMs: 20,
    });
    vocabularies.push(v);
    v.start();
    // the mesh's rooms, not helix.toml's (CONFIG_LIKE has living room and bedroom)
    expect(v.slotValues['lights.rooms']).toEqual(['kitchen']);
    expect(v.matcher.match('turn on the living room lights')).toBeNull();
    expect(v.matcher.match('turn on the kitchen lights')?.args).toEqual({ room: 'kitchen' });

    settings.set('rooms.living room', { lights: ['lr1'] });
    await rebuilt(v, 0);
    const hit = v.matcher.match('turn on the living room lights');
    expect(hit?.args).toEqual({ room: 'living room' });
    expect(hit?.intent).toBe('turn_on');

    const before = v.rebuilds;
    settings.delete('rooms.kitchen');
    await rebuilt(v, before);
    expect(v.matcher.match('turn on the kitchen lights')).toBeNull();
    expect(v.slotValues['lights.rooms']).toEqual(['living room']);
  });

  it('rebuilds once for a burst of changes, and not for keys that are not rooms', async () => {
    const settings = await store();
    const onRebuild = vi.fn();
    const v = new Vocabulary({
      manifests: MANIFESTS,
      config: {},
      settings,
      debounceMs: 100,
      onRebuild,
    });
    vocabularies.push(v);
    v.start();
    settings.set('mqtt.username', 'helix');
    for (const room of ['attic', 'cellar', 'den', 'hall', 'study'])
      settings.set(`rooms.${room}`, { lights: [] });
    await rebuilt(v, 0);
    await new Promise((r) => setTimeout(r, 250));
    expect(v.rebuilds).toBe(1);
    expect(onRebuild).toHaveBeenCalledTimes(1);
    expect(onRebuild.mock.calls[0]![0].slotValues['lights.rooms']).toEqual([
      'attic',
      'cellar',
      'den',
      'hall',
      'study',
    ]);
    settings.set('mqtt.username', 'someone');
    await new Promise((r) => setTimeout(r, 200));
    expect(v.rebuilds).toBe(1);
  });

  it('hands the STT engine and the LLM router the same slot values, and the schema follows', async () => {
    const settings = await store();
    settings.set('rooms.kitchen', { lights: [] });
    const seen: SlotValues[] = [];
    const stt = { setSlotValues: (s: SlotValues) => void seen.push(s) };
    const llm = new LlmRouter({
      api: {} as never,
      model: 'm',
      manifests: MANIFESTS,
      slotValues: {},
    });
    const v = new Vocabulary({
      manifests: MANIFESTS,
      config: {},
      settings,
      users: [stt, llm, null],
      debounceMs: 10,
    });
    vocabularies.push(v);
    v.start();
    expect(seen.at(-1)).toBe(v.slotValues);
    expect(llm.schema).toEqual(buildIntentSchema(MANIFESTS, { 'lights.rooms': ['kitchen'] }));
    settings.set('rooms.living room', { lights: [] });
    await rebuilt(v, 0);
    expect(seen).toHaveLength(2);
    expect(seen.at(-1)).toEqual({ 'lights.rooms': ['kitchen', 'living room'] });
    expect(llm.schema).toEqual(
      buildIntentSchema(MANIFESTS, { 'lights.rooms': ['kitchen', 'living room'] }),
    );
    expect(llm.systemPrompt).toContain('living room');
  });

  it('keeps helix.toml when there are no mesh settings', () => {
    const v = new Vocabulary({ manifests: MANIFESTS, config: CONFIG_LIKE });
    expect(v.slotValues['lights.rooms']).toEqual(['kitchen', 'living room', 'bedroom']);
    expect(v.matcher.phraseCount).toBeGreaterThan(0);
  });
});
