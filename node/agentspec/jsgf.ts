/**
 * The constrained recogniser's grammar: the agents' phrase grammars ("turn (on|off) [the]
 * {room} lights") compiled to one JSGF grammar for pocketsphinx, and the way back from a
 * recognised word string to agent, intent and slot values. Pure. Every phrase may end in the
 * language's closings ("… please", phrase.ts), and a phrase that starts with a verb may begin
 * with its openings ("could you …"; withOpening), all of which the fast matcher allows.
 *
 * Slots become closed word lists: an arg's `enum`, the config table named by `enum_from`
 * (e.g. lights.rooms), or spoken numbers for integer args with min/max. A phrase with a
 * free-text slot cannot be heard by a closed grammar and is left out (listed in `skipped`);
 * such requests need the Whisper engine.
 */
import type { FastMatch } from './intent.js';
import type { AgentManifest, ArgSpec } from './manifest.js';
import { numberToWords, readNumbers } from './numbers.js';
import {
  parsePhrase,
  POLITE_CLOSINGS,
  POLITE_OPENINGS,
  trimPoliteness,
  type PhraseNode,
} from './phrase.js';
import type { ArgValue, SlotValues } from './slots.js';

/** The phrase tree as the recogniser hears it: dictionary spellings, every written word said. */
type Node =
  | { kind: 'word'; word: string }
  | { kind: 'slot'; name: string }
  | { kind: 'choice'; options: Node[][]; optional: boolean };

/** What a recognised sentence means: the intent (confidence 1) and the phrase it matched. */
export type PhraseInterpretation = FastMatch;

export interface SkippedPhrase {
  agent: string;
  intent: string;
  phrase: string;
  reason: string;
}

export interface PhraseGrammar {
  /** JSGF text with one public rule <command> */
  jsgf: string;
  /** every word the grammar can produce (all must be in the recogniser's dictionary) */
  words: Set<string>;
  /** phrases included */
  phraseCount: number;
  skipped: SkippedPhrase[];
  /** agent/intent/args for a recognised sentence, or null when it is not one the grammar accepts */
  interpret(text: string): PhraseInterpretation | null;
  /**
   * Sentences the grammar accepts with what they mean (tests, benchmarks): `perPhrase` each,
   * deterministic. Each phrase draws from its own sequence, seeded by `seed` and the phrase, so a
   * phrase added or removed leaves every other phrase's samples as they were.
   */
  samples(perPhrase: number, seed?: number): (PhraseInterpretation & { text: string })[];
}

export interface PhraseGrammarOptions {
  /** values of enum_from tables, keyed by path: { "lights.rooms": ["kitchen", "living room"] } */
  slotValues?: SlotValues;
  /** leave out phrases using a word this returns false for (not in the pronunciation dictionary) */
  knownWord?: (word: string) => boolean;
  /**
   * Words offered beside every enum slot's values (default DECOY_SLOT_VALUES): said in place of a
   * configured room ("turn on the garage lights"), they win over the nearest real value
   * ("office") and the sentence is rejected instead of acted on.
   */
  decoyValues?: readonly string[];
  /**
   * Whole sentences beside the commands (default DECOY_SENTENCES): everyday requests that are
   * not commands. Short ones ("who are you") were left out: they caught real commands too.
   */
  decoySentences?: readonly string[];
  /**
   * Things that are not lights, heard switched on or off ("turn the fan off") and refused
   * (default DECOY_APPLIANCES); one that is also a room or a light's name is left out.
   */
  decoyAppliances?: readonly string[];
  /**
   * Hear a phrase without its optional enum slot ("turn on [the] [{room}] lights" as "turn on the
   * lights"). Default false: in a closed grammar the decoder then drops a room it does not know,
   * or absorbs one into politeness ("turn off the workshop lights" heard as "turn off the light",
   * "living room lights on" as "would you the light on"; bench/stt/phrases.ts), so the recogniser
   * asks for the room instead and room-less commands are heard through Whisper.
   */
  optionalEnumSlots?: boolean;
  /** largest spoken number in a number slot (default 120: larger ranges swell the search, ~0.2 s per utterance at 9999) */
  maxNumber?: number;
}

interface SlotMatcher {
  /** JSGF rule body */
  rule: string;
  words: string[];
  /** values to say in samples, with their words */
  examples: { value: ArgValue; say: string }[];
  /** ways to read a slot value from words[pos...]: value and words consumed */
  read(words: string[], pos: number): { value: ArgValue; next: number }[];
}

