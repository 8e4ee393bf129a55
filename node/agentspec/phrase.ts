/**
 * The phrase grammar of agent manifests (pure):
 *   "turn (on|off) [the] {room} lights"
 * "(a|b)" alternatives, "[x]" optional words (also "[a|b]"), "{slot}" an argument; groups nest.
 * Words are normalised like transcripts (see normalise.ts). A written "the" is optional, since
 * people and speech recognisers drop it.
 */
import { HelixError } from '../errors.js';
import { tokenize } from './normalise.js';

/**
 * The one syntax tree of the command language. The fast matcher, the recogniser's JSGF grammar,
 * the LLM's JSON schema and the sample phrases are all compiled from it.
 */
export type PhraseNode =
  | {
      kind: 'word';
      /** normalised like transcripts (what the fast matcher compares) */
      word: string;
      /** as written, lower case, apostrophes kept ("what's"): what the recogniser's dictionary spells */
      said: string;
    }
  | { kind: 'slot'; name: string }
  | {
      kind: 'choice';
      options: PhraseNode[][];
      optional: boolean;
      /** a written word made optional by the language ("the"), not by the phrase's author */
      implicit?: true;
    };

/** A phrase that does not parse; the message says where. */
export class PhraseSyntaxError extends HelixError {
  override readonly exitCode = 65;
  constructor(
    readonly phrase: string,
    readonly at: number,
    readonly problem: string,
  ) {
    super(`${problem} at character ${at + 1} of ${JSON.stringify(phrase)}`);
  }
}

const SLOT_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

/**
 * Politeness around any command, part of the language rather than of each phrase: "please",
 * "could you", "can you please" before it, "please", "thanks", "for me" after it. The fast matcher
 * strips them (trimPoliteness); the recogniser's grammar puts the closings after every phrase and
 * the openings only before the forms that start with a verb, as people say them (jsgf.ts), so
 * every sentence it hears, the fast matcher reads.
 */
export const POLITE_OPENINGS: readonly (readonly string[])[] = [
  ['please'],
  ['can', 'you'],
  ['could', 'you'],
  ['would', 'you'],
  ['will', 'you'],
];
export const POLITE_CLOSINGS: readonly (readonly string[])[] = [
  ['please'],
  ['thanks'],
  ['thank', 'you'],
  ['for', 'me'],
];

/**
 * The span [lo, hi) of normalised words left once polite openings and closings are taken off
 * either end (any number of them: "could you please … for me thanks"); never empties the words.
 */
export function trimPoliteness(words: readonly string[]): [number, number] {
  let lo = 0;
  let hi = words.length;
  const startsWith = (f: readonly string[]) => f.every((w, i) => words[lo + i] === w);
  const endsWith = (f: readonly string[]) => f.every((w, i) => words[hi - f.length + i] === w);
  for (let again = true; again;) {
    again = false;
    for (const f of POLITE_OPENINGS) {
      if (hi - lo > f.length && startsWith(f)) {
        lo += f.length;
        again = true;
      }
    }
  }
  for (let again = true; again;) {
    again = false;
    for (const f of POLITE_CLOSINGS) {
      if (hi - lo > f.length && endsWith(f)) {
        hi -= f.length;
        again = true;
      }
    }
  }
  return [lo, hi];
}
const OPTIONAL_WORDS = new Set(['the']);

