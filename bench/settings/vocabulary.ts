/**
 * The speech vocabulary follows the house (issue 9, "Speech follows the house"): how long from a
 * settings write until the fast matcher, the phrase grammar and the LLM schema are rebuilt. Not a
 * test: it prints figures and asserts nothing. Runs in one process, no root, no network; the
 * phrase recogniser is used when Debian's pocketsphinx dictionary is installed.
 *
 *   npx tsx bench/settings/vocabulary.ts                   # 10, 100 and 300 rooms, 20 changes
 *   npx tsx bench/settings/vocabulary.ts --rooms 50 --changes 40 --json
 *
 * The shipped agents' manifests (agents/*\/agent.toml), a SettingsStore in a temporary state dir
 * holding N rooms of 2 lights each, and a Vocabulary over it with the daemon's users (the LLM
 * router, and the phrase recogniser when available) and its default debounce. Each change is
 * one write, and the next starts after the rebuild it caused:
 *  - rooms: store.set('rooms.<new room>', {lights: [2 names]}) (`helix-node rooms set`); the
 *    house grows from N+1 to N+changes rooms;
 *  - found: store.set('home.found.zigbee2mqtt', …) with N groups and 2N lights, one group renamed
 *    per change (what zigbee2mqtt discovery writes when a group is renamed); no rooms.* keys.
 * Figures, p50 / p95 over the changes:
 *  - write->rebuilt: from just before store.set() until the Vocabulary's onRebuild (the goal:
 *    <= 1 s); it includes set() itself (validate + fsync'd save) and the debounce;
 *  - set(): the write alone;
 *  - rebuild: the rebuild as onRebuild reports it (overlay + slot resolution, fast matcher, every
 *    user's setSlotValues), with the phrase grammar's and the LLM schema's shares timed apart.
 * Baseline: compileFastMatcher alone on the same slot values, timed after each rebuild; the
 * ratio is rebuild / baseline (p50).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import {
  compileFastMatcher,
  type AgentManifest,
  type SlotValues,
} from '../../node/agentspec/index.js';
import { loadAgents } from '../../node/agents/index.js';
import type { FoundHome } from '../../node/home/index.js';
import { silentLogger } from '../../node/log.js';
import { Vocabulary, type SlotValuesUser } from '../../node/pipeline/vocabulary.js';
import { LlmRouter } from '../../node/router/index.js';
import { SettingsStore } from '../../node/settings/index.js';
import { DEBIAN_MODEL_DIR } from '../../node/stt/pocketsphinx.js';
import { PhraseRecogniser } from '../../node/stt/index.js';
import { repoRoot } from '../../test/voice/shared-data.js';

const { values } = parseArgs({
  options: {
    rooms: { type: 'string', default: '10,100,300' },
    changes: { type: 'string', default: '20' },
    json: { type: 'boolean', default: false },
  },
});
const sizes = values.rooms.split(',').map(Number);
const changes = Number(values.changes);
const GOAL_MS = 1000;
/** the Vocabulary's default, which the daemon (pipeline/service.ts) uses */
const DEBOUNCE_MS = 100;

function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}
const ms = (x: number) => (Number.isFinite(x) ? (x < 10 ? x.toFixed(2) : x.toFixed(1)) : '-');
const pp = (xs: readonly number[]) => (xs.length ? `${ms(pct(xs, 50))} / ${ms(pct(xs, 95))}` : '-');

// Room names of real words, so the phrase grammar keeps them (words missing from the
// pronunciation dictionary leave a value out of the grammar).
const ADJECTIVES = [
  'north',
  'south',
  'east',
  'west',
  'upper',
  'lower',
  'front',
  'back',
  'blue',
  'green',
  'red',
  'yellow',
  'white',
  'black',
  'small',
  'big',
  'old',
  'new',
  'guest',
  'main',
];
const NOUNS = [
  'kitchen',
  'bedroom',
  'bathroom',
  'office',
  'hall',
  'study',
  'den',
  'attic',
  'cellar',
  'garage',
  'library',
  'pantry',
  'porch',
  'nursery',
  'lounge',
  'studio',
  'playroom',
  'workshop',
];
const roomName = (i: number): string => {
  if (i >= ADJECTIVES.length * NOUNS.length)
    throw new Error(`only ${ADJECTIVES.length * NOUNS.length} room names`);
  return `${ADJECTIVES[i % ADJECTIVES.length]!} ${NOUNS[Math.floor(i / ADJECTIVES.length)]!}`;
};
const names = (n: number): string[] => Array.from({ length: n }, (_, i) => roomName(i));
const lightsOf = (room: string): string[] => [`${room} lamp`, `${room} ceiling`];

