/**
 * The constrained command recogniser for weak devices (like Home Assistant's speech-to-phrase):
 * pocketsphinx decodes against a grammar of the agents' phrases, so it only ever hears
 * sentences that mean something; uncertain results are rejected rather than guessed.
 *
 * Rejection. A plain grammar decode acts wrongly on a few percent of utterances ("turn ... off"
 * heard as "... on", "five" as "nine", an unconfigured room as the nearest configured one). Five
 * things stand between a decode and an action:
 *  - decoys in the grammar (agentspec/jsgf.ts): unconfigured rooms and everyday non-commands
 *    can win the search, and a decoy result is rejected;
 *  - agreement: the utterance is decoded three times, and a meaning that changes between the
 *    decodes is not trusted. Beside the plain decode, one warps the vocal tract length by 0.9
 *    (VTLN) and one normalises the cepstral mean live, from a running estimate, where the others
 *    take the mean of the whole utterance: a decode that differs in its front end errs differently;
 *  - fit: the best path's acoustic score per 10 ms frame; audio that matches no phrase well
 *    (another accent, another sentence) is forced onto some phrase with a poor fit;
 *  - the deciding word checked on its own audio: a decoded "on" or "off" must end like one (a
 *    nasal or a fricative after the vowel, verify.ts), else the person is asked which;
 *  - the room (with optional rooms): a reading that names no room is decoded again with the room
 *    required, and a configured room that fits almost as well means the room may have been said
 *    and lost ("turn on office light" heard as "turn off the light"): the person is asked which.
 * A refusal is one plain question or sentence (questions.ts); why goes to `rejectedDetail`, which
 * the pipeline puts in the trace. Each decode scores 8 Gaussians per frame (-topn,
 * pocketsphinx.ts), loads only the grammar's words from the dictionary, and searches the grammar
 * as its minimal word automaton (fsg.ts), which halved the recogniser's time per utterance.
 * Right / refused / wrong on a tuning set and on held-out sets of other voices, speeds and
 * phrasings: bench/stt/phrases.ts.
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DependencyMissingError } from '../errors.js';
import { untilAborted } from '../async.js';
import type { SttEngine, TranscribeOptions, Transcript } from './engine.js';
import {
  buildPhraseGrammar,
  type AgentManifest,
  type PhraseGrammar,
  type PhraseInterpretation,
  type SlotValues,
} from '../agentspec/index.js';
import {
  DEBIAN_MODEL_DIR,
  grammarDictionary,
  WarmDecoder,
  type DecodeGrammar,
  type PocketsphinxConfig,
  type PsResult,
} from './pocketsphinx.js';
import type { Pcm16 } from '../voice/index.js';
import { clarify, onOrOff, SAY_AGAIN, WHICH_ROOM } from './questions.js';
import { checkOnOff } from './verify.js';
import { jsgfToFsg } from './fsg.js';

export interface PhraseRecogniserOptions {
  manifests: readonly AgentManifest[];
  /** values of enum_from tables, e.g. { "lights.rooms": ["kitchen", "living room"] } */
  slotValues?: SlotValues;
  pocketsphinx?: PocketsphinxConfig;
  /** decodes besides the plain one; all must agree (default DEFAULT_VARIANTS) */
  variants?: readonly DecodeVariant[];
  /** lowest acceptable acoustic score per frame (default -90; clear speech measures -40..-75) */
  minFit?: number;
  /** largest number a number slot can be spoken as (default 120) */
  maxNumber?: number;
  /** check a decoded "on" or "off" on its audio (verify.ts; default true) */
  checkOnOff?: boolean;
  /**
   * Lowest acceptable fit of the best path against a free phone loop over the same frames
   * (acoustic score per 10 ms frame, grammar path minus phone loop; default DEFAULT_MIN_MARGIN).
   * Speech the grammar does not hold is forced onto some phrase and fits much worse than the
   * phones it is made of; -Infinity turns the check (and its decode) off.
   */
  minMargin?: number;
  /**
   * The same for each word of the best path on its own frames (default DEFAULT_MIN_WORD_MARGIN):
   * a word stretched over speech the grammar lacks ("the" over "the workshop") fits far worse
   * than free phones there, even when the whole sentence fits well enough.
   */
  minWordMargin?: number;
  /**
   * Hear a phrase without its optional room ("turn on the lights": the pipeline fills in the room
   * of the mic that heard it); PhraseGrammarOptions.optionalEnumSlots. Default false (the
   * daemon's stt.roomless turns it on).
   */
  optionalEnumSlots?: boolean;
  /**
   * minMargin for a decode that names no room where its intent takes one (default
   * DEFAULT_MIN_MARGIN_ROOMLESS). Short room-less paths ("the light on", "light off please") are
   * where speech that is no command lands most often, so they must fit better.
   */
  minMarginRoomless?: number;
  /**
   * With optional rooms: how much better (per frame) a decode that names no room must fit than a
   * second decode of the same audio in which the room is required, before the mic's room is used
   * (default DEFAULT_MIN_ROOMLESS_LEAD; -Infinity turns the check and its decoder off). A room
   * said but not heard ("turn on office light" as "turn off the light") would act on the wrong
   * room; the room-required decode hears it back, where a truly room-less command finds no room
   * that fits as well.
   */
  minRoomlessLead?: number;
  /**
   * Decode against the grammar as a minimal word automaton (fsg.ts; default true) rather than
   * pocketsphinx's own expansion of the JSGF: the same sentences, a third of the search's cost,
   * and every sentence equally likely before the audio is heard.
   */
  minimalGrammar?: boolean;
}

