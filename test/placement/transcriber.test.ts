import { describe, expect, it } from 'vitest';
import { pickTranscriber } from '../../node/placement/index.js';
import { peer, type PeerSpec } from './peers.js';

interface Case {
  name: string;
  peers: PeerSpec[];
  mic: string;
  want?: { node: string; local: boolean };
  error?: RegExp;
}

const cases: Case[] = [
  {
    name: 'the mic node transcribes itself when it has STT, even if a peer is nearer and idler',
    peers: [
      { name: 'laptop', self: true, stt: true, loadPerCore: 2 },
      { name: 'desk', stt: true, rttMs: 0.1 },
    ],
    mic: 'id-laptop',
    want: { node: 'laptop', local: true },
  },
  {
    name: 'a mic node without STT sends audio to the STT peer with the lowest RTT',
    peers: [
      { name: 'pi', self: true },
      { name: 'laptop', stt: true, rttMs: 9 },
      { name: 'desk', stt: true, rttMs: 2, loadPerCore: 1 },
    ],
    mic: 'id-pi',
    want: { node: 'desk', local: false },
  },
  {
    name: 'equal RTT goes to the lower load',
    peers: [
      { name: 'pi', self: true },
      { name: 'laptop', stt: true, rttMs: 2, loadPerCore: 0.9 },
      { name: 'desk', stt: true, rttMs: 2, loadPerCore: 0.3 },
    ],
    mic: 'id-pi',
    want: { node: 'desk', local: false },
  },
  {
    name: 'a peer with no RTT measured yet comes after measured ones',
    peers: [
      { name: 'pi', self: true },
      { name: 'laptop', stt: true, rttMs: null },
      { name: 'desk', stt: true, rttMs: 50 },
    ],
    mic: 'id-pi',
    want: { node: 'desk', local: false },
  },
  {
    name: 'peers without STT, suspect or dead are skipped',
    peers: [
      { name: 'pi', self: true },
      { name: 'nas', rttMs: 0.5 },
      { name: 'laptop', stt: true, rttMs: 1, state: 'suspect' },
      { name: 'tv', stt: true, rttMs: 1, state: 'dead' },
      { name: 'desk', stt: true, rttMs: 30 },
    ],
    mic: 'id-pi',
    want: { node: 'desk', local: false },
  },
  {
    name: 'a remote mic node without STT may be served by this node (0 ms away)',
    peers: [
      { name: 'pi' },
      { name: 'me', self: true, stt: true, rttMs: null },
      { name: 'desk', stt: true, rttMs: 0.2 },
    ],
    mic: 'id-pi',
    want: { node: 'me', local: false },
  },
  {
    name: 'no STT anywhere is an error that says what to install',
    peers: [{ name: 'pi', self: true }, { name: 'desk' }],
    mic: 'id-pi',
    error: /no node in the mesh can transcribe speech from pi.*models pull/,
  },
];

describe('pickTranscriber', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_n, c) => {
    const got = pickTranscriber(
      c.peers.map((p) => peer(p)),
      c.mic,
    );
    if (c.error) {
      expect(got).toEqual({ error: expect.stringMatching(c.error) });
      return;
    }
    if ('error' in got) throw new Error(`expected a transcriber, got: ${got.error}`);
    expect({ node: got.node.name, local: got.local }).toEqual(c.want);
    expect(got.reason).toContain(got.node.name);
  });
});