interface CompiledPhrase {
  agent: string;
  intent: string;
  phrase: string;
  nodes: Node[];
  slots: Map<string, SlotMatcher>;
  /** a number alone, with at most a unit word ("{number} [minutes]"): no polite closing */
  bareNumber: boolean;
  /**
   * the phrase may end in a number without its unit ("… to {level} [percent]"): said so, it
   * takes no closing (numberEndings)
   */
  numberEnd: NumberEnding | null;
}

/** A phrase split where it may end in a bare number: with its unit, and without it. */
interface NumberEnding {
  /** the unit said ("… to {level} percent"): closings allowed; null when the phrase has no unit */
  withUnit: Node[] | null;
  /** the phrase ending in the number ("… to {level}"): no closing */
  bare: Node[];
  /** the unit's words ("percent") */
  units: string[];
}

/** Builds the grammar from manifests (phrases with free text are skipped; see the header). */
export function buildPhraseGrammar(
  manifests: readonly AgentManifest[],
  options: PhraseGrammarOptions = {},
): PhraseGrammar {
  const knownWord = options.knownWord ?? (() => true);
  const skipped: SkippedPhrase[] = [];
  const compiled: CompiledPhrase[] = [];
  const slotRules = new Map<string, string>();
  const ruleNames = new Map<SlotMatcher, string>();
  const words = new Set<string>();

  for (const m of manifests) {
    for (const intent of m.intents) {
      for (const phrase of intent.phrases) {
        const skip = (reason: string) =>
          skipped.push({ agent: m.name, intent: intent.name, phrase, reason });
        let nodes: Node[];
        try {
          nodes = spoken(parsePhrase(phrase));
          if (!options.optionalEnumSlots) nodes = requireEnumSlots(nodes, intent.args);
        } catch (err) {
          skip((err as Error).message);
          continue;
        }
        const slots = new Map<string, SlotMatcher>();
        let problem: string | undefined;
        for (const name of slotNamesOf(nodes)) {
          const spec = intent.args[name];
          const matcher = spec ? slotMatcher(spec, options, knownWord) : undefined;
          if (!spec) problem = `slot {${name}} has no argument of that name`;
          else if (typeof matcher === 'string') problem = `slot {${name}}: ${matcher}`;
          else if (matcher) slots.set(name, matcher);
          if (problem) break;
        }
        const unknown = literalWords(nodes).filter((w) => !knownWord(w));
        if (!problem && unknown.length)
          problem = `words not in the pronunciation dictionary: ${unknown.join(', ')}`;
        if (problem) {
          skip(problem);
          continue;
        }
        const bareNumber = isBareNumber(nodes, intent.args);
        compiled.push({
          agent: m.name,
          intent: intent.name,
          phrase,
          nodes,
          slots,
          bareNumber,
          numberEnd: bareNumber ? null : numberEnding(nodes, intent.args),
        });
        literalWords(nodes).forEach((w) => words.add(w));
        for (const s of slots.values()) {
          s.words.forEach((w) => words.add(w));
          if (!ruleNames.has(s)) {
            const name = `slot${ruleNames.size}`;
            ruleNames.set(s, name);
            slotRules.set(name, s.rule);
          }
        }
      }
    }
  }

  // Politeness the dictionary can say: "could you please" or "please could you" before, up to two
  // closings after ("for me thanks").
  const speakable = (list: readonly (readonly string[])[]) =>
    list.filter((ws) => ws.every(knownWord)).map((ws) => ws.join(' '));
  const openings = speakable(POLITE_OPENINGS);
  const closings = speakable(POLITE_CLOSINGS);
  // The opening goes in front of the phrases that always start with a verb (one copy for all of
  // them), inside a phrase that may start with or without one, in front of its verb (withOpening),
  // and nowhere near the rest ("[the] [{room}] lights on"); a closing goes after any phrase but a
  // bare number (an answer, "thirty minutes"): "two please" is where "a two minute timer please"
  // and everyday talk fell most easily. Nor after a phrase that ends in a number without its unit
  // ("dim the lights to seventy"): "seventy percent" was heard as "seventy two thanks" and
  // "fifty percent" as "eighty two thanks" (held-out E), a unit taken for a number and a closing.
  const assemble = (
    bodies: {
      body: string;
      note: string;
      lead: 'verb' | 'both' | 'other';
      bare: boolean;
      closes: boolean;
    }[],
  ) => {
    const ref = (i: number) => `<p${i}>`;
    const refs = (pick: (b: (typeof bodies)[number]) => boolean) =>
      bodies.flatMap((b, i) => (!b.bare && pick(b) ? [ref(i)] : []));
    const verbs = [
      ...refs((b) => b.lead === 'verb' && b.closes),
      ...(decoys.length ? ['<decoy>'] : []),
    ];
    const rest = refs((b) => b.lead !== 'verb' && b.closes);
    const verbsUnclosed = refs((b) => b.lead === 'verb' && !b.closes);
    const restUnclosed = refs((b) => b.lead !== 'verb' && !b.closes);
    const bare = bodies.flatMap((b, i) => (b.bare ? [ref(i)] : []));
    const open = openings.length ? '[<open>] ' : '';
    const alts = [...(verbs.length ? [`${open}(${verbs.join(' | ')})`] : []), ...rest];
    const close = closings.length ? ' [<close>]' : '';
    const polite = alts.length ? [`(${alts.join(' | ')})${close}`] : [];
    const unclosed = [
      ...(verbsUnclosed.length ? [`${open}(${verbsUnclosed.join(' | ')})`] : []),
      ...restUnclosed,
    ];
    return [
      '#JSGF V1.0;',
      'grammar helix;',
      bodies.length
        ? `public <command> = ${[...polite, ...unclosed, ...bare].join(' | ')};`
        : 'public <command> = <VOID>;',
      ...(openings.length && bodies.length ? [`<open> = ${openingRule(openings)};`] : []),
      ...(closings.length && bodies.length
        ? [`<close> = (${closings.join(' | ')}) [${closings.join(' | ')}];`]
        : []),
      ...(decoys.length && bodies.length ? [`<decoy> = ${decoys.join(' | ')};`] : []),
      ...bodies.map((b, i) => `<p${i}> = ${b.body}; // ${b.note}`),
      ...[...slotRules].map(([name, body]) => `<${name}> = ${body};`),
      '',
    ].join('\n');
  };
  // Decoy word strings, lower case, kept only where the dictionary can say every word.
  const sayable = (list: readonly string[]) =>
    list
      .map((d) => d.toLowerCase().split(/\s+/).filter(Boolean))
      .filter((ws) => ws.length > 0 && ws.every((w) => /^[a-z']+$/.test(w) && knownWord(w)))
      .map((ws) => ws.join(' '));
  const decoys = sayable(options.decoySentences ?? DECOY_SENTENCES).filter(
    (d) => !interpretWith(compiled, d),
  );
  const appliances = sayable(options.decoyAppliances ?? DECOY_APPLIANCES).filter(
    (a) => !['on', 'off'].some((v) => interpretWith(compiled, `turn ${v} the ${a}`)),
  );
  if (appliances.length && ['turn', 'switch', 'on', 'off', 'the'].every(knownWord))
    decoys.push(
      `(turn | switch) (on | off) the (${appliances.join(' | ')}) | (turn | switch) the (${appliances.join(' | ')}) (on | off)`,
    );
  decoys.forEach((d) =>
    d
      .split(/[\s()|]+/)
      .filter(Boolean)
      .forEach((w) => words.add(w)),
  );
  if (compiled.length)
    [...openings, ...closings].forEach((p) => p.split(' ').forEach((w) => words.add(w)));
  const note = (c: CompiledPhrase) => `${c.agent}.${c.intent}: ${c.phrase.replace(/[\r\n]/g, ' ')}`;
  const jsgf = assemble(
    compiled.flatMap((c) => {
      const can = leads(c.nodes);
      const lead: 'verb' | 'both' | 'other' = !can.other ? 'verb' : can.verb ? 'both' : 'other';
      const body = (phrase: Node[], closes: boolean) => ({
        body: toJsgf(lead === 'both' && openings.length ? withOpening(phrase) : phrase, (slot) =>
          slot === OPENING ? '<open>' : `<${ruleNames.get(c.slots.get(slot)!)}>`,
        ),
        note: note(c),
        lead,
        bare: c.bareNumber,
        closes,
      });
      if (!c.numberEnd) return [body(c.nodes, true)];
      const { withUnit, bare } = c.numberEnd;
      return [...(withUnit ? [body(withUnit, true)] : []), body(bare, false)];
    }),
  );

  return {
    jsgf,
    words,
    phraseCount: compiled.length,
    skipped,
    interpret: (text) => interpretWith(compiled, text),
    samples(perPhrase, seed = 1) {
      let state = 1;
      const rand = (n: number) => {
        state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
        return state % n;
      };
      const out: (PhraseInterpretation & { text: string })[] = [];
      for (const c of compiled) {
        state = fnv1a(`${seed} ${c.agent}.${c.intent} ${c.phrase}`) || 1;
        const seen = new Set<string>();
        for (let k = 0; k < perPhrase * 4 && seen.size < perPhrase; k++) {
          const args: Record<string, ArgValue> = {};
          // whether the sentence starts with a verb (only then may it open politely)
          let verbLead: boolean | null = null;
          const say = (nodes: Node[]): string[] =>
            nodes.flatMap((n) => {
              if (n.kind !== 'choice') verbLead ??= n.kind === 'word' && !NOT_A_VERB.has(n.word);
              if (n.kind === 'word') return [n.word];
              if (n.kind === 'slot') {
                const ex = c.slots.get(n.name)!.examples;
                const pick = ex[(k + rand(ex.length)) % ex.length]!;
                args[n.name] = pick.value;
                return [pick.say];
              }
              const i = rand(n.options.length + (n.optional ? 1 : 0));
              return i < n.options.length ? say(n.options[i]!) : [];
            });
          // one sentence in four opens politely, one in four closes so
          const open = openings.length && rand(4) === 0 ? [openings[rand(openings.length)]!] : [];
          const close =
            closings.length && rand(4) === 0 && !c.bareNumber
              ? [closings[rand(closings.length)]!]
              : [];
          const body = say(c.nodes);
          // as the grammar has it: a phrase ending in a number without its unit takes no closing
          const lastWord = body.at(-1)?.split(' ').at(-1) ?? '';
          if (c.numberEnd && !c.numberEnd.units.includes(lastWord)) close.length = 0;
          const text = [...(verbLead ? open : []), ...body, ...close].join(' ');
          if (seen.has(text)) continue;
          seen.add(text);
          out.push({
            text,
            agent: c.agent,
            intent: c.intent,
            args,
            confidence: 1,
            phrase: c.phrase,
          });
        }
      }
      return out;
    },
  };
}

/** "{number}" or "{number} [minutes|seconds]": a number slot and at most one optional word. */
function isBareNumber(
  nodes: readonly Node[],
  args: AgentManifest['intents'][number]['args'],
): boolean {
  const [first, ...rest] = nodes;
  const spec = first?.kind === 'slot' ? args[first.name] : undefined;
  return (
    (spec?.type === 'integer' || spec?.type === 'number') &&
    rest.length <= 1 &&
    rest.every(
      (n) =>
        n.kind === 'choice' &&
        n.optional &&
        n.options.every((o) => o.length === 1 && o[0]!.kind === 'word'),
    )
  );
}

/**
 * Where `nodes` may end in a number without its unit ("to {level} [percent]", "to {level}"): the
 * phrase with the unit said (empty when it has none) and the phrase ending in the number.
 */
function numberEnding(
  nodes: readonly Node[],
  args: AgentManifest['intents'][number]['args'],
): NumberEnding | null {
  const isNumber = (n: Node | undefined) => {
    const spec = n?.kind === 'slot' ? args[n.name] : undefined;
    return spec?.type === 'integer' || spec?.type === 'number';
  };
  const last = nodes.at(-1);
  if (isNumber(last)) return { withUnit: null, bare: [...nodes], units: [] };
  if (last?.kind !== 'choice' || !last.optional || !isNumber(nodes.at(-2))) return null;
  const units = last.options.map((o) =>
    o.length === 1 && o[0]!.kind === 'word' ? o[0]!.word : null,
  );
  if (units.some((u) => u === null)) return null;
  return {
    withUnit: [...nodes.slice(0, -1), { ...last, optional: false }],
    bare: nodes.slice(0, -1),
    units: units as string[],
  };
}

function interpretWith(compiled: CompiledPhrase[], text: string): PhraseInterpretation | null {
  const all = text.toLowerCase().split(/\s+/).filter(Boolean);
  const [lo, hi] = trimPoliteness(all);
  const ws = all.slice(lo, hi);
  for (const c of compiled) {
    const args: Record<string, ArgValue> = {};
    if (matchNodes(c.nodes, ws, 0, args, c.slots, (pos) => pos === ws.length)) {
      const { agent, intent, phrase } = c;
      return { agent, intent, args: { ...args }, confidence: 1, phrase };
    }
  }
  return null;
}

/** 32-bit FNV-1a of a string's UTF-16 code units: a seed, or a short stable id, from a name. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** The recogniser's view of a phrase: a "the" the language makes optional is said as written. */
function spoken(nodes: readonly PhraseNode[]): Node[] {
  return nodes.flatMap((n): Node[] => {
    if (n.kind === 'word') return [{ kind: 'word', word: n.said }];
    if (n.kind === 'slot') return [n];
    if (n.implicit) return n.options.flatMap(spoken);
    return [{ kind: 'choice', options: n.options.map(spoken), optional: n.optional }];
  });
}

/** `[{room}]` as `{room}` where room takes its values from a list (enum or enum_from). */
function requireEnumSlots(nodes: readonly Node[], args: Record<string, ArgSpec>): Node[] {
  return nodes.map((n): Node => {
    if (n.kind !== 'choice') return n;
    const only = n.options.length === 1 && n.options[0]!.length === 1 ? n.options[0]![0] : null;
    if (n.optional && only?.kind === 'slot') {
      const spec = args[only.name];
      if (spec && (spec.enum || spec.enum_from)) return only;
    }
    return { ...n, options: n.options.map((o) => requireEnumSlots(o, args)) };
  });
}

function slotNamesOf(nodes: Node[]): string[] {
  return nodes.flatMap((n) =>
    n.kind === 'slot' ? [n.name] : n.kind === 'choice' ? n.options.flatMap(slotNamesOf) : [],
  );
}

function literalWords(nodes: Node[]): string[] {
  return nodes.flatMap((n) =>
    n.kind === 'word' ? [n.word] : n.kind === 'choice' ? n.options.flatMap(literalWords) : [],
  );
}

/**
 * The openings: one, or "please" with one of the others on either side ("please could you",
 * "could you please"); never two questions ("could you would you"), which nobody says and which
 * gave a decode somewhere to put a stray syllable (bench/stt/phrases.ts, set C).
 */
function openingRule(openings: readonly string[]): string {
  const questions = openings.filter((o) => o !== 'please');
  if (!openings.includes('please') || questions.length === 0) return `(${openings.join(' | ')})`;
  const q = `(${questions.join(' | ')})`;
  return `please [${q}] | ${q} [please]`;
}

/**
 * First words of a phrase that are not a request's verb. An opening goes before "turn on the
 * lights" or "set a timer", never before "the lights on", "kitchen lights off" or "a five minute
 * timer": people do not say "could you the lights on", and in the grammar such paths gave speech
 * that is no command a short way to an action ("please the light on" heard for "list the timers";
 * bench/stt/phrases.ts, set C).
 */
const NOT_A_VERB = new Set([
  'the',
  'a',
  'an',
  'my',
  'light',
  'lights',
  'timer',
  'timers',
  'brightness',
  'what',
  "what's",
  'which',
  'who',
  'how',
  'where',
  'when',
  'is',
  'are',
]);

/** A slot name no phrase can have (names are [a-z][a-z0-9_-]*): where an opening may go. */
const OPENING = '<open>';
const OPEN: Node = { kind: 'choice', options: [[{ kind: 'slot', name: OPENING }]], optional: true };

/**
 * The phrase with an optional opening in front of every verb it can start with, and nowhere else:
 * "(turn|switch) on …" becomes "[<open>] (turn|switch) on …", "[[set|start] a] {minutes} minute
 * timer" becomes "[[[<open>] (set|start)] a] …", "[the] [{room}] lights on" stays as it is. The
 * phrase is written once: the decoder expands every copy of a slot in full, and a grammar that
 * split each phrase into the forms with and without a verb decoded a third slower (an opening in
 * every phrase, ~10 % slower; hence phrases that always start with a verb share one). Where the
 * opening cannot be placed like that (an optional part before another verb, "[please] turn …"),
 * it goes in front of the whole phrase, as before.
 */
function withOpening(nodes: readonly Node[]): Node[] {
  return placeOpening(nodes) ?? [OPEN, ...nodes];
}

function placeOpening(nodes: readonly Node[]): Node[] | null {
  const can = leads(nodes);
  if (!can.verb) return [...nodes];
  const [first, ...rest] = nodes as [Node, ...Node[]];
  if (first.kind === 'word') return [OPEN, ...nodes];
  if (first.kind !== 'choice' || (first.optional && leads(rest).verb)) return null;
  // a choice of verbs takes one opening in front of it
  if (first.options.every((o) => o.length > 0 && !leads(o).other)) {
    const verbs: Node = { ...first, optional: false };
    return first.optional
      ? [{ kind: 'choice', options: [[OPEN, verbs]], optional: true }, ...rest]
      : [OPEN, verbs, ...rest];
  }
  const options = first.options.map((o) => placeOpening(o));
  if (options.some((o) => o === null)) return null;
  return [{ ...first, options: options as Node[][] }, ...rest];
}

/** Whether `nodes` can start with a verb, and whether with anything else (or nothing). */
function leads(nodes: readonly Node[]): { verb: boolean; other: boolean } {
  const [first, ...rest] = nodes;
  if (!first) return { verb: false, other: true };
  if (first.kind === 'word')
    return NOT_A_VERB.has(first.word) ? { verb: false, other: true } : { verb: true, other: false };
  if (first.kind === 'slot') return { verb: false, other: true };
  const all = [
    ...first.options.map((o) => leads([...o, ...rest])),
    ...(first.optional ? [leads(rest)] : []),
  ];
  return { verb: all.some((l) => l.verb), other: all.some((l) => l.other) };
}

function toJsgf(nodes: Node[], slotRef: (name: string) => string): string {
  const parts = nodes.map((n) => {
    if (n.kind === 'word') return n.word;
    if (n.kind === 'slot') return slotRef(n.name);
    const alts = n.options.map((o) => toJsgf(o, slotRef)).join(' | ');
    return n.optional ? `[${alts}]` : `(${alts})`;
  });
  return parts.join(' ') || '<NULL>';
}

function matchNodes(
  nodes: Node[],
  words: string[],
  pos: number,
  args: Record<string, ArgValue>,
  slots: Map<string, SlotMatcher>,
  rest: (pos: number) => boolean,
): boolean {
  if (nodes.length === 0) return rest(pos);
  const [head, ...tail] = nodes as [Node, ...Node[]];
  const next = (p: number) => matchNodes(tail, words, p, args, slots, rest);
  if (head.kind === 'word') return words[pos] === head.word && next(pos + 1);
  if (head.kind === 'slot') {
    for (const r of slots.get(head.name)!.read(words, pos)) {
      args[head.name] = r.value;
      if (next(r.next)) return true;
      delete args[head.name];
    }
    return false;
  }
  for (const option of head.options) {
    if (matchNodes(option, words, pos, args, slots, next)) return true;
  }
  return head.optional && next(pos);
}

// Slot matchers are shared between phrases with the same values, so the JSGF has one rule each.
const matcherCache = new Map<string, SlotMatcher>();

function slotMatcher(
  spec: ArgSpec,
  options: PhraseGrammarOptions,
  knownWord: (w: string) => boolean,
): SlotMatcher | string {
  let values: readonly string[] | undefined = spec.enum;
  if (!values && spec.enum_from) {
    values = options.slotValues?.[spec.enum_from];
    if (!values?.length) return `no values for ${spec.enum_from} in the configuration`;
  }
  if (values) {
    const usable = values
      .map((v) => ({
        value: v,
        words: v
          .toLowerCase()
          .split(/[\s_-]+/)
          .filter(Boolean),
      }))
      .filter(
        (v) => v.words.length > 0 && v.words.every((w) => /^[a-z']+$/.test(w) && knownWord(w)),
      );
    if (!usable.length) return 'none of its values can be spoken with the dictionary';
    const taken = new Set(usable.map((u) => u.words.join(' ')));
    const decoys = (options.decoyValues ?? DECOY_SLOT_VALUES)
      .map((d) => d.toLowerCase())
      .filter(
        (d) => !taken.has(d) && d.split(' ').every((w) => /^[a-z']+$/.test(w) && knownWord(w)),
      );
    const key = `enum:${JSON.stringify(usable.map((u) => u.value))}:${JSON.stringify(decoys)}`;
    const cached = matcherCache.get(key);
    if (cached) return cached;
    const m: SlotMatcher = {
      rule: [...usable.map((u) => u.words.join(' ')), ...decoys].join(' | '),
      words: [...usable.flatMap((u) => u.words), ...decoys.flatMap((d) => d.split(' '))],
      examples: usable.map((u) => ({ value: u.value, say: u.words.join(' ') })),
      read: (ws, pos) =>
        usable
          .filter((u) => u.words.every((w, i) => ws[pos + i] === w))
          .map((u) => ({ value: u.value, next: pos + u.words.length })),
    };
    matcherCache.set(key, m);
    return m;
  }
  if (spec.type === 'integer' && spec.min !== undefined && spec.max !== undefined) {
    const lo = Math.max(0, Math.ceil(spec.min));
    const hi = Math.min(Math.floor(spec.max), options.maxNumber ?? 120);
    if (lo > hi) return `range ${spec.min}..${spec.max} has no speakable whole numbers`;
    return numberMatcher(lo, hi);
  }
  return spec.type === 'string'
    ? 'free text cannot be heard by a closed grammar (use the whisper engine)'
    : `a ${spec.type} argument needs enum values or min/max`;
}

/** Household places and things that are not configured values; see PhraseGrammarOptions.decoyValues. */
export const DECOY_SLOT_VALUES = [
  'garage',
  'bathroom',
  'hallway',
  'garden',
  'basement',
  'attic',
  'dining room',
  'nursery',
  'laundry',
  'patio',
  'balcony',
  'upstairs',
  'downstairs',
  'closet',
  'lounge',
  'cellar',
  'guest room',
  'playroom',
  'driveway',
  'library',
  'staircase',
  'television',
  'everything',
];

/** Everyday requests that no agent serves; see PhraseGrammarOptions.decoySentences. */
export const DECOY_SENTENCES = [
  'what is the weather like',
  'what is the weather today',
  'play some music',
  'play the next song',
  'tell me a joke',
  'set an alarm for tomorrow',
  'wake me up tomorrow morning',
  'call my mother',
  'send a message',
  'what day is it today',
  'turn up the volume',
  'turn down the volume',
];

/**
 * Appliances that are not lights, switched on and off as decoys ("switch off the fan" must not
 * find its way to "switch office light on"; bench/stt/phrases.ts, set C); see
 * PhraseGrammarOptions.decoyAppliances.
 */
export const DECOY_APPLIANCES = [
  'fan',
  'oven',
  'heating',
  'heater',
  'radio',
  'television',
  'dishwasher',
  'washing machine',
  'stove',
  'microwave',
  'dryer',
  'hoover',
  'vacuum',
  'air conditioning',
];

/**
 * Numbers lo..hi: small ranges as an explicit list (the tightest grammar); larger ones
 * compositionally up to hi's order of magnitude, with the range checked on the way back.
 */
function numberMatcher(lo: number, hi: number): SlotMatcher {
  const key = `num:${lo}:${hi}`;
  const cached = matcherCache.get(key);
  if (cached) return cached;
  const explicit = hi <= 100 || hi - lo <= 120;
  let rule: string;
  if (explicit) {
    rule = range(lo, hi).map(numberToWords).join(' | ');
  } else {
    const units = range(1, 9).map(numberToWords).join(' | ');
    const under100 = range(1, 99).map(numberToWords).join(' | ');
    const alts = [`(${under100})`];
    if (lo === 0) alts.push('zero');
    alts.push(`(${units}) hundred [[and] (${under100})]`);
    if (hi >= 1000) alts.push(`(${units}) thousand [(${units}) hundred] [[and] (${under100})]`);
    rule = alts.join(' | ');
  }
  const words = [...new Set(rule.split(/[\s()[\]|]+/).filter(Boolean))];
  const picks = [
    ...new Set([
      lo,
      hi,
      Math.round((lo + hi) / 2),
      Math.min(hi, lo + 5),
      Math.min(hi, 25),
      Math.min(hi, 90),
    ]),
  ].filter((n) => n >= lo && n <= hi);
  const m: SlotMatcher = {
    rule,
    words,
    examples: picks.map((n) => ({ value: n, say: numberToWords(n) })),
    read: (ws, pos) =>
      readNumbers(ws, pos)
        .filter((r) => Number.isInteger(r.value) && r.value >= lo && r.value <= hi)
        .map((r) => ({ value: r.value, next: pos + r.length })),
  };
  matcherCache.set(key, m);
  return m;
}

function range(lo: number, hi: number): number[] {
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}
