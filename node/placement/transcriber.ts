/**
 * Where speech is transcribed (pure; DESIGN.md §4): on the mic node itself when it has a working
 * STT engine, so audio never leaves the device; else on the STT-capable alive peer with the lowest
 * RTT, then the lowest load per core, then id.
 */
import type { PeerView } from '../types.js';
import { minBy } from './agents.js';

export type TranscriberPlacement =
  { node: PeerView; local: boolean; reason: string } | { error: string };

export function pickTranscriber(
  view: readonly PeerView[],
  micNodeId: string,
): TranscriberPlacement {
  const mic = view.find((p) => p.id === micNodeId);
  if (mic && mic.capabilities.stt !== null && (mic.self || mic.state === 'alive')) {
    return {
      node: mic,
      local: true,
      reason: `${mic.name} transcribes its own audio (${describeStt(mic)})`,
    };
  }
  const capable = view.filter(
    (p) => p.id !== micNodeId && p.state === 'alive' && p.capabilities.stt !== null,
  );
  const best = minBy(
    capable,
    (p) => [p.self ? 0 : (p.rttMs ?? Number.POSITIVE_INFINITY), p.load.loadPerCore],
    (p) => p.id,
  );
  if (!best) {
    const where = mic ? mic.name : `node ${micNodeId}`;
    return {
      error: `no node in the mesh can transcribe speech from ${where}; get a Whisper model on this node or a faster one (\`helix-node models pull base.en\`, then set stt.model) or use stt.engine = "phrase", and restart helix-node there`,
    };
  }
  const rtt = best.self
    ? 'local'
    : best.rttMs === null
      ? 'RTT unknown'
      : `${best.rttMs.toFixed(1)} ms away`;
  return {
    node: best,
    local: false,
    reason: `${best.name} is the nearest STT node (${rtt}, ${describeStt(best)})`,
  };
}

function describeStt(p: PeerView): string {
  const stt = p.capabilities.stt!;
  return `${stt.engine} ${stt.model}`;
}
