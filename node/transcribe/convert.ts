/** Transcript <-> wire (proto) Transcript, and Pcm16 -> 64 ms AudioChunks (the wire edge). Pure. */
import type { ArgValue, PhraseInterpretation } from '../agentspec/index.js';
import type { AudioChunk, WireInterpretation, WireTranscript } from '../rpc/index.js';
import { pcm16Bytes, type Pcm16 } from '../voice/index.js';
import { CHUNK_SAMPLES, SAMPLE_RATE, type Transcript } from './types.js';

export function toWireTranscript(t: Transcript): WireTranscript {
  return {
    text: t.text,
    confidence: clamp01(t.confidence),
    language: t.language,
    segments: t.segments.map((s) => ({
      startMs: Math.max(0, Math.round(s.start * 1000)),
      endMs: Math.max(0, Math.round(s.end * 1000)),
      text: s.text,
      confidence: clamp01(t.confidence),
    })),
    interpretation: t.interpretation ? toWireInterpretation(t.interpretation) : undefined,
    rejected: t.rejected ?? '',
    rejectedDetail: t.rejectedDetail ?? '',
    choices: (t.choices ?? []).map(toWireInterpretation),
  };
}

export function fromWireTranscript(t: WireTranscript): Transcript {
  return {
    text: t.text.trim(),
    confidence: clamp01(t.confidence),
    language: t.language,
    segments: t.segments.map((s) => ({
      start: s.startMs / 1000,
      end: s.endMs / 1000,
      text: s.text,
    })),
    ...(t.interpretation ? { interpretation: fromWireInterpretation(t.interpretation) } : {}),
    ...(t.rejected ? { rejected: t.rejected.slice(0, MAX_SAID) } : {}),
    ...(t.rejectedDetail ? { rejectedDetail: t.rejectedDetail.slice(0, MAX_DETAIL) } : {}),
    ...(t.choices?.length
      ? {
          choices: t.choices
            .slice(0, MAX_CHOICES)
            .map(fromWireInterpretation)
            .filter((c): c is PhraseInterpretation => c !== null),
        }
      : {}),
  };
}

/** What a peer's refusal may bring: a sentence to say, a line for the trace, a few choices. */
const MAX_SAID = 300;
const MAX_DETAIL = 1000;
const MAX_CHOICES = 4;

function toWireInterpretation(i: PhraseInterpretation): WireInterpretation {
  return { agent: i.agent, intent: i.intent, argsJson: JSON.stringify(i.args), phrase: i.phrase };
}

/** The peer's interpretation, or null when it is malformed (the text is then routed as usual). */
function fromWireInterpretation(i: WireInterpretation): PhraseInterpretation | null {
  let args: unknown;
  try {
    args = JSON.parse(i.argsJson || '{}');
  } catch {
    return null;
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return null;
  const values = Object.values(args as Record<string, unknown>);
  if (!values.every((v) => ['string', 'number', 'boolean'].includes(typeof v))) return null;
  if (!i.agent || !i.intent) return null;
  const checked = args as Record<string, ArgValue>;
  return { agent: i.agent, intent: i.intent, args: checked, confidence: 1, phrase: i.phrase };
}

/**
 * One utterance as AudioChunks of CHUNK_SAMPLES (the last may be shorter). The first carries the
 * trace id, rate and language; the last has `end`. An empty utterance is one empty `end` chunk.
 */
export function* audioChunks(
  pcm: Pcm16,
  meta: { traceId: string; language?: string },
  chunkSamples: number = CHUNK_SAMPLES,
): Generator<AudioChunk> {
  const count = Math.max(1, Math.ceil(pcm.length / chunkSamples));
  for (let i = 0; i < count; i++) {
    const part = pcm.subarray(i * chunkSamples, (i + 1) * chunkSamples);
    yield {
      traceId: i === 0 ? meta.traceId : '',
      sampleRate: i === 0 ? SAMPLE_RATE : 0,
      language: i === 0 ? (meta.language ?? '') : '',
      pcm: pcm16Bytes(part),
      end: i === count - 1,
    };
  }
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}
