/**
 * Domain types shared by several modules (libp2p's "interfaces package" habit).
 * Wire formats are zod schemas so they are parsed at the edge; the TS types are inferred.
 */
import { z } from 'zod';

export const PROTOCOL_VERSION = 1;

/**
 * A zod schema built on first use instead of when its module loads.
 *
 * zod 4 builds every schema eagerly, and each one is a heavy object: its internals, a dozen
 * closures (`parse`, `optional`, `extend`...) and a dictionary-mode shape. The daemon's modules
 * declare about 150 schemas at their top level (protocol messages of Home Assistant, zigbee2mqtt,
 * Ollama, agents, traces, the config...), some 1900 zod objects with their parts, and a node that
 * never speaks to Home Assistant or an LLM never parses most of them (docs/architecture.md,
 * "Memory").
 *
 * `lazySchema(() => z.object({...}))` returns a stand-in with the schema's own type: the first
 * property read (`.parse`, `.shape`, zod's `_zod` when another schema composes it) builds the real
 * one, and every read after that goes to it. Methods are zod's own closures over the real
 * instance, so `this` never matters; `instanceof` works through zod's `Symbol.hasInstance`.
 */
export function lazySchema<T extends object>(build: () => T, scope?: SchemaScope): T {
  const slot: { real?: T } = {};
  scope?.slots.push(slot);
  const target = (): T => (slot.real ??= build());
  return new Proxy({} as T, {
    get: (_, key) => Reflect.get(target(), key),
    has: (_, key) => Reflect.has(target(), key),
    set: (_, key, value) => Reflect.set(target(), key, value),
    ownKeys: () => Reflect.ownKeys(target()),
    getOwnPropertyDescriptor: (_, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(target(), key);
      // a proxy may not report a property its (empty) target lacks as non-configurable
      return descriptor && { ...descriptor, configurable: true };
    },
    getPrototypeOf: () => Reflect.getPrototypeOf(target()),
  });
}

/**
 * Lazy schemas that are used in one burst and then not for a long time (the config: parsed when
 * the node starts): `release()` drops what they built, and the next use builds it again.
 */
export class SchemaScope {
  readonly slots: { real?: unknown }[] = [];

  release(): void {
    for (const slot of this.slots) delete slot.real;
  }
}

const shortString = lazySchema(() => z.string().max(256));

export const GpuSchema = lazySchema(() =>
  z.object({
    index: z.number().int().min(0),
    name: shortString,
    uuid: shortString.optional(),
    vramTotalMiB: z.number().min(0),
    vramFreeMiB: z.number().min(0).optional(),
    driver: shortString.optional(),
  }),
);
export type Gpu = z.infer<typeof GpuSchema>;

export const CapabilitiesSchema = lazySchema(() =>
  z.object({
    mic: z.object({ devices: z.array(shortString).max(32) }).nullable(),
    gpu: z.array(GpuSchema).max(16),
    docker: z
      .object({
        version: shortString,
        apiVersion: shortString.optional(),
        /**
         * the platform this node runs agent images as ("linux/arm64"): the engine's own, or
         * agents.platform for an engine that runs another under emulation; "" from an older node
         */
        platform: shortString.default(''),
      })
      .nullable(),
    stt: z.object({ engine: shortString, model: shortString }).nullable(),
    ollama: z
      .object({
        url: shortString,
        models: z.array(shortString).max(256),
        loaded: z.array(shortString).max(64),
      })
      .nullable(),
    tts: z.array(shortString).max(8).default([]),
    go: z.boolean().default(false),
    /** the node's own OS/architecture ("linux/arm64"); absent from an older node */
    platform: shortString.optional(),
    cpus: z.number().int().min(1),
    memTotalMiB: z.number().min(0),
  }),
);
export type Capabilities = z.infer<typeof CapabilitiesSchema>;

export const LoadSchema = lazySchema(() =>
  z.object({
    runningAgents: z.number().int().min(0),
    loadAvg1: z.number().min(0),
    /** load average (1 min) divided by CPU count */
    loadPerCore: z.number().min(0),
    memFreeMiB: z.number().min(0),
  }),
);
export type Load = z.infer<typeof LoadSchema>;

