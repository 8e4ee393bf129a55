/**
 * The fast intent matcher (pure): the agents' phrase grammars compiled into backtracking
 * matchers over normalised words. A match must cover the whole transcript, fill every slot
 * with an allowed value and pass the intent's argument schema; otherwise the transcript goes
 * to the LLM router. Matching a transcript takes microseconds (bench/router/matcher.ts).
 */
import { validateArgs } from './args.js';
import { GrammarError } from './errors.js';
import type { FastMatch } from './intent.js';
import type { AgentManifest, ArgSpec, IntentSpec } from './manifest.js';
import { normaliseWords, tokenize, type Token } from './normalise.js';
import { readNumbers } from './numbers.js';
import {
  parsePhrase,
  PhraseSyntaxError,
  repeatedSlots,
  requiredWords,
  slotNames,
  trimPoliteness,
  type PhraseNode,
} from './phrase.js';
import { allowedValues, type ArgValue, type SlotValues } from './slots.js';

/**
 * A sentence that fits a phrase except for the value of an `enum_from` slot ("turn on the garage
 * lights" with no room garage): the person named something the house does not have.
 */
export interface UnknownValue {
  agent: string;
  intent: string;
  /** the argument ("room") */
  arg: string;
  /** what was said in its place, as said */
  value: string;
  /** the enum_from path ("lights.rooms") */
  from: string;
  /** the values that exist */
  allowed: readonly string[];
}

export interface FastMatcher {
  /** The best full match of the transcript, or null (then ask the LLM router). */
  match(text: string): FastMatch | null;
  /**
   * When match() found nothing: the phrase the sentence fits best if one `enum_from` slot may hold
   * any one to three words, with the value that is not allowed; null when none fits so.
   */
  unknownValue?(text: string): UnknownValue | null;
  /** number of compiled phrases */
  readonly phraseCount: number;
}

/** Continue matching at word `pos` with `score` so far; true when the rest matched. */
type Step = (pos: number, score: number) => boolean;

interface State {
  words: string[];
  tokens: Token[];
  text: string;
  args: Record<string, ArgValue>;
  score: number;
}

interface CompiledPhrase {
  agent: string;
  intent: IntentSpec;
  phrase: string;
  required: string[];
  state: State;
  run: Step;
}

// Literal words and words inside closed slots (enum, number, boolean) count; free text does not,
// so "turn on the {room} lights" beats a catch-all "{text}" on the same words.
const WORD_SCORE = 2;

const BOOLEAN_WORDS: Readonly<Record<string, boolean>> = {
  on: true,
  yes: true,
  true: true,
  enable: true,
  enabled: true,
  off: false,
  no: false,
  false: false,
  disable: false,
  disabled: false,
};

const TRAILING_PUNCTUATION = /^[^\s\p{L}\p{N}]+/u;

/**
 * Compile the phrase grammars of `manifests` (warm and cold agents alike: a cold agent's
 * free-text phrase, "look up {question}", reaches it from a Whisper transcript without the LLM). `slotValues` supplies the
 * values of `enum_from` arguments (see resolveSlotValues). Throws GrammarError for a phrase
 * that does not parse or uses a slot its intent does not declare.
 */
