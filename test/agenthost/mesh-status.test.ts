import { describe, expect, it } from 'vitest';
import { meshStatus, roles } from '../../node/agenthost/index.js';
import type { PeerView } from '../../node/types.js';
import { peer } from '../placement/peers.js';

function withCaps(p: PeerView, caps: Partial<PeerView['capabilities']>): PeerView {
  return { ...p, capabilities: { ...p.capabilities, ...caps } };
}

describe('roles: what a node can do, in words an agent can say', () => {
  it.each<[string, PeerView, string[]]>([
    ['docker only', peer({ name: 'a' }), ['docker']],
    ['no docker', peer({ name: 'a', docker: false }), []],
    [
      'kitchen pi: mic and speaker',
      withCaps(peer({ name: 'a', docker: false }), {
        mic: { devices: ['hw:1'] },
        tts: ['espeak-ng'],
      }),
      ['mic', 'speaker'],
    ],
    [
      'desk: gpu, docker, stt, ollama',
      withCaps(peer({ name: 'a', stt: true }), {
        gpu: [{ index: 0, name: 'RTX', vramTotalMiB: 8192 }],
        ollama: { url: 'http://127.0.0.1:11434', models: [], loaded: [] },
      }),
      ['gpu', 'docker', 'stt', 'ollama'],
    ],
  ])('%s', (_name, p, expected) => {
    expect(roles(p)).toEqual(expected);
  });
});

describe('meshStatus: the mesh as this node sees it', () => {
  it.each<
    [string, PeerView[], Parameters<typeof meshStatus>[1], ReturnType<typeof meshStatus>['nodes']]
  >([
    [
      "self's runs and pool come from the runner, not its last advert",
      [peer({ name: 'desk', self: true, warm: { echo: 0 } })],
      {
        name: 'desk',
        running: [{ agent: 'research', count: 2 }],
        warmPool: [{ agent: 'echo', image: 'i', idle: 1, busy: 0 }],
      },
      [
        {
          name: 'desk',
          state: 'alive',
          roles: ['docker'],
          running: [{ agent: 'research', count: 2 }],
          warm: [{ agent: 'echo', idle: 1, busy: 0 }],
        },
      ],
    ],
    [
      "a peer's busy warm containers count as running; nodes sorted by name",
      [
        peer({ name: 'pi', self: true, docker: false }),
        {
          ...peer({ name: 'laptop' }),
          warmPool: [
            { agent: 'lights', image: 'i', idle: 0, busy: 1 },
            { agent: 'timer', image: 'i', idle: 1, busy: 0 },
          ],
        },
        peer({ name: 'attic', state: 'dead' }),
      ],
      { name: 'pi', running: [], warmPool: [] },
      [
        { name: 'attic', state: 'dead', roles: ['docker'], running: [], warm: [] },
        {
          name: 'laptop',
          state: 'alive',
          roles: ['docker'],
          running: [{ agent: 'lights', count: 1 }],
          warm: [
            { agent: 'lights', idle: 0, busy: 1 },
            { agent: 'timer', idle: 1, busy: 0 },
          ],
        },
        { name: 'pi', state: 'alive', roles: [], running: [], warm: [] },
      ],
    ],
    [
      'this node is listed even before membership has its own advert',
      [peer({ name: 'laptop' })],
      { name: 'desk', running: [], warmPool: [] },
      [
        { name: 'desk', state: 'alive', roles: [], running: [], warm: [] },
        { name: 'laptop', state: 'alive', roles: ['docker'], running: [], warm: [] },
      ],
    ],
  ])('%s', (_name, view, self, nodes) => {
    expect(meshStatus(view, self)).toEqual({ self: self.name, nodes });
  });
});