export const WarmPoolEntrySchema = lazySchema(() =>
  z.object({
    agent: shortString,
    image: shortString,
    idle: z.number().int().min(0),
    busy: z.number().int().min(0),
  }),
);
export type WarmPoolEntry = z.infer<typeof WarmPoolEntrySchema>;

export const ImageHeldSchema = lazySchema(() =>
  z.object({
    agent: shortString,
    hash: shortString,
    /** what the image's binary runs on ("linux/arm64"); "" from an older node: never fetched */
    platform: shortString.default(''),
    sizeBytes: z.number().int().min(0),
    /** offered to peers only after at least one successful run */
    shareable: z.boolean(),
  }),
);
export type ImageHeld = z.infer<typeof ImageHeldSchema>;

/** Heartbeat advert published on `helix.v1.node.<id>.hb` every second. */
export const NodeAdvertSchema = lazySchema(() =>
  z.object({
    v: z.literal(PROTOCOL_VERSION),
    meshId: shortString,
    id: shortString,
    name: shortString,
    version: shortString,
    seq: z.number().int().min(0),
    /** sender's wall clock, ms since epoch (informational; RTT uses pings) */
    sentAt: z.number(),
    startedAt: z.number(),
    addresses: z.array(shortString).max(16),
    ports: z.object({ rpc: z.number().int(), cluster: z.number().int() }),
    capabilities: CapabilitiesSchema,
    load: LoadSchema,
    warmPool: z.array(WarmPoolEntrySchema).max(64).default([]),
    images: z.array(ImageHeldSchema).max(256).default([]),
  }),
);
export type NodeAdvert = z.infer<typeof NodeAdvertSchema>;

/** `helix.v1.node.<id>.bye` — a clean leave. */
export const ByeSchema = lazySchema(() =>
  z.object({
    v: z.literal(PROTOCOL_VERSION),
    meshId: shortString,
    id: shortString,
    at: z.number(),
  }),
);
export type Bye = z.infer<typeof ByeSchema>;

export type PeerState = 'alive' | 'suspect' | 'dead' | 'left';

/** One node as this node sees it (what `helix-node status --json` prints in `nodes`). */
export interface PeerView {
  id: string;
  name: string;
  state: PeerState;
  self: boolean;
  addresses: string[];
  version: string;
  capabilities: Capabilities;
  load: Load;
  warmPool: WarmPoolEntry[];
  images: ImageHeld[];
  rttMs: number | null;
  lastSeenMs: number;
  ports: { rpc: number; cluster: number };
}

/** A candidate peer address found by discovery (tailscale, mDNS, static, adverts). */
export interface PeerCandidate {
  address: string;
  /**
   * the discovery source that named it: tailscale, mdns, static, advert, invite or a plug-in's
   * name (status and logs show it; nothing switches on it)
   */
  source: string;
  /**
   * who dials the route, set by the source: 'always' for one-sided knowledge (static peers, the
   * member named in an invite), 'lower-address' for symmetric sources (tailscale, mDNS, adverts),
   * where only the node with the higher address dials, so a pair has one route instead of two
   */
  dial: 'always' | 'lower-address';
  name?: string;
  /** cluster (NATS route) port, when known; else the configured default */
  clusterPort?: number;
  rpcPort?: number;
}

/**
 * Deepest nesting of arrays and objects a parsed message may have. JSON.parse reads any depth,
 * but canonical JSON, zod schemas and JSON.stringify recurse and overflow the stack (a RangeError)
 * at a few thousand levels, which a 10 KB message of `[[[[…` reaches. No message this node
 * exchanges nests half as deep.
 */
export const MAX_JSON_DEPTH = 64;

/** Whether a parsed JSON value nests arrays/objects deeper than `limit` (iterative: any depth). */
export function jsonTooDeep(value: unknown, limit = MAX_JSON_DEPTH): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [v, depth] = item;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}
