/**
 * Unique node names (issue 9): the pure clash rule as a table, then NodeNames over a real store
 * (claim after settling, the newcomer's suffix, renames and their refusals).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../node/log.js';
import {
  NodeNameTakenError,
  NodeNames,
  SettingsStore,
  UnknownNodeError,
  assignNodeNames,
  nodeNameKey,
  suffixedName,
  type KnownNode,
  type NameClaim,
} from '../../node/settings/index.js';

const at = (wall: number, node = 'x') => ({ wall, logical: 0, node });

/** The names the rule gives, by id, for claims written as [id, name, since?]. */
function names(claims: [string, string, number?][]): Record<string, string> {
  const input: NameClaim[] = claims.map(([id, name, since]) =>
    since === undefined ? { id, name } : { id, name, since: at(since, id) },
  );
  return Object.fromEntries([...assignNodeNames(input)].map(([id, a]) => [id, a.name]));
}

describe('the node name clash rule', () => {
  it.each<[string, [string, string, number?][], Record<string, string>]>([
    [
      'distinct names are kept',
      [
        ['a', 'desk'],
        ['b', 'kitchen', 5],
      ],
      { a: 'desk', b: 'kitchen' },
    ],
    [
      'three wishes of one name: the smallest id keeps it, the others take -2, -3 by id',
      [
        ['c', 'raspberrypi'],
        ['a', 'raspberrypi'],
        ['b', 'raspberrypi'],
      ],
      { a: 'raspberrypi', b: 'raspberrypi-2', c: 'raspberrypi-3' },
    ],
    [
      'a name already held is kept when a newcomer with a smaller id wishes it',
      [
        ['z', 'raspberrypi', 10],
        ['a', 'raspberrypi'],
      ],
      { z: 'raspberrypi', a: 'raspberrypi-2' },
    ],
    [
      'two settings with one name: the older keeps it, whatever the ids',
      [
        ['a', 'raspberrypi', 20],
        ['z', 'raspberrypi', 10],
      ],
      { z: 'raspberrypi', a: 'raspberrypi-2' },
    ],
    [
      'a suffix skips names already taken, held or suffixed',
      [
        ['a', 'pi', 1],
        ['b', 'pi-2', 2],
        ['c', 'pi', 3],
        ['d', 'pi'],
      ],
      { a: 'pi', b: 'pi-2', c: 'pi-3', d: 'pi-4' },
    ],
    [
      'a held suffixed name is not taken by a clash loser',
      [
        ['a', 'pi-2', 1],
        ['b', 'pi', 2],
        ['c', 'pi', 3],
      ],
      { a: 'pi-2', b: 'pi', c: 'pi-3' },
    ],
    [
      'names clash without regard to case',
      [
        ['a', 'Desk', 1],
        ['b', 'desk'],
      ],
      { a: 'Desk', b: 'desk-2' },
    ],
    [
      'a persisted claim wins over a wish of the same node',
      [
        ['a', 'wish'],
        ['a', 'held', 1],
        ['b', 'held'],
      ],
      { a: 'held', b: 'held-2' },
    ],
  ])('%s', (_what, claims, expected) => {
    expect(names(claims)).toEqual(expected);
  });

  it('is the same whatever order the claims come in', () => {
    const claims: [string, string, number?][] = [
      ['n1', 'pi', 3],
      ['n2', 'pi'],
      ['n3', 'pi', 1],
      ['n4', 'pi-2'],
      ['n5', 'pi'],
    ];
    const first = names(claims);
    expect(names([...claims].reverse())).toEqual(first);
    expect(names([claims[2]!, claims[0]!, claims[4]!, claims[1]!, claims[3]!])).toEqual(first);
  });

  it('says whose name a suffixed node wanted', () => {
    const out = assignNodeNames([
      { id: 'a', name: 'pi', since: at(1, 'a') },
      { id: 'b', name: 'pi' },
    ]);
    expect(out.get('b')).toEqual({ id: 'b', name: 'pi-2', wanted: 'pi', clashedWith: 'a' });
    expect(out.get('a')?.clashedWith).toBeUndefined();
  });

  it('keeps a suffixed name within 63 characters', () => {
    const long = 'p'.repeat(63);
    expect(suffixedName(long, 2)).toHaveLength(63);
    expect(suffixedName(long, 12).endsWith('-12')).toBe(true);
  });
});

