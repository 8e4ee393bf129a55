import { describe, expect, it } from 'vitest';
import {
  peersSharingImage,
  pickAgentHost,
  sameImageHash,
  type AgentPlacementRequest,
} from '../../node/placement/index.js';
import { peer, type PeerSpec } from './peers.js';

const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);

interface Case {
  name: string;
  peers: PeerSpec[];
  req?: Partial<AgentPlacementRequest>;
  /** the chosen node's name and whether a warm container takes it */
  want?: { node: string; warm: boolean };
  /** else: the error must match */
  error?: RegExp;
}

const warmReq: AgentPlacementRequest = { agent: 'lights', tier: 'warm', memoryMb: 16 };
const coldReq: AgentPlacementRequest = { agent: 'research', tier: 'cold', memoryMb: 128 };

const warmCases: Case[] = [
  {
    name: 'a warm agent goes to the peer with an idle warm container',
    peers: [{ name: 'laptop' }, { name: 'desk', warm: { lights: 1 } }],
    want: { node: 'desk', warm: true },
  },
  {
    name: 'among peers with idle warm containers the least loaded wins',
    peers: [
      { name: 'laptop', warm: { lights: 1 }, running: 2 },
      { name: 'desk', warm: { lights: 1 }, running: 0, rttMs: 9 },
    ],
    want: { node: 'desk', warm: true },
  },
  {
    name: 'warm: load per core counts after running agents',
    peers: [
      { name: 'laptop', warm: { lights: 1 }, loadPerCore: 1.5 },
      { name: 'desk', warm: { lights: 1 }, loadPerCore: 0.2, rttMs: 9 },
    ],
    want: { node: 'desk', warm: true },
  },
  {
    name: 'warm: equal load goes to the lower RTT',
    peers: [
      { name: 'laptop', warm: { lights: 1 }, rttMs: 8 },
      { name: 'desk', warm: { lights: 1 }, rttMs: 2 },
    ],
    want: { node: 'desk', warm: true },
  },
  {
    name: 'warm: a full tie goes to the lower id',
    peers: [
      { name: 'zeta', id: 'id-b', warm: { lights: 1 } },
      { name: 'alpha', id: 'id-c', warm: { lights: 1 } },
      { name: 'mid', id: 'id-a', warm: { lights: 1 } },
    ],
    want: { node: 'mid', warm: true },
  },
  {
    name: 'warm: this node counts as 0 ms away',
    peers: [
      { name: 'desk', warm: { lights: 1 }, rttMs: 0.3 },
      { name: 'me', self: true, warm: { lights: 1 }, rttMs: null },
    ],
    want: { node: 'me', warm: true },
  },
  {
    name: 'warm: busy warm containers everywhere fall back to a cold run on the least loaded',
    peers: [
      { name: 'laptop', warm: { lights: 0 }, running: 1 },
      { name: 'desk', warm: { lights: 0 } },
    ],
    want: { node: 'desk', warm: false },
  },
  {
    name: 'warm: an idle container of another agent does not count',
    peers: [
      { name: 'laptop', warm: { timer: 3 } },
      { name: 'desk', running: 1, warm: { lights: 1 } },
    ],
    want: { node: 'desk', warm: true },
  },
  {
    name: 'warm: an idle container on a suspect peer is not used',
    peers: [
      { name: 'laptop', state: 'suspect', warm: { lights: 1 } },
      { name: 'desk', running: 3 },
    ],
    want: { node: 'desk', warm: false },
  },
  {
    name: 'warm: with an image hash, only warm containers of that image count',
    peers: [
      { name: 'laptop', warm: { [`lights@${HASH_B}`]: 1 } },
      { name: 'desk', running: 1, warm: { [`lights@${HASH_A}`]: 1 } },
    ],
    req: { imageHash: HASH_A },
    want: { node: 'desk', warm: true },
  },
  {
    name: 'warm: an idle warm container is used even when free memory is low (it is already running)',
    peers: [
      { name: 'laptop', memFreeMiB: 4, warm: { lights: 1 } },
      { name: 'desk', memFreeMiB: 4096 },
    ],
    want: { node: 'laptop', warm: true },
  },
];