/** Parse one phrase into a node sequence. Throws PhraseSyntaxError. */
export function parsePhrase(phrase: string): PhraseNode[] {
  let pos = 0;

  const fail = (problem: string, at = pos): never => {
    throw new PhraseSyntaxError(phrase, at, problem);
  };

  const parseAlternatives = (close: ')' | ']' | null): PhraseNode[][] => {
    const options: PhraseNode[][] = [parseSequence()];
    while (phrase[pos] === '|') {
      pos += 1;
      options.push(parseSequence());
    }
    if (close === null) {
      if (pos < phrase.length) fail(`unexpected "${phrase[pos]}"`);
    } else if (phrase[pos] !== close) {
      fail(`missing "${close}"`);
    } else {
      pos += 1;
    }
    if (options.some((o) => o.length === 0)) fail('empty alternative');
    return options;
  };

  const parseSequence = (): PhraseNode[] => {
    const nodes: PhraseNode[] = [];
    while (pos < phrase.length) {
      const c = phrase[pos] as string;
      if (c === '|' || c === ')' || c === ']') break;
      if (/\s/.test(c)) {
        pos += 1;
      } else if (c === '(' || c === '[') {
        const open = pos;
        pos += 1;
        const options = parseAlternatives(c === '(' ? ')' : ']');
        if (options.length === 0) fail('empty group', open);
        nodes.push({ kind: 'choice', options, optional: c === '[' });
      } else if (c === '{') {
        const end = phrase.indexOf('}', pos);
        if (end < 0) fail('missing "}"');
        const name = phrase.slice(pos + 1, end).trim();
        if (!SLOT_NAME.test(name))
          fail(`bad slot name "${name}" (lower-case letters, digits, "-", "_")`);
        nodes.push({ kind: 'slot', name });
        pos = end + 1;
      } else if (c === '}') {
        fail('unexpected "}"');
      } else {
        const start = pos;
        while (pos < phrase.length && !/[\s()[\]{}|]/.test(phrase[pos] as string)) pos += 1;
        const written = phrase.slice(start, pos);
        for (const t of tokenize(written)) {
          const raw = written.slice(t.start, t.end).toLowerCase().replace(/’/g, "'");
          const said = raw.replace(/[^a-z0-9']/g, '') || t.norm;
          const word: PhraseNode = { kind: 'word', word: t.norm, said };
          nodes.push(
            OPTIONAL_WORDS.has(t.norm)
              ? { kind: 'choice', options: [[word]], optional: true, implicit: true }
              : word,
          );
        }
      }
    }
    return nodes;
  };

  if (phrase.trim() === '') fail('is empty', 0);
  const options = parseAlternatives(null);
  const nodes =
    options.length === 1
      ? (options[0] as PhraseNode[])
      : [{ kind: 'choice' as const, options, optional: false }];
  if (nodes.length === 0) fail('is empty', 0);
  return nodes;
}

/** Slot names used in a parsed phrase, in order of first use. */
export function slotNames(nodes: readonly PhraseNode[]): string[] {
  const names: string[] = [];
  const walk = (seq: readonly PhraseNode[]): void => {
    for (const n of seq) {
      if (n.kind === 'slot') {
        if (!names.includes(n.name)) names.push(n.name);
      } else if (n.kind === 'choice') {
        n.options.forEach(walk);
      }
    }
  };
  walk(nodes);
  return names;
}

/**
 * Slots that some path through the phrase uses twice ("{a} and {a}"): a match could not say
 * which value the argument has.
 */
export function repeatedSlots(nodes: readonly PhraseNode[]): string[] {
  const repeated = new Set<string>();
  // Count, per path, the most times each slot can occur; alternatives take the max.
  const count = (seq: readonly PhraseNode[]): Map<string, number> => {
    const total = new Map<string, number>();
    for (const n of seq) {
      let part: Map<string, number>;
      if (n.kind === 'slot') part = new Map([[n.name, 1]]);
      else if (n.kind === 'choice') {
        part = new Map();
        for (const o of n.options)
          for (const [k, v] of count(o)) part.set(k, Math.max(part.get(k) ?? 0, v));
      } else continue;
      for (const [k, v] of part) total.set(k, (total.get(k) ?? 0) + v);
    }
    return total;
  };
  for (const [k, v] of count(nodes)) if (v > 1) repeated.add(k);
  return [...repeated];
}

/** Words that every match of the phrase must contain (used to skip phrases quickly). */
export function requiredWords(nodes: readonly PhraseNode[]): string[] {
  const words: string[] = [];
  for (const n of nodes) {
    if (n.kind === 'word') words.push(n.word);
    else if (n.kind === 'choice' && !n.optional) {
      // A word is required through a choice only if every option requires it.
      const perOption = n.options.map((o) => new Set(requiredWords(o)));
      const [first, ...rest] = perOption;
      for (const w of first ?? []) if (rest.every((s) => s.has(w))) words.push(w);
    }
  }
  return [...new Set(words)];
}