export function compileFastMatcher(
  manifests: readonly AgentManifest[],
  slotValues: SlotValues = {},
): FastMatcher {
  const phrases: CompiledPhrase[] = [];
  const relaxed: CompiledPhrase[] = [];
  for (const m of manifests) {
    for (const intent of m.intents) {
      for (const phrase of intent.phrases) {
        phrases.push(compilePhrase(m.name, intent, phrase, slotValues));
        if (/\{/.test(phrase) && Object.values(intent.args).some((a) => a.enum_from))
          relaxed.push(compilePhrase(m.name, intent, phrase, slotValues, true));
      }
    }
  }

  const words = (text: string): { words: string[]; tokens: Token[] } | null => {
    const all = tokenize(text);
    let ws = all.map((t) => t.norm);
    const [lo, hi] = trimPoliteness(ws);
    const tokens = lo === 0 && hi === all.length ? all : all.slice(lo, hi);
    if (tokens !== all) ws = ws.slice(lo, hi);
    return ws.length === 0 ? null : { words: ws, tokens };
  };

  return {
    phraseCount: phrases.length,
    unknownValue(text: string): UnknownValue | null {
      const said = words(text);
      if (!said) return null;
      let best: UnknownValue | null = null;
      let bestScore = -1;
      for (const p of relaxed) {
        if (!p.required.every((w) => said.words.includes(w))) continue;
        const st = p.state;
        Object.assign(st, { words: said.words, tokens: said.tokens, text, args: {} });
        const matched = p.run(0, 0);
        const { score, args } = st;
        Object.assign(st, { words: [], tokens: [], text: '' });
        if (!matched || score <= bestScore) continue;
        for (const [arg, value] of Object.entries(args)) {
          const spec = p.intent.args[arg];
          if (!spec?.enum_from || typeof value !== 'string') continue;
          const allowed = allowedValues(spec, slotValues) ?? [];
          const key = normaliseWords(value).join(' ');
          if (allowed.some((a) => normaliseWords(a).join(' ') === key)) continue;
          bestScore = score;
          best = {
            agent: p.agent,
            intent: p.intent.name,
            arg,
            value,
            from: spec.enum_from,
            allowed,
          };
          break;
        }
      }
      return best;
    },
    match(text: string): FastMatch | null {
      const said = words(text);
      if (!said) return null;
      const { words: ws, tokens } = said;

      let best: FastMatch | null = null;
      let bestScore = -1;
      for (const p of phrases) {
        if (!p.required.every((w) => ws.includes(w))) continue;
        const st = p.state;
        st.words = ws;
        st.tokens = tokens;
        st.text = text;
        st.args = {};
        const matched = p.run(0, 0);
        const score = st.score;
        const args = st.args;
        st.words = [];
        st.tokens = [];
        st.text = '';
        if (!matched || score <= bestScore) continue;
        const checked = validateArgs(p.intent, args, slotValues);
        if (!checked.ok) continue;
        bestScore = score;
        best = {
          agent: p.agent,
          intent: p.intent.name,
          args: checked.args,
          confidence: 1,
          phrase: p.phrase,
        };
      }
      return best;
    },
  };
}

function compilePhrase(
  agent: string,
  intent: IntentSpec,
  phrase: string,
  slotValues: SlotValues,
  relaxed = false,
): CompiledPhrase {
  let nodes: PhraseNode[];
  try {
    nodes = parsePhrase(phrase);
  } catch (err) {
    if (err instanceof PhraseSyntaxError) {
      throw new GrammarError(
        agent,
        intent.name,
        phrase,
        `does not parse: ${err.problem} at character ${err.at + 1}`,
      );
    }
    throw err;
  }
  for (const name of slotNames(nodes)) {
    if (intent.args[name] === undefined) {
      const known = Object.keys(intent.args);
      throw new GrammarError(
        agent,
        intent.name,
        phrase,
        `uses {${name}}, which is not an argument of the intent (${known.length ? `it has ${known.join(', ')}` : 'it has none'})`,
      );
    }
  }
  const repeated = repeatedSlots(nodes);
  if (repeated.length > 0) {
    throw new GrammarError(
      agent,
      intent.name,
      phrase,
      `uses {${repeated.join('}, {')}} more than once`,
    );
  }

  const state: State = { words: [], tokens: [], text: '', args: {}, score: 0 };
  const end: Step = (pos, score) => {
    if (pos !== state.words.length) return false;
    state.score = score;
    return true;
  };
  const run = compileSequence(nodes, end, state, intent, slotValues, relaxed);
  return { agent, intent, phrase, required: requiredWords(nodes), state, run };
}

function compileSequence(
  nodes: readonly PhraseNode[],
  next: Step,
  st: State,
  intent: IntentSpec,
  slotValues: SlotValues,
  relaxed: boolean,
): Step {
  let step = next;
  for (let i = nodes.length - 1; i >= 0; i--)
    step = compileNode(nodes[i] as PhraseNode, step, st, intent, slotValues, relaxed);
  return step;
}

function compileNode(
  node: PhraseNode,
  next: Step,
  st: State,
  intent: IntentSpec,
  slotValues: SlotValues,
  relaxed: boolean,
): Step {
  switch (node.kind) {
    case 'word': {
      const word = node.word;
      return (pos, score) => st.words[pos] === word && next(pos + 1, score + WORD_SCORE);
    }
    case 'choice': {
      const options = node.options.map((o) =>
        compileSequence(o, next, st, intent, slotValues, relaxed),
      );
      const optional = node.optional;
      return (pos, score) => {
        for (const option of options) if (option(pos, score)) return true;
        return optional && next(pos, score);
      };
    }
    case 'slot': {
      const spec = intent.args[node.name] as ArgSpec;
      if (relaxed && spec.enum_from) return compileAnyWords(node.name, next, st);
      return compileSlot(node.name, spec, next, st, slotValues);
    }
  }
}

/** Relaxed matching: one to three words of any value, scored as nothing (literal words decide). */
function compileAnyWords(name: string, next: Step, st: State): Step {
  return (pos, score) => {
    for (let end = pos + 1; end <= Math.min(st.words.length, pos + 3); end++) {
      const first = st.tokens[pos] as Token;
      const last = st.tokens[end - 1] as Token;
      st.args[name] = st.text.slice(first.start, last.end);
      if (next(end, score)) return true;
      delete st.args[name];
    }
    return false;
  };
}

function compileSlot(
  name: string,
  spec: ArgSpec,
  next: Step,
  st: State,
  slotValues: SlotValues,
): Step {
  const bind = (value: ArgValue, pos: number, score: number): boolean => {
    st.args[name] = value;
    if (next(pos, score)) return true;
    delete st.args[name];
    return false;
  };

  if (spec.type === 'integer' || spec.type === 'number') {
    const integer = spec.type === 'integer';
    return (pos, score) => {
      for (const n of readNumbers(st.words, pos)) {
        if (integer && !Number.isInteger(n.value)) continue;
        if (bind(n.value, pos + n.length, score + WORD_SCORE * n.length)) return true;
      }
      return false;
    };
  }

  if (spec.type === 'boolean') {
    return (pos, score) => {
      const value = BOOLEAN_WORDS[st.words[pos] ?? ''];
      return value !== undefined && bind(value, pos + 1, score + WORD_SCORE);
    };
  }

  const values = allowedValues(spec, slotValues);
  if (values !== null) {
    // Longest values first so "living room" wins over a room called "living".
    const choices = values
      .map((value) => ({ value, words: normaliseWords(value) }))
      .filter((c) => c.words.length > 0)
      .sort((a, b) => b.words.length - a.words.length);
    return (pos, score) => {
      for (const c of choices) {
        if (!c.words.every((w, i) => st.words[pos + i] === w)) continue;
        if (bind(c.value, pos + c.words.length, score + WORD_SCORE * c.words.length)) return true;
      }
      return false;
    };
  }

  // Free text: the shortest run of words that lets the rest of the phrase match, as said.
  return (pos, score) => {
    for (let end = pos + 1; end <= st.words.length; end++) {
      const first = st.tokens[pos] as Token;
      const last = st.tokens[end - 1] as Token;
      // Keep the punctuation that closes what was said ("Hello, World!").
      const tail = TRAILING_PUNCTUATION.exec(st.text.slice(last.end))?.[0].length ?? 0;
      if (bind(st.text.slice(first.start, last.end + tail), end, score)) return true;
    }
    return false;
  };
}
