/**
 * Fast-matcher throughput (the shipped agents' grammars; the test fixtures when agents/ is absent): matches per second and microseconds per match on a mixed set of
 * transcripts (grammar hits, near misses, free-form requests for the LLM), against a baseline
 * measured in the same run: one plain RegExp per phrase (the phrase grammar turned into a
 * regular expression, no normalisation or argument checks), tested until the first hit.
 *
 *   npx tsx bench/router/matcher.ts [--seconds 2] [--json]
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadAgents } from '../../node/agents/index.js';
import {
  type AgentManifest,
  compileFastMatcher,
  parsePhrase,
  resolveSlotValues,
  samplePhrases,
  type PhraseNode,
  type SlotValues,
} from '../../node/agentspec/index.js';
import { MANIFESTS, SLOT_VALUES } from '../../test/agentspec/fixtures.js';

const NEAR_MISSES = [
  'turn on the kitchen',
  'turn on the garage lights',
  'turn on the kitchen lights now',
  'set the kitchen lights to 150 percent',
  'set a timer for some minutes',
  'lights',
];
const FREE_FORM = [
  'what is the weather going to be like tomorrow',
  'could you make it a bit cosier in here',
  'tell me a joke about penguins',
  'how long do I boil an egg for',
];

function escape(word: string): string {
  return word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The phrase as a plain regular expression over lower-cased text. */
function phraseRegExp(nodes: readonly PhraseNode[]): string {
  return nodes
    .map((n) => {
      if (n.kind === 'word') return `${escape(n.word)} `;
      if (n.kind === 'slot') return '(.+?) ';
      const body = n.options.map(phraseRegExp).join('|');
      return n.optional ? `(?:${body})?` : `(?:${body})`;
    })
    .join('');
}

interface Timing {
  perSecond: number;
  meanUs: number;
  p50Us: number;
  p99Us: number;
}

function measure(texts: readonly string[], fn: (t: string) => unknown, seconds: number): Timing {
  for (let i = 0; i < 2000; i++) fn(texts[i % texts.length] as string); // warm-up (JIT)
  const samples: number[] = [];
  let calls = 0;
  const start = process.hrtime.bigint();
  const stop = start + BigInt(Math.round(seconds * 1e9));
  let now = start;
  while (now < stop) {
    for (const t of texts) {
      const t0 = process.hrtime.bigint();
      fn(t);
      const t1 = process.hrtime.bigint();
      samples.push(Number(t1 - t0) / 1000);
      calls += 1;
      now = t1;
    }
  }
  // Throughput without per-call clock reads.
  const loops = Math.max(1, Math.floor(calls / texts.length));
  const b0 = process.hrtime.bigint();
  for (let i = 0; i < loops; i++) for (const t of texts) fn(t);
  const elapsedUs = Number(process.hrtime.bigint() - b0) / 1000;
  samples.sort((a, b) => a - b);
  const meanUs = elapsedUs / (loops * texts.length);
  return {
    perSecond: 1e6 / meanUs,
    meanUs,
    p50Us: samples[Math.floor(samples.length * 0.5)] ?? 0,
    p99Us: samples[Math.floor(samples.length * 0.99)] ?? 0,
  };
}

export async function benchMatcher(seconds = 2): Promise<Record<string, unknown>> {
  let manifests: AgentManifest[] = MANIFESTS;
  let slotValues: SlotValues = SLOT_VALUES;
  let source = 'test fixtures';
  const agentsDir = path.resolve('agents');
  if (existsSync(agentsDir)) {
    manifests = (await loadAgents([agentsDir])).map((a) => a.manifest);
    slotValues = resolveSlotValues(manifests, {
      lights: { rooms: { kitchen: [], 'living room': [], bedroom: [] } },
    });
    source = 'agents/';
  }
  const matcher = compileFastMatcher(manifests, slotValues);
  const hits = samplePhrases(manifests, slotValues, { perPhrase: 6 }).map((s) => s.text);
  const texts = [...hits, ...NEAR_MISSES, ...FREE_FORM];

  const regexps = manifests
    .filter((m) => m.tier === 'warm')
    .flatMap((m) => m.intents.flatMap((i) => i.phrases))
    .map((p) => new RegExp(`^${phraseRegExp(parsePhrase(p))}$`));
  const regexTest = (t: string) => {
    const s = `${t.toLowerCase()} `;
    for (const r of regexps) if (r.test(s)) return true;
    return false;
  };

  const matched = texts.filter((t) => matcher.match(t) !== null).length;
  const fast = measure(texts, (t) => matcher.match(t), seconds);
  const baseline = measure(texts, regexTest, seconds);
  return {
    bench: 'router.fast-matcher',
    source,
    phrases: matcher.phraseCount,
    texts: texts.length,
    matched,
    fastMatcher: fast,
    regexBaseline: baseline,
    ratioMeanUs: fast.meanUs / baseline.meanUs,
  };
}

const isMain =
  process.argv[1] !== undefined &&
  path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname);
if (isMain) {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '2' },
      json: { type: 'boolean', default: false },
    },
  });
  const r = await benchMatcher(Number(values.seconds));
  if (values.json) {
    console.log(JSON.stringify(r));
  } else {
    const f = r.fastMatcher as Timing;
    const b = r.regexBaseline as Timing;
    const fmt = (t: Timing) =>
      `${Math.round(t.perSecond).toLocaleString('en')} matches/s, mean ${t.meanUs.toFixed(2)} µs, p50 ${t.p50Us.toFixed(2)} µs, p99 ${t.p99Us.toFixed(2)} µs`;
    console.log(
      `fast matcher (${r.phrases} phrases from ${r.source}; ${r.texts} texts, ${r.matched} match):`,
    );
    console.log(`  fast matcher    ${fmt(f)}`);
    console.log(`  RegExp baseline ${fmt(b)}`);
    console.log(
      `  ratio (fast / RegExp, mean µs per match): ${(r.ratioMeanUs as number).toFixed(2)}x`,
    );
  }
}