const coldCases: Case[] = [
  {
    name: 'a cold run goes to the peer with fewest running agents',
    peers: [
      { name: 'laptop', running: 2 },
      { name: 'desk', running: 1 },
      { name: 'nas', running: 3 },
    ],
    want: { node: 'desk', warm: false },
  },
  {
    name: 'cold: load per core decides between equally busy peers',
    peers: [
      { name: 'laptop', loadPerCore: 0.9 },
      { name: 'desk', loadPerCore: 0.1 },
    ],
    want: { node: 'desk', warm: false },
  },
  {
    name: 'cold: load differences below one step are a tie that the lower RTT breaks',
    peers: [
      { name: 'laptop', loadPerCore: 0.05, rttMs: 12 },
      { name: 'desk', loadPerCore: 0.1, rttMs: 3 },
    ],
    want: { node: 'desk', warm: false },
  },
  {
    name: 'cold: an unmeasured RTT sorts after a measured one',
    peers: [
      { name: 'laptop', rttMs: null },
      { name: 'desk', rttMs: 40 },
    ],
    want: { node: 'desk', warm: false },
  },
  {
    name: 'cold: a peer that holds the image wins at equal load',
    peers: [
      { name: 'laptop', rttMs: 1 },
      { name: 'desk', rttMs: 20, images: ['research'] },
    ],
    want: { node: 'desk', warm: false },
  },
  {
    name: 'cold: a slightly busier image holder still wins',
    peers: [{ name: 'laptop' }, { name: 'desk', loadPerCore: 0.5, images: ['research'] }],
    want: { node: 'desk', warm: false },
  },
  {
    name: 'cold: a clearly busier image holder loses to an idle peer',
    peers: [{ name: 'laptop' }, { name: 'desk', running: 2, images: ['research'] }],
    want: { node: 'laptop', warm: false },
  },
  {
    name: 'cold: with an image hash, a peer holding another version is no holder',
    peers: [
      { name: 'laptop', rttMs: 1, images: [`research@${HASH_B}`] },
      { name: 'desk', rttMs: 5, images: [`research@${HASH_A.slice(0, 16)}`] },
    ],
    req: { imageHash: HASH_A },
    want: { node: 'desk', warm: false },
  },
  {
    name: 'cold: a peer without Docker is never chosen, however idle',
    peers: [
      { name: 'pi', docker: false, self: true },
      { name: 'desk', running: 5, loadPerCore: 3 },
    ],
    want: { node: 'desk', warm: false },
  },
  {
    name: 'cold: dead and left peers are never chosen',
    peers: [
      { name: 'laptop', state: 'dead' },
      { name: 'nas', state: 'left' },
      { name: 'desk', running: 4 },
    ],
    want: { node: 'desk', warm: false },
  },
  {
    name: 'cold: too little free memory is a hard no, however idle the peer',
    peers: [
      { name: 'laptop', memFreeMiB: 100 },
      { name: 'desk', memFreeMiB: 128, running: 6 },
    ],
    want: { node: 'desk', warm: false },
  },
  {
    name: 'cold: no peer with enough memory is an error listing what each has',
    peers: [
      { name: 'laptop', memFreeMiB: 100 },
      { name: 'desk', memFreeMiB: 50 },
    ],
    error: /128 MiB.*research.*laptop: 100 MiB free, desk: 50 MiB free.*memory_mb/,
  },
  {
    name: 'no Docker anywhere is an error that says what to install',
    peers: [
      { name: 'pi', docker: false, self: true },
      { name: 'laptop', docker: false },
    ],
    error: /no node in the mesh runs Docker.*apt-get install docker.io/,
  },
  {
    name: 'an empty view is the same error',
    peers: [],
    error: /no node in the mesh runs Docker/,
  },
  {
    name: 'Docker peers that are all down are named',
    peers: [
      { name: 'pi', docker: false, self: true },
      { name: 'desk', state: 'suspect' },
    ],
    error: /no Docker node is available.*desk is suspect/,
  },
  {
    name: 'an excluded (lost) host is not used again',
    peers: [
      { name: 'laptop', running: 3 },
      { name: 'desk', images: ['research'] },
    ],
    req: { exclude: ['id-desk'] },
    want: { node: 'laptop', warm: false },
  },
  {
    name: 'excluding by name works too',
    peers: [{ name: 'laptop', running: 3 }, { name: 'desk' }],
    req: { exclude: ['desk'] },
    want: { node: 'laptop', warm: false },
  },
  {
    name: 'when the only Docker host was tried already, the error says so',
    peers: [{ name: 'pi', docker: false }, { name: 'desk' }],
    req: { exclude: ['id-desk'] },
    error: /no Docker node is available.*desk already tried in this run/,
  },
];

