/**
 * Node names unique in the mesh (issue 9): the rule that gives each node one name when several
 * want the same one (three Pis all called "raspberrypi"). Pure: every node runs it on the same
 * merged settings and reaches the same answer.
 *
 * - A name held in a `nodes.<id>.name` setting is kept by the node that has held it longest (the
 *   setting's clock; ties by node id): a newcomer never takes a name from a node already known
 *   by it.
 * - The others, and nodes that only wish a name (an advert, this node's own wish before it is
 *   persisted, ordered by node id), take their wish when it is free, else the wish with the
 *   smallest free suffix: "raspberrypi-2", "raspberrypi-3", …
 * Names are compared without case: "Desk" and "desk" are one name to a person (and to DNS).
 */
import { compareHlc, type Hlc } from './clock.js';
import { compareText } from '../order.js';

/** Node names: what the `nodes.<node>.name` setting and helix.toml's node.name allow. */
export const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const MAX_NAME = 63;

/** The setting that holds a node's name. */
export const nodeNameKey = (id: string): string => `nodes.${id}.name`;

/** `nodes.<id>.name` → id; null for any other key. */
export function nodeIdOfNameKey(key: string): string | null {
  const m = /^nodes\.(.+)\.name$/.exec(key);
  return m ? m[1]! : null;
}

export interface NameClaim {
  /** node id */
  id: string;
  /** the name the node holds (a setting) or wishes (an advert, its own config) */
  name: string;
  /** the clock of its `nodes.<id>.name` setting; absent for a wish not persisted yet */
  since?: Hlc;
}

export interface NameAssignment {
  id: string;
  name: string;
  /** the name it claimed */
  wanted: string;
  /** the node that keeps `wanted`, when this one had to take a suffix */
  clashedWith?: string;
}

/** `base-n`, with base cut so the whole stays within 63 characters. */
export function suffixedName(base: string, n: number): string {
  const tail = `-${n}`;
  return `${base.slice(0, MAX_NAME - tail.length)}${tail}`;
}

/** One name per node id (claims with the same id: the persisted one, else the first, counts). */
export function assignNodeNames(claims: readonly NameClaim[]): Map<string, NameAssignment> {
  const byId = new Map<string, NameClaim>();
  for (const c of claims) {
    const held = byId.get(c.id);
    if (!held || (held.since === undefined && c.since !== undefined)) byId.set(c.id, c);
  }
  const persisted = [...byId.values()]
    .filter((c) => c.since !== undefined)
    .sort((a, b) => compareHlc(a.since!, b.since!) || compareText(a.id, b.id));
  const wished = [...byId.values()]
    .filter((c) => c.since === undefined)
    .sort((a, b) => compareText(a.id, b.id));

  const holder = new Map<string, string>(); // lower-cased name → id
  const out = new Map<string, NameAssignment>();
  const take = (c: NameClaim, name: string, clashedWith?: string) => {
    holder.set(name.toLowerCase(), c.id);
    out.set(c.id, { id: c.id, name, wanted: c.name, ...(clashedWith ? { clashedWith } : {}) });
  };

  // First the names already held: the longest-held keeps a name that two settings hold.
  const losers: NameClaim[] = [];
  for (const c of persisted) {
    if (holder.has(c.name.toLowerCase())) losers.push(c);
    else take(c, c.name);
  }
  // Then those that lost a clash, then the wishes: the wish if free, else the first free suffix.
  for (const c of [...losers, ...wished]) {
    const keeper = holder.get(c.name.toLowerCase());
    if (keeper === undefined) {
      take(c, c.name);
      continue;
    }
    let n = 2;
    while (holder.has(suffixedName(c.name, n).toLowerCase())) n += 1;
    take(c, suffixedName(c.name, n), keeper);
  }
  return out;
}