/** A zigbee2mqtt found home as discovery builds it (parse.ts): one group per room, 2 lights each. */
function foundHome(rooms: readonly string[]): FoundHome {
  let device = 0;
  return {
    rooms: rooms.map((r) => ({ key: r, name: r })),
    lights: rooms.flatMap((room) =>
      lightsOf(room).map((name) => {
        const ieee = `0x${(0x0017880104e40000 + device++).toString(16).padStart(16, '0')}`;
        return {
          id: `zigbee2mqtt:${ieee}`,
          name,
          room,
          backend: 'zigbee2mqtt' as const,
          features: {
            onOff: true,
            brightness: { min: 0, max: 254, unit: 'raw' as const },
            colorTemp: false,
          },
          address: {
            kind: 'zigbee2mqtt' as const,
            friendlyName: name,
            stateProperty: 'state',
            valueOn: 'ON',
            valueOff: 'OFF',
            brightnessProperty: 'brightness',
          },
        };
      }),
    ),
  };
}

interface Row {
  rooms: number;
  source: 'rooms' | 'found';
  phrase: boolean;
  /** set() to onRebuild, ms */
  total: number[];
  set: number[];
  rebuild: number[];
  phraseMs: number[];
  llmMs: number[];
  baseline: number[];
  /** slot values at the last rebuild */
  slots: Record<string, number>;
  grammarPhrases: number | null;
  matcherPhrases: number;
  /** the last change's room is understood by the matcher (and the grammar, when measured) */
  heard: boolean;
  note?: string;
}

/** Times each setSlotValues of a user, keeping what the Vocabulary hands it. */
function timed(user: SlotValuesUser, into: number[]): SlotValuesUser {
  return {
    setSlotValues(s: SlotValues) {
      const t0 = performance.now();
      user.setSlotValues?.(s);
      into.push(performance.now() - t0);
    },
  };
}

