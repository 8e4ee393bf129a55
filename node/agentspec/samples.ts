/**
 * Sentences the agents' grammars accept, with the intent each should yield (pure).
 * For tests and benchmarks (the fast matcher, the phrase recogniser, spoken test utterances).
 */
import type { IntentCall } from './intent.js';
import type { AgentManifest, ArgSpec } from './manifest.js';
import { numberToWords } from './numbers.js';
import { parsePhrase, type PhraseNode } from './phrase.js';
import { allowedValues, type ArgValue, type SlotValues } from './slots.js';

export interface PhraseSample extends IntentCall {
  text: string;
  /** the grammar phrase it came from */
  phrase: string;
}

export interface SampleOptions {
  /** most sentences per phrase (default 24) */
  perPhrase?: number;
  /** spell numbers as words ("twenty five") instead of digits */
  numberWords?: boolean;
  /** the text a free-text slot gets (default "hello world") */
  freeText?: string;
  /** keep every written word, "the" included (what the recogniser's grammar accepts) */
  asWritten?: boolean;
}

function slotFills(
  spec: ArgSpec,
  slotValues: SlotValues,
  opts: SampleOptions,
): { say: string; value: ArgValue }[] {
  switch (spec.type) {
    case 'boolean':
      return [
        { say: 'on', value: true },
        { say: 'off', value: false },
      ];
    case 'integer':
    case 'number': {
      const lo = spec.min ?? 0;
      const hi = spec.max ?? Math.max(lo + 100, 100);
      const picks = [
        ...new Set([lo, Math.round((lo + hi) / 2), hi, Math.min(hi, Math.max(lo, 25))]),
      ].filter(Number.isInteger);
      return picks.map((v) => ({ say: opts.numberWords ? numberToWords(v) : String(v), value: v }));
    }
    case 'string': {
      const values = allowedValues(spec, slotValues);
      if (values) return values.map((v) => ({ say: v, value: v }));
      const text = opts.freeText ?? 'hello world';
      return [{ say: text, value: text }];
    }
  }
}

type Partial = { words: string[]; args: Record<string, ArgValue> };

function expand(
  nodes: readonly PhraseNode[],
  specs: Record<string, ArgSpec>,
  slotValues: SlotValues,
  opts: SampleOptions,
  limit: number,
): Partial[] {
  let acc: Partial[] = [{ words: [], args: {} }];
  for (const node of nodes) {
    const parts: Partial[] = [];
    if (node.kind === 'word') parts.push({ words: [node.word], args: {} });
    else if (node.kind === 'slot') {
      const spec = specs[node.name];
      if (spec)
        for (const f of slotFills(spec, slotValues, opts))
          parts.push({ words: [f.say], args: { [node.name]: f.value } });
    } else {
      for (const o of node.options) parts.push(...expand(o, specs, slotValues, opts, limit));
      if (node.optional && !(node.implicit && opts.asWritten)) parts.push({ words: [], args: {} });
    }
    const next: Partial[] = [];
    // Interleave so a small limit still covers every alternative at least once.
    for (let i = 0; next.length < limit && i < Math.max(acc.length, parts.length); i++) {
      for (let j = 0; j <= i && next.length < limit; j++) {
        const a = acc[j];
        const p = parts[i - j];
        if (a && p) next.push({ words: [...a.words, ...p.words], args: { ...a.args, ...p.args } });
      }
    }
    for (let i = 0; next.length < limit && i < acc.length * parts.length; i++) {
      const a = acc[i % acc.length] as Partial;
      const p = parts[Math.floor(i / acc.length)] as Partial;
      if (!next.some((n) => n.words.join(' ') === [...a.words, ...p.words].join(' '))) {
        next.push({ words: [...a.words, ...p.words], args: { ...a.args, ...p.args } });
      }
    }
    acc = next;
  }
  return acc;
}

/** Sentences accepted by the agents' phrases, each with the intent and args it means. */
export function samplePhrases(
  manifests: readonly AgentManifest[],
  slotValues: SlotValues = {},
  opts: SampleOptions = {},
): PhraseSample[] {
  const limit = opts.perPhrase ?? 24;
  const out: PhraseSample[] = [];
  for (const m of manifests) {
    for (const intent of m.intents) {
      for (const phrase of intent.phrases) {
        const seen = new Set<string>();
        for (const s of expand(parsePhrase(phrase), intent.args, slotValues, opts, limit)) {
          const text = s.words.join(' ');
          if (seen.has(text)) continue;
          seen.add(text);
          out.push({ text, agent: m.name, intent: intent.name, args: s.args, phrase });
        }
      }
    }
  }
  return out;
}
