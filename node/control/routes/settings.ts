/**
 * Control routes of the mesh-wide settings (node/settings), what `helix-node settings|rooms|node
 * room` call on the socket:
 *
 *   GET  /v1/settings                 SettingsList (secrets redacted, tombstones left out)
 *   GET  /v1/settings/get?key=K       SettingValue
 *   POST /v1/settings/set {key, value}    SettingValue (the write as stored)
 *   POST /v1/settings/delete {key}        SettingDeleted
 *   GET  /v1/home                     HomeReport: the house every node resolves (found rooms and
 *                                     lights with the rooms people set over them), and this
 *                                     node's lights backends
 *   POST /v1/nodes/rename {node?, name}   NodeRenamed (node: id, id prefix or name; absent: this node)
 *
 * A secret's value never leaves the daemon through these routes: it shows as `••• set`.
 * The store's errors (unknown key, value not allowed) are UsageErrors: the CLI exits 64 with
 * their message.
 */
import { z } from 'zod';
import type { ControlServer } from '../server.js';
import { parseBody as parse } from '../envelope.js';
import { UsageError } from '../../errors.js';
import type { HomeStatus } from '../../home/index.js';
import {
  REDACTED,
  SETTINGS,
  UnknownSettingError,
  isInternalKey,
  isSecretKey,
  specFor,
  houseOf,
  type MeshHome,
  type NodeNames,
  type NodeRenamed,
  type PublicSetting,
  type SettingsStore,
} from '../../settings/index.js';
import { lazySchema } from '../../types.js';

export type { NodeRenamed };

export interface SettingsList {
  settings: PublicSetting[];
}

/** One key: `set: false` when it has no value (never set, deleted, or not allowed here). */
export interface SettingValue {
  key: string;
  set: boolean;
  secret: boolean;
  value: unknown;
  writer?: string;
  writtenAt?: number;
}

export interface SettingDeleted {
  key: string;
  /** false when the key held no value */
  deleted: boolean;
}

/** One light as `helix-node rooms` shows it. */
export interface HomeLightView {
  id: string;
  name: string;
  backend: 'zigbee2mqtt' | 'home-assistant';
  /** false: switched on and off only, never sent a brightness */
  dims: boolean;
  /** zigbee2mqtt friendly name or Home Assistant entity id */
  address: string;
}

/** The house (helix.home/v1). */
export interface HomeReport {
  schema: 'helix.home/v1';
  rooms: Array<{ name: string; source: string; lights: HomeLightView[] }>;
  /** lights the backends found in no room */
  unplaced: HomeLightView[];
  /** this node's lights backends; null where the node runs none */
  backends: HomeStatus | null;
}

const KeyBody = lazySchema(() => z.object({ key: z.string().min(1).max(512) }));
const SetBody = lazySchema(() => z.object({ key: z.string().min(1).max(512), value: z.unknown() }));
const RenameBody = lazySchema(() =>
  z.object({
    node: z.string().min(1).max(256).optional(),
    name: z.string().min(1).max(256),
  }),
);

function knownKey(key: string): void {
  if (!specFor(key))
    throw new UnknownSettingError(
      key,
      SETTINGS.map((s) => s.pattern),
    );
}

/** `home.found.*` is what the nodes read from the backends; a person changes rooms instead. */
function settable(key: string): void {
  if (isInternalKey(key))
    throw new UsageError(
      `${key} is what the nodes found in the lights backend and is written by them; change rooms with \`helix-node rooms set ROOM --lights …\` (a room set there replaces a found one) or hide one with \`helix-node rooms rm ROOM\``,
    );
}

export function homeReport(store: SettingsStore, home: MeshHome | null): HomeReport {
  const house = home?.house() ?? houseOf(store.settings());
  const view = (l: (typeof house.lights)[number]): HomeLightView => ({
    id: l.id,
    name: l.name,
    backend: l.backend,
    dims: l.features.brightness !== null,
    address: l.address.kind === 'zigbee2mqtt' ? l.address.friendlyName : l.address.entityId,
  });
  const byId = new Map(house.lights.map((l) => [l.id, l]));
  return {
    schema: 'helix.home/v1',
    rooms: house.rooms.map((r) => ({
      name: r.name,
      source: r.source,
      lights: r.lights.flatMap((id) => (byId.has(id) ? [view(byId.get(id)!)] : [])),
    })),
    unplaced: house.lights.filter((l) => l.room === null).map(view),
    backends: home?.status() ?? null,
  };
}

function valueOf(store: SettingsStore, key: string): SettingValue {
  const secret = isSecretKey(key);
  const value = store.get(key);
  if (value === undefined) return { key, set: false, secret, value: null };
  const e = store.entry(key)!;
  return {
    key,
    set: true,
    secret,
    value: secret ? REDACTED : value,
    writer: e.hlc.node,
    writtenAt: e.hlc.wall,
  };
}

export function addSettingsRoutes(
  control: ControlServer,
  store: SettingsStore,
  home: MeshHome | null = null,
): void {
  control.route('GET', '/v1/home', async (): Promise<HomeReport> => homeReport(store, home));

  control.route('GET', '/v1/settings', async (): Promise<SettingsList> => ({
    settings: store.list(),
  }));

  control.route('GET', '/v1/settings/get', async (query) => {
    const { key } = parse(KeyBody, query, 'GET /v1/settings/get?key=KEY');
    knownKey(key);
    return valueOf(store, key);
  });

  control.route('POST', '/v1/settings/set', async (body) => {
    const { key, value } = parse(SetBody, body, 'POST /v1/settings/set {"key", "value"}');
    settable(key);
    store.set(key, value);
    return valueOf(store, key);
  });

  control.route('POST', '/v1/settings/delete', async (body): Promise<SettingDeleted> => {
    const { key } = parse(KeyBody, body, 'POST /v1/settings/delete {"key"}');
    knownKey(key);
    settable(key);
    return { key, deleted: store.delete(key) !== undefined };
  });
}

/** `helix-node node rename`: a name another node has is refused (UsageError, exit 64). */
export function addNodeRoutes(control: ControlServer, names: NodeNames): void {
  control.route('POST', '/v1/nodes/rename', async (body): Promise<NodeRenamed> => {
    const { node, name } = parse(RenameBody, body, 'POST /v1/nodes/rename {"node"?, "name"}');
    return names.rename(node, name);
  });
}