async function run(
  manifests: readonly AgentManifest[],
  recogniser: PhraseRecogniser | null,
  rooms: number,
  source: Row['source'],
): Promise<Row> {
  const dir = await mkdtemp(path.join(tmpdir(), 'helix-bench-vocab-'));
  const row: Row = {
    rooms,
    source,
    phrase: recogniser !== null,
    total: [],
    set: [],
    rebuild: [],
    phraseMs: [],
    llmMs: [],
    baseline: [],
    slots: {},
    grammarPhrases: null,
    matcherPhrases: 0,
    heard: false,
  };
  let vocabulary: Vocabulary | null = null;
  try {
    const store = new SettingsStore({ stateDir: dir, selfId: 'bench', logger: silentLogger });
    await store.start();
    const initial = names(rooms);
    const extra = (i: number) => roomName(rooms + i);
    // the house before the first change, written before the Vocabulary follows the store
    if (source === 'rooms')
      for (const r of initial) store.set(`rooms.${r}`, { lights: lightsOf(r) });
    else store.set('home.found.zigbee2mqtt', foundHome(initial));

    const llm = new LlmRouter({ api: {} as never, model: 'bench', manifests, slotValues: {} });
    const phraseMs: number[] = [];
    const llmMs: number[] = [];
    let rebuilt: ((info: { ms: number; slotValues: SlotValues }) => void) | null = null;
    vocabulary = new Vocabulary({
      manifests,
      config: {},
      settings: store,
      users: [timed(llm, llmMs), recogniser ? timed(recogniser, phraseMs) : null],
      onRebuild: (info) => rebuilt?.(info),
    });
    vocabulary.start();
    phraseMs.length = 0;
    llmMs.length = 0;

    let last: SlotValues = vocabulary.slotValues;
    for (let i = 0; i < changes; i++) {
      // a rebuild that fails is logged and never reported: give up on the row after 10 s
      const done = new Promise<{ at: number; ms: number; slotValues: SlotValues }>(
        (resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no rebuild within 10 s')), 10_000);
          rebuilt = (info) => {
            clearTimeout(timer);
            resolve({ at: performance.now(), ...info });
          };
        },
      );
      const t0 = performance.now();
      if (source === 'rooms') {
        const r = extra(i);
        store.set(`rooms.${r}`, { lights: lightsOf(r) });
      } else {
        // group i renamed in zigbee2mqtt: discovery writes the whole found home again
        const now = initial.map((r, j) => (j === i % rooms ? extra(i) : r));
        store.set('home.found.zigbee2mqtt', foundHome(now));
      }
      row.set.push(performance.now() - t0);
      const info = await done;
      rebuilt = null;
      row.total.push(info.at - t0);
      row.rebuild.push(info.ms);
      last = info.slotValues;
      const b0 = performance.now();
      const matcher = compileFastMatcher(manifests, info.slotValues);
      row.baseline.push(performance.now() - b0);
      row.matcherPhrases = matcher.phraseCount;
    }
    row.phraseMs = phraseMs;
    row.llmMs = llmMs;
    row.slots = Object.fromEntries(Object.entries(last).map(([k, v]) => [k, v.length]));
    row.grammarPhrases = recogniser ? recogniser.grammar.phraseCount : null;
    const said = `turn on the ${extra(changes - 1)} lights`;
    row.heard =
      vocabulary.matcher.match(said)?.args.room === extra(changes - 1) &&
      (!recogniser || recogniser.grammar.interpret(said)?.args.room === extra(changes - 1));
  } catch (err) {
    row.note = err instanceof Error ? err.message : String(err);
    if (source === 'found') {
      const kib = JSON.stringify(foundHome(names(rooms))).length / 1024;
      row.note += ` (this found home: ${2 * rooms} lights, ${kib.toFixed(0)} KiB of JSON)`;
    }
  } finally {
    vocabulary?.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return row;
}

// The Vocabulary's debounce timer is unref'd (it never holds the daemon open); this keeps the
// process alive while a change waits for its rebuild.
const keepAlive = setInterval(() => {}, 60_000);
const manifests = (await loadAgents([path.join(repoRoot, 'agents')])).map((a) => a.manifest);
const dict = path.join(DEBIAN_MODEL_DIR, 'cmudict-en-us.dict');
const recogniser = existsSync(dict) ? await PhraseRecogniser.create({ manifests }) : null;

const rows: Row[] = [];
for (const n of sizes) {
  for (const source of ['rooms', 'found'] as const) {
    rows.push(await run(manifests, null, n, source));
    if (recogniser) rows.push(await run(manifests, recogniser, n, source));
  }
}
await recogniser?.close();
clearInterval(keepAlive);

if (values.json) {
  console.log(JSON.stringify({ debounceMs: DEBOUNCE_MS, goalMs: GOAL_MS, changes, rows }));
} else {
  console.log(
    `agents: ${manifests.map((m) => `${m.name} (${m.tier})`).join(', ')}; ${changes} changes per row; debounce ${DEBOUNCE_MS} ms (the daemon's)`,
  );
  if (!recogniser)
    console.log(
      `phrase recogniser: not measured (${dict} missing: apt-get install pocketsphinx-en-us)`,
    );
  console.log(
    'rooms: one room added per change (N+1 .. N+changes rooms); found: home.found.zigbee2mqtt rewritten with one group renamed',
  );
  console.log('times in ms, p50 / p95; ratio = rebuild / compileFastMatcher alone (p50)\n');
  const head = [
    'rooms',
    'change',
    'users',
    'write->rebuilt',
    'set()',
    'rebuild',
    'of it: grammar',
    'of it: LLM',
    'baseline',
    'ratio',
    'slots rooms/lights',
    'new room heard',
    'phrases',
  ];
  const table = rows.map((r) =>
    r.note
      ? [String(r.rooms), r.source, r.phrase ? 'llm+phrase' : 'llm', `failed: ${r.note}`]
      : [
          String(r.rooms),
          r.source,
          r.phrase ? 'llm+phrase' : 'llm',
          pp(r.total),
          pp(r.set),
          pp(r.rebuild),
          r.phrase ? pp(r.phraseMs) : '-',
          pp(r.llmMs),
          pp(r.baseline),
          `${(pct(r.rebuild, 50) / pct(r.baseline, 50)).toFixed(1)}x`,
          `${r.slots['lights.rooms'] ?? 0}/${r.slots['home.lights'] ?? 0}`,
          r.heard ? 'yes' : 'NO',
          `${r.matcherPhrases}${r.grammarPhrases !== null ? ` (grammar ${r.grammarPhrases})` : ''}`,
        ],
  );
  const widths = head.map((h, i) =>
    Math.max(h.length, ...table.map((t) => (t.length > 4 || i < 3 ? (t[i] ?? '').length : 0))),
  );
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  console.log(line(head));
  for (const t of table) console.log(line(t));
  const worst = Math.max(...rows.filter((r) => !r.note).map((r) => pct(r.total, 95)));
  console.log(
    `\ngoal: <= ${GOAL_MS} ms from write to rebuilt grammar; worst p95 here ${ms(worst)} ms (${worst <= GOAL_MS ? 'within' : 'OVER'} the goal), of which ${DEBOUNCE_MS} ms is the debounce`,
  );
}