describe('NodeNames over a settings store', () => {
  let dirs: string[] = [];
  const running: NodeNames[] = [];
  afterEach(async () => {
    for (const n of running.splice(0)) n.stop();
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    dirs = [];
  });

  async function node(
    selfId: string,
    wish: string,
    peers: KnownNode[] = [],
    opts: { store?: SettingsStore; reclaim?: boolean } = {},
  ) {
    let store = opts.store;
    if (!store) {
      const dir = await mkdtemp(path.join(tmpdir(), 'helix-names-'));
      dirs.push(dir);
      store = new SettingsStore({ stateDir: dir, selfId, logger: silentLogger });
      await store.start();
    }
    const seen: string[] = [];
    const names = new NodeNames({
      store,
      selfId,
      wish: () => wish,
      peers: () => peers,
      reclaim: opts.reclaim,
      onName: (name) => seen.push(name),
      logger: silentLogger,
      settleMs: 60_000,
      checkIntervalMs: 60_000,
    });
    running.push(names);
    return { store, names, seen, peers };
  }

  it('shows its wish at once and claims it as its setting once settled', async () => {
    const n = await node('id-a', 'desk');
    n.names.start();
    expect(n.names.name).toBe('desk');
    expect(n.store.get(nodeNameKey('id-a'))).toBeUndefined();
    settle(n.names);
    expect(n.store.get(nodeNameKey('id-a'))).toBe('desk');
    expect(n.seen).toEqual(['desk']);
  });

  it('takes a suffix when a peer already holds its wish, and the holder keeps it', async () => {
    const n = await node('id-a', 'raspberrypi', [{ id: 'id-z', name: 'raspberrypi' }]);
    // the peer's setting arrived from the mesh before this node settled
    n.store.merge([
      {
        key: nodeNameKey('id-z'),
        hlc: { wall: 1, logical: 0, node: 'id-z' },
        value: 'raspberrypi',
      },
    ]);
    n.names.start();
    settle(n.names);
    expect(n.names.name).toBe('raspberrypi-2');
    expect(n.store.get(nodeNameKey('id-a'))).toBe('raspberrypi-2');
    expect(n.seen).toEqual(['raspberrypi', 'raspberrypi-2']);
  });

  it('follows a rename written by another member at once', async () => {
    const n = await node('id-a', 'desk');
    n.names.start();
    settle(n.names);
    n.store.merge([
      {
        key: nodeNameKey('id-a'),
        hlc: { wall: Date.now() + 1000, logical: 0, node: 'id-b' },
        value: 'study',
      },
    ]);
    expect(n.names.name).toBe('study');
    expect(n.seen.at(-1)).toBe('study');
  });

  it('renames this node or a peer, and refuses a name another node has', async () => {
    const n = await node('id-aaaaaaaa', 'desk', [{ id: 'id-bbbbbbbb', name: 'kitchen' }]);
    n.names.start();
    settle(n.names);
    expect(n.names.rename(undefined, 'study')).toMatchObject({ name: 'study', previous: 'desk' });
    expect(n.names.name).toBe('study');
    expect(() => n.names.rename(undefined, 'Kitchen')).toThrow(NodeNameTakenError);
    expect(() => n.names.rename(undefined, 'Kitchen')).toThrow(
      /taken by node kitchen \(bbbbbbbb\)/,
    );
    expect(n.names.rename('kitchen', 'pantry')).toMatchObject({
      id: 'id-bbbbbbbb',
      name: 'pantry',
    });
    expect(n.store.get(nodeNameKey('id-bbbbbbbb'))).toBe('pantry');
    expect(n.names.nameOf('id-bbbbbbbb', 'kitchen')).toBe('pantry');
    expect(() => n.names.rename('id-bbbb', 'study')).toThrow(NodeNameTakenError);
    expect(() => n.names.rename('garage', 'x')).toThrow(UnknownNodeError);
    expect(() => n.names.rename(undefined, 'no spaces')).toThrow(/letters, digits/);
  });

  it('keeps its held name on restart, and claims a new helix.toml name when told to reclaim', async () => {
    const first = await node('id-a', 'desk');
    first.names.start();
    settle(first.names);
    first.names.stop();
    const again = await node('id-a', 'desk-new-wish', [], { store: first.store });
    again.names.start(); // held: no waiting
    expect(again.names.name).toBe('desk');
    again.names.stop();
    const reclaimed = await node('id-a', 'office', [], { store: first.store, reclaim: true });
    reclaimed.names.start();
    settle(reclaimed.names);
    expect(reclaimed.names.name).toBe('office');
    expect(first.store.get(nodeNameKey('id-a'))).toBe('office');
  });
});

const settle = (names: NodeNames): void => names.settle();