const onCases: Case[] = [
  {
    name: '--on NAME overrides load and image preference',
    peers: [
      { name: 'laptop', images: ['research'] },
      { name: 'desk', running: 7, loadPerCore: 2 },
    ],
    req: { onNode: 'desk' },
    want: { node: 'desk', warm: false },
  },
  {
    name: '--on ID works like --on NAME',
    peers: [{ name: 'laptop' }, { name: 'desk', running: 7 }],
    req: { onNode: 'id-desk' },
    want: { node: 'desk', warm: false },
  },
  {
    name: '--on a node with an idle warm container runs warm there',
    peers: [
      { name: 'laptop', warm: { research: 1 } },
      { name: 'desk', warm: { research: 1 }, running: 3 },
    ],
    req: { onNode: 'desk', tier: 'warm' },
    want: { node: 'desk', warm: true },
  },
  {
    name: '--on an unknown node is an error listing the known ones',
    peers: [{ name: 'laptop' }, { name: 'desk' }],
    req: { onNode: 'kitchen' },
    error: /--on kitchen: no node.*known: desk, laptop/,
  },
  {
    name: '--on a dead node is an error',
    peers: [{ name: 'laptop' }, { name: 'desk', state: 'dead' }],
    req: { onNode: 'desk' },
    error: /--on desk: desk is dead/,
  },
  {
    name: '--on a node without Docker is an error',
    peers: [{ name: 'pi', docker: false }, { name: 'desk' }],
    req: { onNode: 'pi' },
    error: /--on pi: pi has no Docker engine/,
  },
  {
    name: '--on a node without enough free memory is an error',
    peers: [{ name: 'desk', memFreeMiB: 64 }],
    req: { onNode: 'desk' },
    error: /--on desk: desk has 64 MiB of free memory and research needs 128 MiB/,
  },
  {
    name: '--on a node lost earlier in this run is not tried again',
    peers: [{ name: 'desk' }, { name: 'laptop' }],
    req: { onNode: 'desk', exclude: ['id-desk'] },
    error: /--on desk: desk was lost during this run/,
  },
];

function check(c: Case, base: AgentPlacementRequest) {
  const got = pickAgentHost(
    c.peers.map((p) => peer(p)),
    { ...base, ...c.req },
  );
  if (c.error) {
    expect(got).toEqual({ error: expect.stringMatching(c.error) });
  } else {
    if ('error' in got) throw new Error(`expected a placement, got: ${got.error}`);
    expect({ node: got.node.name, warm: got.warm }).toEqual(c.want);
    expect(got.reason).toContain(got.node.name);
  }
}

describe('pickAgentHost', () => {
  it.each(warmCases.map((c) => [c.name, c] as const))('%s', (_n, c) => check(c, warmReq));
  it.each(coldCases.map((c) => [c.name, c] as const))('%s', (_n, c) => check(c, coldReq));
  it.each(onCases.map((c) => [c.name, c] as const))('%s', (_n, c) => check(c, coldReq));

  it('says in its reason whether the chosen host holds the image', () => {
    const got = pickAgentHost([peer({ name: 'desk', images: ['research'] })], coldReq);
    expect('reason' in got && got.reason).toMatch(/holds the linux\/amd64 image/);
    const other = pickAgentHost([peer({ name: 'desk' })], coldReq);
    expect('reason' in other && other.reason).toMatch(/will build the linux\/amd64 image there/);
  });
});

const piReq: AgentPlacementRequest = {
  agent: 'lights',
  tier: 'cold',
  memoryMb: 16,
  imageHash: HASH_A,
};

/** Mixed platforms: a host is picked only when it can get the image for its own platform. */
const platformCases: Case[] = [
  {
    name: 'an arm64 node without Go is picked when an amd64 node with Go can build for it',
    peers: [
      { name: 'laptop', running: 3, images: [`lights@${HASH_A}`] },
      { name: 'pi', platform: 'linux/arm64', go: false },
    ],
    want: { node: 'pi', warm: false },
  },
  {
    name: 'an amd64 image on the mesh does not make an arm64 node without Go a host when nobody can build',
    peers: [
      { name: 'laptop', go: false, running: 3, images: [`lights@${HASH_A}`] },
      { name: 'pi', platform: 'linux/arm64', go: false },
    ],
    want: { node: 'laptop', warm: false },
  },
  {
    name: 'an arm64 image a peer offers makes an arm64 node a host without any Go in the mesh',
    peers: [
      { name: 'laptop', go: false, running: 3 },
      { name: 'pi', platform: 'linux/arm64', go: false },
      { name: 'pi2', platform: 'linux/arm64', go: false, images: [`lights@${HASH_A}`], running: 5 },
    ],
    want: { node: 'pi', warm: false },
  },
  {
    name: 'a platform agents are not built for, with no image of it: refused naming what the mesh builds',
    peers: [{ name: 'mainframe', platform: 'linux/s390x' }],
    error:
      /mainframe runs linux\/s390x, which agents cannot be built for, and no node offers a linux\/s390x image of lights; the mesh can build linux\/amd64, linux\/arm64, linux\/arm\/v7 \(Go and Docker on mainframe\)$/,
  },
  {
    name: "no node with Go and no image of the hosts' platforms: refused, saying the mesh builds nothing",
    peers: [
      { name: 'pi', platform: 'linux/arm64', go: false },
      { name: 'pi7', platform: 'linux/arm/v7', go: false, images: [`lights@${HASH_B}`] },
    ],
    error:
      /^no Docker node can get an image of lights for its platform: pi runs linux\/arm64 and no node offers a linux\/arm64 image of lights; pi7 runs linux\/arm\/v7 and no node offers a linux\/arm\/v7 image of lights; the mesh can build for no platform: no alive node has both Go and Docker; install golang-go on a Docker node$/,
  },
  {
    name: 'an idle warm container counts as holding the image, with no Go anywhere',
    peers: [{ name: 'pi', platform: 'linux/arm64', go: false, warm: { [`lights@${HASH_A}`]: 1 } }],
    req: { tier: 'warm' },
    want: { node: 'pi', warm: true },
  },
  {
    name: 'a node that does not say its platform (an older helix-node) is not picked',
    peers: [
      { name: 'old', platform: '' },
      { name: 'laptop', running: 4 },
    ],
    want: { node: 'laptop', warm: false },
  },
  {
    name: '--on an arm64 node that cannot get the image is refused with the reason',
    peers: [
      { name: 'laptop', go: false, images: [`lights@${HASH_A}`] },
      { name: 'pi', platform: 'linux/arm64', go: false },
    ],
    req: { onNode: 'pi' },
    error:
      /^--on pi: pi runs linux\/arm64 and no node offers a linux\/arm64 image of lights; the mesh can build for no platform/,
  },
];