/** How one extra decode of an utterance differs from the plain one. */
export interface DecodeVariant {
  /** vocal tract length warp factor (VTLN, -warp_type inverse_linear) */
  warp?: number;
  /** cepstral mean normalisation: a running estimate, as a live stream is decoded */
  cmn?: 'live';
}

/** A transcript plus what the recogniser understood. */
export interface PhraseTranscript extends Transcript {
  /** agent, intent and slot values, when accepted */
  interpretation: PhraseInterpretation | null;
  /** acoustic score per frame of the best path */
  fit: number;
  /** the sentence each decode heard (plain first, then one per variant) */
  votes: string[];
  /**
   * the plain decode's words with their times (seconds from the start of the audio) and, when
   * measured, each word's own margin against the free phone loop (per frame)
   */
  words: { word: string; start: number; end: number; margin?: number }[];
  /** fit minus a free phone loop's fit over the same frames (per frame); null when not measured */
  margin: number | null;
  /** the lowest of the words' own margins (per frame); null when not measured */
  wordMargin: number | null;
  /**
   * for a reading that names no room: what the decode with the room required heard, how much
   * better per frame the room-less reading fits (minRoomlessLead), and whether that reading is a
   * command of the same agent with a configured room (a decoy room is none); absent when not
   * decoded
   */
  withRoom?: { text: string; lead: number; namesRoom: boolean };
}

/** The vocal tract warped by 0.9, and a live-CMN decode (see the header for how they were chosen). */
export const DEFAULT_VARIANTS: readonly DecodeVariant[] = [{ warp: 0.9 }, { cmn: 'live' }];
export const DEFAULT_MIN_FIT = -90;
/**
 * Chosen on the seen sets (bench/stt/phrases.ts held-out-a and not-commands, optional rooms on):
 * right commands measured -55..-20 (5th percentile -51), the 7 non-commands the grammar alone
 * acted on -67..-51.3; at -51 none acts and 3.8 % of the commands are refused instead.
 */
export const DEFAULT_MIN_MARGIN = -51;
/**
 * Chosen on set C (bench/stt/phrases.ts --dump, 2026-12-04): of the non-commands the grammar still
 * acted on, half had one word stretched over speech the grammar lacks, fitting 104-141 per frame
 * worse than free phones there ("yes please" as "light off please", "the kitchen is closed" as
 * "the kitchen light to twelve"); of the commands heard right, one in 127 there and none of the
 * 527 in the tuning sets and sets A and B had a word below -100.
 */
export const DEFAULT_MIN_WORD_MARGIN = -100;
/**
 * Chosen on the tuning set (bench/stt/phrases.ts, rooms optional): right room-less commands
 * measured -50..-25 (median -34), the non-commands decoded as room-less commands -65..-39 bar a
 * dial tone at -26 (the decodes' disagreement refused those); at -40 about one room-less command
 * in five is asked again.
 */
