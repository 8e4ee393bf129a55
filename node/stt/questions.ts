/**
 * What the phrase recogniser says when it will not act: one plain question or sentence that
 * asks for what was missing, never its diagnostics (those go to the trace and the log). Pure.
 */
import { readNumbers, trimPoliteness } from '../agentspec/index.js';

export const SAY_AGAIN = "Sorry, I didn't catch that. Please say it again.";
/** A room may have been said and not heard: the command again, with its room. */
export const WHICH_ROOM = 'Sorry, which room did you mean? Please say it again with the room.';

/** The words that say "switch" (the lights grammar's verbs) and the two that decide it. */
const SWITCH_WORDS = new Set(['turn', 'switch', 'put', 'on', 'off']);
const PRONOUNS = new Set(['it', 'them', 'that', 'those', 'these', 'this']);

/** "Did you want the living room lights on or off?" from what was heard ("turn on the living room lights"). */
export function onOrOff(heard: string): string {
  const all = heard.split(/\s+/).filter(Boolean);
  const [lo, hi] = trimPoliteness(all);
  const rest = all.slice(lo, hi).filter((w) => !SWITCH_WORDS.has(w));
  if (rest.length === 0) return 'Did you want it on or off?';
  if (rest[0] !== 'the' && !PRONOUNS.has(rest[0]!)) rest.unshift('the');
  return `Did you want ${rest.join(' ')} on or off?`;
}

/**
 * The question for decodes that heard different sentences: on or off, which number, or (when
 * they differ in more) to say it again.
 */
export function clarify(heard: readonly string[]): string {
  const sentences = [...new Set(heard.filter(Boolean))];
  if (sentences.length < 2) return SAY_AGAIN;
  const [first, ...others] = sentences.map((s) => s.split(' '));
  const spans = others.map((o) => differingSpans(first!, o));
  if (spans.every(([a, b]) => isOnOff(a) && isOnOff(b) && a[0] !== b[0]))
    return onOrOff(sentences[0]!);
  const numbers = spans.map(([a, b]) => [wholeNumber(a), wholeNumber(b)] as const);
  if (numbers.every(([a, b]) => a !== null && b !== null)) {
    const said = [...new Set(spans.flatMap(([a, b]) => [a.join(' '), b.join(' ')]))];
    const [, , after] = differingSpans(first!, others[0]!);
    const unit = after[0] && /^(minutes?|seconds?|percent)$/.test(after[0]) ? ` ${after[0]}` : '';
    return `Sorry, was that ${said.slice(0, -1).join(', ')} or ${said.at(-1)}${unit}?`;
  }
  return SAY_AGAIN;
}

/** The words where a and b differ, and the words after them (a's). */
function differingSpans(
  a: readonly string[],
  b: readonly string[],
): [string[], string[], string[]] {
  let p = 0;
  while (p < a.length && p < b.length && a[p] === b[p]) p++;
  let s = 0;
  while (s < a.length - p && s < b.length - p && a[a.length - 1 - s] === b[b.length - 1 - s]) s++;
  // a number differs as a whole: "twenty five" or "twenty nine", not "five" or "nine"
  while (p > 0 && isNumberWord(a[p - 1]!)) p--;
  while (s > 0 && isNumberWord(a[a.length - s]!)) s--;
  return [a.slice(p, a.length - s), b.slice(p, b.length - s), a.slice(a.length - s)];
}

function isNumberWord(w: string): boolean {
  return w === 'hundred' || w === 'thousand' || readNumbers([w], 0).length > 0;
}

function isOnOff(words: readonly string[]): boolean {
  return words.length === 1 && (words[0] === 'on' || words[0] === 'off');
}

function wholeNumber(words: readonly string[]): number | null {
  if (words.length === 0) return null;
  const n = readNumbers(words, 0).find((r) => r.length === words.length);
  return n ? n.value : null;
}