describe('pickAgentHost across platforms', () => {
  it.each(platformCases.map((c) => [c.name, c] as const))('%s', (_n, c) => check(c, piReq));

  it("says where the image for the host's platform comes from", () => {
    const built = pickAgentHost(
      [
        peer({ name: 'laptop', running: 3 }),
        peer({ name: 'pi', platform: 'linux/arm64', go: false }),
      ],
      piReq,
    );
    expect('reason' in built && built.reason).toMatch(
      /on pi \(linux\/arm64\).*will have the linux\/arm64 image built on laptop/,
    );
    const fetched = pickAgentHost(
      [
        peer({ name: 'laptop', running: 3, images: [`lights@${HASH_A}@linux/arm64`] }),
        peer({ name: 'pi', platform: 'linux/arm64', go: false }),
      ],
      piReq,
    );
    expect('reason' in fetched && fetched.reason).toMatch(
      /will fetch the linux\/arm64 image from laptop/,
    );
  });
});

describe('sameImageHash', () => {
  it.each([
    [HASH_A, HASH_A, true],
    [HASH_A, HASH_A.slice(0, 16), true],
    [HASH_A.slice(0, 16), HASH_A, true],
    [HASH_A, HASH_B, false],
    ['', '', false],
    [`${'a'.repeat(16)}b`, `${'a'.repeat(16)}c`, true],
  ])('%s ~ %s is %s', (a, b, want) => {
    expect(sameImageHash(a, b)).toBe(want);
  });
});

describe('peersSharingImage', () => {
  const view = [
    peer({ name: 'me', self: true, images: [`lights@${HASH_A}`] }),
    peer({ name: 'desk', images: [`lights@${HASH_A.slice(0, 16)}`] }),
    peer({ name: 'old', images: [`lights@${HASH_B}`] }),
    peer({ name: 'gone', state: 'dead', images: [`lights@${HASH_A}`] }),
    peer({ name: 'quiet', state: 'suspect', images: [`lights@${HASH_A}`] }),
    peer({ name: 'other', images: [`timer@${HASH_A}`] }),
    peer({ name: 'pi', platform: 'linux/arm64', images: [`lights@${HASH_A}`] }),
    {
      ...peer({ name: 'private' }),
      images: [
        { agent: 'lights', hash: HASH_A, platform: 'linux/amd64', sizeBytes: 1, shareable: false },
      ],
    },
  ];
  it.each([
    ['lights', HASH_A, 'linux/amd64', ['desk']],
    ['lights', HASH_A, 'linux/arm64', ['pi']],
    ['lights', HASH_A, 'linux/arm/v7', []],
    ['lights', HASH_B, 'linux/amd64', ['old']],
    ['timer', HASH_A, 'linux/amd64', ['other']],
    ['timer', HASH_B, 'linux/amd64', []],
    ['echo', HASH_A, 'linux/amd64', []],
  ])(
    '%s@%s for %s is shared by %j (same platform; not self, not dead or suspect, not unshareable)',
    (agent, hash, platform, want) => {
      expect(peersSharingImage(view, agent, hash, platform).map((p) => p.name)).toEqual(want);
    },
  );
});