export const DEFAULT_MIN_MARGIN_ROOMLESS = -40;
/**
 * Chosen on the seen sets (bench/stt/phrases.ts --dump, tuning and held-out-e, 2026-12-04): the 5
 * room commands acted on without their room all had their room back in the room-required decode,
 * 0.3-7.3 per frame behind the room-less reading, and none of the 30 room-less commands heard right
 * had a configured room there at all (decoy rooms fit them better). Held-out F: 21 room-less
 * commands right, none asked. An earlier sample (20 sentences, 6 voices) had lost rooms at
 * 0.3-7.8 and bare decoy rooms or worse fits at 10 and more.
 */
export const DEFAULT_MIN_ROOMLESS_LEAD = 8;

/** The grammar and what the decoder takes of it, swapped together (setSlotValues). */
interface Vocabulary {
  grammar: PhraseGrammar;
  /** the grammar and the dictionary entries of its words, as the decoder takes them */
  search: DecodeGrammar;
  /** one running decoder per decode (plain first, then the variants), started with the first utterance */
  decoders: WarmDecoder[];
  /** the grammar with every room required, and its decoder (minRoomlessLead); null when off */
  roomful: { grammar: PhraseGrammar; decoder: WarmDecoder } | null;
}

export class PhraseRecogniser implements SttEngine {
  readonly name = 'phrase';
  private closed = false;
  #vocab: Vocabulary;
  /** the free phone loop the best path is measured against (minMargin) */
  readonly #yardstick: WarmDecoder | null;

  private constructor(
    vocab: Vocabulary,
    private options: PhraseRecogniserOptions,
    /** the whole pronunciation dictionary, kept so the grammar can be rebuilt without a reload */
    private readonly dict: Map<string, string[]>,
  ) {
    this.#vocab = vocab;
    const minMargin = options.minMargin ?? DEFAULT_MIN_MARGIN;
    const minWordMargin = options.minWordMargin ?? DEFAULT_MIN_WORD_MARGIN;
    this.#yardstick =
      minMargin > -Infinity || minWordMargin > -Infinity
        ? new WarmDecoder({ jsgf: 'phone-loop', dict: vocab.search.dict }, options.pocketsphinx)
        : null;
  }

  /** The grammar decodes run against now (a rebuild swaps it). */
  get grammar(): PhraseGrammar {
    return this.#vocab.grammar;
  }

  get model(): string {
    return `pocketsphinx en-us, ${this.#vocab.grammar.phraseCount} phrases`;
  }

  /** Builds the grammar from the manifests and checks pocketsphinx's dictionary is there. */
  static async create(options: PhraseRecogniserOptions): Promise<PhraseRecogniser> {
    const dictPath = options.pocketsphinx?.dict ?? join(DEBIAN_MODEL_DIR, 'cmudict-en-us.dict');
    if (!existsSync(dictPath)) {
      throw new DependencyMissingError(
        `pocketsphinx dictionary ${dictPath}`,
        'install the recogniser with `apt-get install pocketsphinx pocketsphinx-en-us`',
      );
    }
    const dict = await loadDictionary(dictPath);
    return new PhraseRecogniser(buildVocabulary(options, dict), options, dict);
  }

  /**
   * New slot values (rooms changed): the grammar is rebuilt from the kept dictionary and swapped
   * in one assignment with new decoders; the old decoders finish the utterances they were given
   * and exit, so a decode in flight finishes on the old grammar and the next one uses the new.
   */
  setSlotValues(slotValues: SlotValues): void {
    const options = { ...this.options, slotValues };
    const vocab = buildVocabulary(options, this.dict);
    const old = this.#vocab;
    this.options = options;
    this.#vocab = vocab;
    void Promise.all([...old.decoders, old.roomful?.decoder].map((d) => d?.close()));
  }

