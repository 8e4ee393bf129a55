/**
 * This node's name, kept unique in the mesh (issue 9). The effective name of a node is its
 * `nodes.<id>.name` setting, else the name it wishes (helix.toml's node.name, else the tailnet
 * machine name, else the host name). Once the node has heard the mesh (settleMs after start), it
 * claims a name by the rule of names.ts and persists it as its own setting, so the name survives
 * restarts and reads the same on every node; a clash costs the newcomer a suffix and a warn line.
 *
 * Each node writes only its own name (renames excepted: `helix-node node rename` writes any
 * node's), so two nodes never fight over one key. A setting that changes the name (a rename from
 * another member) takes effect at once through onName: adverts, status and the log context.
 */
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { NodeNameTakenError, UnknownNodeError } from './errors.js';
import { assignNodeNames, nodeIdOfNameKey, nodeNameKey, type NameClaim } from './names.js';
import { validateSetting } from './schema.js';
import type { SettingsStore } from './store.js';

/** A node as the membership view knows it: its id and the name its adverts carry. */
export interface KnownNode {
  id: string;
  name: string;
}

export interface NodeNamesOptions {
  store: SettingsStore;
  selfId: string;
  /** the name this node wishes: helix.toml node.name, else the tailnet machine name, else the host name */
  wish: () => string;
  /** claim the wish even though a setting names this node (helix.toml's node.name was changed) */
  reclaim?: boolean;
  /** the peers heard (not this node), with the names their adverts carry */
  peers: () => readonly KnownNode[];
  /** the effective name changed (also called once by start() with the first one) */
  onName: (name: string, previous: string | null) => void;
  logger: Logger;
  /** how long a node with no name setting listens to the mesh before it claims one (default 2 s) */
  settleMs?: number;
  /** how often the claim is checked against peers' adverts (default 1 s) */
  checkIntervalMs?: number;
}

/** The result of a rename, as `helix-node node rename --json` prints it. */
export interface NodeRenamed {
  id: string;
  shortId: string;
  name: string;
  previous: string;
}

export class NodeNames {
  readonly #o: NodeNamesOptions;
  readonly #log: Logger;
  #name: string | null = null;
  #settled = false;
  #reclaim: boolean;
  #timers: NodeJS.Timeout[] = [];
  #offChange: (() => void) | null = null;

  constructor(options: NodeNamesOptions) {
    this.#o = options;
    this.#reclaim = options.reclaim ?? false;
    this.#log = options.logger.child({ module: 'node-names' });
  }

  /** This node's effective name now. */
  get name(): string {
    return this.#name ?? this.#o.wish();
  }

  start(): void {
    const { store, selfId } = this.#o;
    // A node that already holds a name (a restart) has nothing to wait for.
    this.#settled = store.get(nodeNameKey(selfId)) !== undefined && !this.#reclaim;
    this.#offChange = store.onChange((c) => {
      if (c.keys.some((k) => nodeIdOfNameKey(k) !== null)) this.reconcile();
    });
    this.#timers.push(
      setTimeout(() => this.settle(), this.#o.settleMs ?? 2000),
      setInterval(() => this.reconcile(), this.#o.checkIntervalMs ?? 1000),
    );
    this.reconcile();
  }

  /** Stop waiting for the mesh and claim a name now (the settle timer's end; tests). */
  settle(): void {
    this.#settled = true;
    this.reconcile();
  }

  stop(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers = [];
    this.#offChange?.();
    this.#offChange = null;
  }

  /** A node's effective name: its setting, else what its adverts carry. */
  nameOf(id: string, advertised: string): string {
    if (id === this.#o.selfId) return this.name;
    const v = this.#o.store.get(nodeNameKey(id));
    return typeof v === 'string' ? v : advertised;
  }

  /**
   * Rename a node (`which`: id, id prefix, short id or current name; absent: this node). A name
   * another node has is refused; the new name reaches every node with the setting.
   */
  rename(which: string | undefined, name: string): NodeRenamed {
    const nodes = this.#known();
    const node =
      which === undefined ? nodes.find((n) => n.id === this.#o.selfId)! : find(nodes, which);
    validateSetting(nodeNameKey(node.id), name);
    const owner = nodes.find(
      (n) => n.id !== node.id && n.name.toLowerCase() === name.toLowerCase(),
    );
    if (owner) throw new NodeNameTakenError(name, owner);
    if (node.name !== name) this.#o.store.set(nodeNameKey(node.id), name);
    if (node.id === this.#o.selfId) this.reconcile();
    return { id: node.id, shortId: node.id.slice(-8), name, previous: node.name };
  }

  /**
   * Apply this node's name from the settings; once settled, claim one when it has none (or has
   * lost a clash, or was told to reclaim its wish) and persist it.
   */
  reconcile(): void {
    const { store, selfId } = this.#o;
    try {
      const own = store.get(nodeNameKey(selfId));
      if (!this.#settled) {
        this.#apply(typeof own === 'string' ? own : this.#o.wish());
        return;
      }
      const claims = this.#claims();
      const mine = assignNodeNames(claims).get(selfId)!;
      if (mine.name !== own) {
        store.set(nodeNameKey(selfId), mine.name);
        if (mine.clashedWith) {
          const holder = claims.find((c) => c.id === mine.clashedWith);
          this.#log.warn(
            { wanted: mine.wanted, name: mine.name, holder: mine.clashedWith },
            `node name clash: ${mine.wanted} is already ${holder?.id.slice(-8) ?? 'another node'}'s; this node is ${mine.name}`,
          );
        }
      }
      this.#reclaim = false;
      this.#apply(mine.name);
    } catch (err) {
      this.#log.warn({ err: describeError(err) }, 'node name not claimed');
    }
  }

  /** The names held in settings, the peers' advertised names, and this node's own claim. */
  #claims(): NameClaim[] {
    const { store, selfId } = this.#o;
    const claims: NameClaim[] = [];
    for (const e of store.entries()) {
      const id = nodeIdOfNameKey(e.key);
      if (id === null || (id === selfId && this.#reclaim)) continue;
      const v = store.get(e.key);
      if (typeof v === 'string') claims.push({ id, name: v, since: e.hlc });
    }
    for (const p of this.#o.peers()) claims.push({ id: p.id, name: p.name });
    claims.push({ id: selfId, name: this.#o.wish() });
    return claims;
  }

  /** Every node known (this one first) with its effective name. */
  #known(): KnownNode[] {
    const { store, selfId } = this.#o;
    const out = new Map<string, KnownNode>([[selfId, { id: selfId, name: this.name }]]);
    for (const p of this.#o.peers()) out.set(p.id, { id: p.id, name: this.nameOf(p.id, p.name) });
    for (const e of store.entries()) {
      const id = nodeIdOfNameKey(e.key);
      const v = id === null ? undefined : store.get(e.key);
      if (id !== null && id !== selfId && typeof v === 'string') out.set(id, { id, name: v });
    }
    return [...out.values()];
  }

  #apply(name: string): void {
    const previous = this.#name;
    if (previous === name) return;
    this.#name = name;
    this.#o.onName(name, previous);
  }
}

function find(nodes: readonly KnownNode[], which: string): KnownNode {
  const byId = nodes.filter(
    (n) =>
      n.id === which || n.id.slice(-8) === which || (which.length >= 4 && n.id.startsWith(which)),
  );
  const matches = byId.length > 0 ? byId : nodes.filter((n) => n.name === which);
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new UnknownNodeError(which, nodes);
  throw new UnknownNodeError(which, matches, true);
}
