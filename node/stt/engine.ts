/**
 * Speech-to-text engines behind one interface: Whisper (smart-whisper, in process) and the
 * constrained phrase recogniser (pocketsphinx with a grammar from the agents' phrases).
 */
import type { PhraseInterpretation, SlotValues } from '../agentspec/index.js';
import type { Pcm16 } from '../voice/index.js';

export interface TranscriptSegment {
  /** seconds from the start of the audio */
  start: number;
  end: number;
  text: string;
}

export interface Transcript {
  /** what was heard; empty when nothing was, or when the engine rejected an uncertain result */
  text: string;
  segments: TranscriptSegment[];
  /** ISO 639-1 code */
  language: string;
  /** 0..1 */
  confidence: number;
  /**
   * set when the engine heard something but would rather not guess: one plain sentence said to
   * the person as it is ("Did you want the kitchen lights on or off?")
   */
  rejected?: string;
  /** why it was rejected, in the engine's terms: for the trace and the log, never said */
  rejectedDetail?: string;
  /**
   * What the sentence means, from an engine that hears commands only (the phrase recogniser
   * parses what it hears with the agents' grammars anyway): the intent stage runs it instead of
   * parsing the text again. Absent or null when the engine does not say.
   */
  interpretation?: PhraseInterpretation | null;
  /**
   * With `rejected` when it is a question between a few meanings ("Did you want the kitchen
   * lights on or off?", "Sorry, was that thirteen or thirty minutes?"): those meanings, so that
   * the answer ("off", "thirteen") can pick one (pipeline/followup.ts).
   */
  choices?: PhraseInterpretation[];
}

export interface TranscribeOptions {
  signal?: AbortSignal;
}

export interface SttEngine {
  /** "whisper" or "phrase" */
  readonly name: string;
  /** model file or model description */
  readonly model: string;
  /** 16 kHz mono Pcm16 as captured; an engine that computes in floats converts it itself, once */
  transcribe(pcm: Pcm16, opts?: TranscribeOptions): Promise<Transcript>;
  /**
   * Engines that hear a fixed vocabulary (the phrase recogniser) take new `enum_from` values
   * (the mesh's rooms changed) and swap their grammar; the next utterance uses it. Absent on
   * engines that hear anything (Whisper).
   */
  setSlotValues?(slotValues: SlotValues): void;
  close(): Promise<void>;
}
