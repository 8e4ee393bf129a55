/** The rule of many mics, one action (node/pipeline/arbitration.ts) as tables. */
import { describe, expect, it } from 'vitest';
import {
  arbitrate,
  compareHeard,
  decidedEarly,
  sameUtterance,
  type HeardUtterance,
} from '../../node/pipeline/index.js';

const T = 1_700_000_000_000;

function h(
  node: string,
  snrDb: number,
  levelDbfs: number,
  startAt = T,
  endAt = T + 1500,
): HeardUtterance {
  return {
    node,
    name: node,
    utteranceId: `u-${node}-${startAt}`,
    startAt,
    endAt,
    levelDbfs,
    snrDb,
  };
}

describe('sameUtterance: overlapping speech windows, allowing clock skew', () => {
  it.each([
    ['identical', [0, 1500], [0, 1500], true],
    ['one starts 40 ms later (skew)', [0, 1500], [40, 1540], true],
    ['one ends 60 ms earlier (quieter mic)', [0, 1500], [30, 1440], true],
    ['far mic heard only the middle', [0, 2000], [600, 1200], true],
    ['touching within the skew allowance', [0, 1000], [1080, 2000], true],
    ['the next command, 0.7 s later', [0, 1000], [1700, 2500], false],
    ['earlier, clearly apart', [2000, 3000], [0, 1500], false],
  ] as const)('%s', (_, a, b, expected) => {
    const x = { startAt: T + a[0], endAt: T + a[1] };
    const y = { startAt: T + b[0], endAt: T + b[1] };
    expect(sameUtterance(x, y, 100)).toBe(expected);
    expect(sameUtterance(y, x, 100)).toBe(expected);
  });
});

describe('compareHeard: SNR, then level, then node id', () => {
  it.each([
    ['higher SNR wins over a louder level', h('a', 20, -40), h('b', 15, -10), 'a'],
    ['equal SNR: louder wins', h('a', 20, -30), h('b', 20, -25), 'b'],
    ['SNR equal to 0.1 dB: level decides', h('a', 20.04, -30), h('b', 19.96, -25), 'b'],
    ['SNR 0.1 dB apart decides', h('a', 20.1, -30), h('b', 20.0, -25), 'a'],
    ['full tie: lower node id', h('b', 20, -30), h('a', 20, -30), 'a'],
  ])('%s', (_, x, y, winner) => {
    expect(arbitrate(x, [y]).winner.node).toBe(winner);
    expect(arbitrate(y, [x]).winner.node).toBe(winner);
    expect(Math.sign(compareHeard(x, y))).toBe(-Math.sign(compareHeard(y, x)));
  });
});

describe('arbitrate: every node names the same winner', () => {
  const cases: { name: string; all: HeardUtterance[]; winner: string; heard: number }[] = [
    {
      name: 'three mics, one utterance',
      all: [h('a', 12, -38), h('b', 25, -22), h('c', 18, -30)],
      winner: 'b',
      heard: 3,
    },
    {
      name: 'clock skew of tens of ms between the three',
      all: [
        h('a', 12, -38, T - 40, T + 1460),
        h('b', 25, -22, T + 30, T + 1530),
        h('c', 18, -30, T + 10, T + 1480),
      ],
      winner: 'b',
      heard: 3,
    },
    {
      name: 'a two-way tie on SNR and level',
      all: [h('c', 20, -30), h('b', 20, -30), h('a', 10, -30)],
      winner: 'b',
      heard: 3,
    },
  ];
  it.each(cases)('$name', ({ all, winner, heard }) => {
    for (const own of all) {
      const v = arbitrate(
        own,
        all.filter((x) => x !== own),
      );
      expect(v.winner.node).toBe(winner);
      expect(v.won).toBe(own.node === winner);
      expect(v.heard).toHaveLength(heard);
      expect(v.heard[0]!.node).toBe(winner);
    }
  });

  it('utterances that do not overlap are judged apart: each acts on its own', () => {
    const first = h('a', 10, -40, T, T + 1000);
    const second = h('b', 30, -20, T + 3000, T + 4000);
    expect(arbitrate(first, [second]).won).toBe(true);
    expect(arbitrate(second, [first]).won).toBe(true);
    expect(arbitrate(first, [second]).heard).toHaveLength(1);
  });

  it('a node counts once, by its best overlapping hearing; its own other hearings are ignored', () => {
    const own = h('a', 20, -30);
    const v = arbitrate(own, [h('b', 10, -30), h('b', 15, -30), { ...h('a', 40, -10) }]);
    expect(v.won).toBe(true);
    expect(v.heard.map((x) => [x.node, x.snrDb])).toEqual([
      ['a', 20],
      ['b', 15],
    ]);
  });
});

describe('decidedEarly: before the window closes', () => {
  const own = h('a', 20, -30);
  it.each([
    ['alone: at once, won', [], [], true],
    ['a better hearing arrived: lost at once', [h('b', 25, -30)], ['b', 'c'], false],
    ['a worse one arrived, c not yet: wait', [h('b', 10, -30)], ['b', 'c'], null],
    [
      'every mic peer announced, all worse: won',
      [h('b', 10, -30), h('c', 5, -30)],
      ['b', 'c'],
      true,
    ],
    [
      'b announced another utterance: wait for it',
      [h('b', 30, -20, T + 5000, T + 6000)],
      ['b'],
      null,
    ],
  ] as const)('%s', (_, others, peers, expected) => {
    const v = decidedEarly(own, others, peers);
    expect(v === null ? null : v.won).toBe(expected);
  });
});