  /** Starts the decoders now (model and grammar loaded) instead of with the first utterance. */
  async warm(): Promise<void> {
    await Promise.all(this.#running().map((d) => d?.start()));
  }

  #running(): (WarmDecoder | null | undefined)[] {
    const v = this.#vocab;
    return [...v.decoders, v.roomful?.decoder, this.#yardstick];
  }

  async transcribe(pcm: Pcm16, opts: TranscribeOptions = {}): Promise<PhraseTranscript> {
    const [result] = await this.recogniseMany([pcm], opts);
    return result!;
  }

  /** Decodes several utterances in one pocketsphinx run per decode (tests, benchmarks). */
  async recogniseMany(
    clips: readonly Pcm16[],
    opts: TranscribeOptions = {},
  ): Promise<PhraseTranscript[]> {
    if (this.closed) throw new Error('phrase recogniser is closed');
    const vocab = this.#vocab;
    const decodes = vocab.decoders.map((d) => d.decode(clips, opts.signal));
    // the clips the plain decode heard without a room are decoded again with the room required,
    // as soon as it answers (beside the variants' decodes)
    const roomful = vocab.roomful;
    const again = roomful
      ? decodes[0]!.then(async (plain) => {
          const which = plain.flatMap((r, i) => {
            const m = vocab.grammar.interpret(r.text);
            return m && omitsEnumArg(this.options.manifests, m) ? [i] : [];
          });
          const runs = which.length
            ? await roomful.decoder.decode(
                which.map((i) => clips[i]!),
                opts.signal,
              )
            : [];
          return new Map(which.map((i, k) => [i, runs[k]!]));
        })
      : undefined;
    const [runs, phones, roomfulRuns] = await untilAborted(
      Promise.all([Promise.all(decodes), this.#yardstick?.decode(clips, opts.signal), again]),
      opts.signal,
    );
    return clips.map((pcm, i) => {
      const heard = this.decide(
        vocab.grammar,
        runs.map((r) => r[i]!),
        pcm,
        phones?.[i],
      );
      const withRoom = roomfulRuns?.get(i);
      return roomful && withRoom ? this.checkRoom(heard, withRoom, roomful.grammar) : heard;
    });
  }

  /**
   * An accepted reading that names no room, against the best reading with a room: when that
   * names a configured room of the same agent and fits almost as well, the room may have been
   * said and lost ("turn on office light" heard as "turn off the light"), so the person is asked.
   */
  private checkRoom(
    heard: PhraseTranscript,
    withRoom: PsResult,
    grammar: PhraseGrammar,
  ): PhraseTranscript {
    // only room-less plain readings were decoded again; a refused one stays refused
    const m = heard.interpretation;
    if (!m) return heard;
    const other = grammar.interpret(withRoom.text);
    const minLead = this.options.minRoomlessLead ?? DEFAULT_MIN_ROOMLESS_LEAD;
    const lead = heard.fit - pathFit(withRoom);
    // a command of the same agent that names a room (a decoy room, not configured, is none)
    const namesRoom =
      other !== null && other.agent === m.agent && !omitsEnumArg(this.options.manifests, other);
    const measured = { ...heard, withRoom: { text: withRoom.text, lead, namesRoom } };
    if (!namesRoom || !(lead < minLead)) return measured;
    return {
      ...measured,
      text: '',
      confidence: 0,
      interpretation: null,
      rejected: WHICH_ROOM,
      rejectedDetail: `"${heard.text}" names no room, but "${withRoom.text}" (the room required) fits only ${lead.toFixed(1)} per frame worse (room-less lead < ${minLead})`,
    };
  }

  private decide(
    grammar: PhraseGrammar,
    votes: PsResult[],
    pcm: Pcm16,
    phones: PsResult | undefined,
  ): PhraseTranscript {
    const best = votes[0]!;
    const minFit = this.options.minFit ?? DEFAULT_MIN_FIT;
    const minMargin = this.options.minMargin ?? DEFAULT_MIN_MARGIN;
    const first = best.words[0];
    const last = best.words.at(-1);
    const fit = pathFit(best);
    const margin =
      phones && first && last && Number.isFinite(fit)
        ? fit - spanFit(phones, first.start, last.end)
        : null;
    const minWordMargin = this.options.minWordMargin ?? DEFAULT_MIN_WORD_MARGIN;
    const wordMargins =
      phones && margin !== null
        ? best.words.map((w) => {
            const n = Math.max(1, Math.round((w.end - w.start) * 100));
            return { word: w.word, margin: w.acoustic / n - spanFit(phones, w.start, w.end) };
          })
        : [];
    const weakest = wordMargins.reduce<(typeof wordMargins)[number] | null>(
      (a, b) => (a === null || b.margin < a.margin ? b : a),
      null,
    );
    const meanings = votes.map((v) => grammar.interpret(v.text));
    const interpretation = meanings[0] ?? null;
    const base = {
      segments: best.words.length
        ? [{ start: best.words[0]!.start, end: best.words.at(-1)!.end, text: best.text }]
        : [],
      language: 'en',
      fit,
      votes: votes.map((v) => v.text),
      words: best.words.map(({ word, start, end }, i) => ({
        word,
        start,
        end,
        ...(wordMargins[i] ? { margin: wordMargins[i].margin } : {}),
      })),
      margin,
      wordMargin: weakest?.margin ?? null,
    };
    const reject = (why: string, detail: string): PhraseTranscript => ({
      ...base,
      text: '',
      confidence: 0,
      interpretation: null,
      rejected: why,
      rejectedDetail: detail,
    });
    // `rejected` is said to the person as it is: one plain sentence or question; the why of it
    // (`rejectedDetail`) goes to the trace and the log
    if (!best.text) return reject("I didn't catch a command.", 'no path through the grammar');
    if (!interpretation)
      return reject(
        `I heard "${best.text}", which is not a command I know.`,
        `"${best.text}" is a decoy (not a command)`,
      );
    const key = (m: PhraseInterpretation | null) =>
      m ? `${m.agent}.${m.intent} ${JSON.stringify(m.args)}` : '';
    if (meanings.some((m) => key(m) !== key(interpretation))) {
      const heard = votes.map((v) => v.text);
      const question = clarify(heard);
      return {
        ...reject(question, `the decodes disagree: ${heard.map((h) => `"${h}"`).join(', ')}`),
        ...(question !== SAY_AGAIN ? { choices: distinct(meanings) } : {}),
      };
    }
    if (fit < minFit)
      return reject(
        SAY_AGAIN,
        `poor fit ${fit.toFixed(1)} per frame (< ${minFit}) for "${best.text}"`,
      );
    if (margin !== null && margin < minMargin)
      return reject(
        SAY_AGAIN,
        `"${best.text}" fits ${(-margin).toFixed(1)} per frame worse than free phones (margin < ${minMargin})`,
      );
    const roomless = this.options.minMarginRoomless ?? DEFAULT_MIN_MARGIN_ROOMLESS;
    if (
      margin !== null &&
      margin < roomless &&
      omitsEnumArg(this.options.manifests, interpretation)
    )
      return reject(
        SAY_AGAIN,
        `"${best.text}" names no room and fits ${(-margin).toFixed(1)} per frame worse than free phones (room-less margin < ${roomless})`,
      );
    if (weakest && weakest.margin < minWordMargin)
      return reject(
        SAY_AGAIN,
        `"${weakest.word}" in "${best.text}" fits ${(-weakest.margin).toFixed(1)} per frame worse than free phones (word margin < ${minWordMargin})`,
      );
    // the word that decides on or off, checked on its audio (verify.ts)
    if (this.options.checkOnOff !== false) {
      const word = best.words.find((w) => w.word === 'on' || w.word === 'off');
      const check = word ? checkOnOff(pcm, word) : null;
      if (check && check.measured !== 'unsure' && check.measured !== check.heard) {
        const other = { ...interpretation, intent: check.measured };
        const agent = this.options.manifests.find((a) => a.name === interpretation.agent);
        return {
          ...reject(
            onOrOff(best.text),
            `decoded "${check.heard}", but its audio ends like "${check.measured}" (${check.frames})`,
          ),
          // the answer ("off") picks one, where the agent has both intents
          ...(interpretation.intent === check.heard &&
          agent?.intents.some((i) => i.name === check.measured)
            ? { choices: [interpretation, other] }
            : {}),
        };
      }
    }
    // 0.5 at the threshold, ~0.98 at the typical fit of clear speech (-45)
    const confidence = 1 / (1 + Math.exp(-(fit - minFit) / 12));
    return { ...base, text: best.text, confidence, interpretation };
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.#running().map((d) => d?.close()));
  }
}

/** The meanings heard, each once, in the order first heard. */
function distinct(meanings: readonly (PhraseInterpretation | null)[]): PhraseInterpretation[] {
  const seen = new Map<string, PhraseInterpretation>();
  for (const m of meanings) {
    const k = m && `${m.agent}.${m.intent} ${JSON.stringify(m.args)}`;
    if (m && k && !seen.has(k)) seen.set(k, m);
  }
  return [...seen.values()];
}

/**
 * Whether `m` names none of the enum arguments its intent takes (no room, no single light): the
 * mic's room fills one in.
 */
function omitsEnumArg(manifests: readonly AgentManifest[], m: PhraseInterpretation): boolean {
  const intent = manifests
    .find((a) => a.name === m.agent)
    ?.intents.find((i) => i.name === m.intent);
  const enums = Object.entries(intent?.args ?? {}).filter(
    ([, spec]) => spec.enum !== undefined || spec.enum_from !== undefined,
  );
  return enums.length > 0 && enums.every(([name]) => m.args[name] === undefined);
}

/** A decode's acoustic score per 10 ms frame of its words (-Infinity when it found no path). */
function pathFit(r: PsResult): number {
  const first = r.words[0];
  const last = r.words.at(-1);
  const frames = first && last ? Math.max(1, Math.round((last.end - first.start) * 100)) : 1;
  return Number.isFinite(r.acoustic) ? r.acoustic / frames : -Infinity;
}

/**
 * A phone loop's acoustic score per frame over [start, end) seconds: its segments there, each
 * counted for the part of it inside the span.
 */
function spanFit(phones: PsResult, start: number, end: number): number {
  let score = 0;
  for (const p of phones.words) {
    const len = p.end - p.start;
    const inside = Math.min(end, p.end) - Math.max(start, p.start);
    if (len > 0 && inside > 0) score += (p.acoustic * inside) / len;
  }
  return score / Math.max(1, Math.round((end - start) * 100));
}

function buildVocabulary(
  options: PhraseRecogniserOptions,
  dict: Map<string, string[]>,
): Vocabulary {
  const grammarWith = (optionalEnumSlots: boolean | undefined, decoySentences = true) => {
    const g = buildPhraseGrammar(options.manifests, {
      slotValues: options.slotValues,
      knownWord: (w) => dict.has(w),
      maxNumber: options.maxNumber,
      optionalEnumSlots,
      ...(decoySentences ? {} : { decoySentences: [], decoyAppliances: [] }),
    });
    const search: DecodeGrammar = {
      jsgf: g.jsgf,
      dict: grammarDictionary(g.jsgf, dict),
      ...(options.minimalGrammar !== false ? { fsg: jsgfToFsg(g.jsgf) } : {}),
    };
    return { grammar: g, search };
  };
  const { grammar, search } = grammarWith(options.optionalEnumSlots);
  const ps = options.pocketsphinx ?? {};
  // the room check's grammar (every room required) and decoder, where rooms are optional
  const checked = options.optionalEnumSlots && options.minRoomlessLead !== -Infinity;
  // it asks which room fits best where one must be named: decoy rooms stay (a room-less command
  // lands on one), whole decoy sentences and appliances go ("turn off the fan for me" is no room,
  // and won over "turn on office light for me" where that had been said)
  const required = checked ? grammarWith(false, false) : null;
  const roomful = required
    ? { grammar: required.grammar, decoder: new WarmDecoder(required.search, ps) }
    : null;
  const decoders = [{}, ...(options.variants ?? DEFAULT_VARIANTS)].map(
    (v: DecodeVariant) =>
      new WarmDecoder(search, {
        ...ps,
        cmn: v.cmn ?? ps.cmn,
        extraArgs: [
          ...(ps.extraArgs ?? []),
          ...(v.warp !== undefined
            ? ['-warp_type', 'inverse_linear', '-warp_params', String(v.warp)]
            : []),
        ],
      }),
  );
  return { grammar, search, decoders, roomful };
}

/**
 * A CMU-format dictionary ("word PH ON ES", alternates as "word(2) …"): each word with its
 * lines, alternates included.
 */
export async function loadDictionary(path: string): Promise<Map<string, string[]>> {
  const text = await readFile(path, 'utf8');
  const words = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp <= 0) continue;
    const word = line.slice(0, sp).replace(/\(\d+\)$/, '');
    const lines = words.get(word);
    if (lines) lines.push(line.trimEnd());
    else words.set(word, [line.trimEnd()]);
  }
  return words;
}
