/** `helix-node trace` as a person reads it: who else heard the command, and who acted. */
import { describe, expect, it } from 'vitest';
import { renderTrace } from '../../node/cli/commands/voice.js';
import type { Trace } from '../../node/pipeline/index.js';

const trace: Trace = {
  schema: 'helix.trace/v1',
  traceId: 'ab12',
  ownerId: '12D3KooWhallpi',
  owner: 'hall-pi',
  source: 'mic',
  startedAt: '2026-12-03T10:00:00.000Z',
  transcript: 'turn on the kitchen lights',
  intent: {
    agent: 'lights',
    intent: 'on',
    args: { room: 'kitchen' },
    confidence: 1,
    via: 'fast',
  },
  reply: 'Turned on the kitchen lights.',
  ok: true,
  totalMs: 312,
  hops: [{ stage: 'vad', node: 'hall-pi', startMs: 0, durationMs: 40, ok: true }],
  heardBy: [
    { node: 'hall-pi', room: 'kitchen', levelDbfs: -21.04, snrDb: 29.4, won: true },
    { node: 'desk', levelDbfs: -30.5, snrDb: 28.2, won: false },
  ],
};

describe('renderTrace', () => {
  it('lists every mic that heard the command, best first, and which acted', () => {
    const text = renderTrace({ color: false }, trace);
    expect(text).toContain(
      'mics:   hall-pi (kitchen) -21.0 dBFS, SNR 29.4 dB — acted; desk -30.5 dBFS, SNR 28.2 dB',
    );
  });

  it('writes the intent with its arguments as a person does, not as JSON', () => {
    expect(renderTrace({ color: false }, trace)).toContain(
      'intent: lights.on room=kitchen (fast, confidence 1.00)',
    );
  });

  it('says nothing of mics when one heard it', () => {
    expect(
      renderTrace({ color: false }, { ...trace, heardBy: [trace.heardBy![0]!] }),
    ).not.toContain('mics:');
  });
});
