/**
 * The known mesh-wide settings: one key per thing a person sets, each with a zod schema, a line
 * saying what is allowed, and whether it is secret. Keys name one value each (one room, one
 * node's room) rather than one big map, so two people adding two rooms on two nodes at once both
 * keep their room: the merge is per key. Pure: no I/O.
 */
import { z } from 'zod';
import { FoundHomeSchema, type FoundHome } from '../home/index.js';
import { InvalidSettingError, UnknownSettingError } from './errors.js';
import type { JsonValue, SettingEntry } from './merge.js';
import { compareText } from '../order.js';
import { lazySchema } from '../types.js';

/** What `list()` shows instead of a secret's value. */
export const REDACTED = '••• set';

const LIGHTS_BACKENDS = ['zigbee2mqtt', 'home_assistant', 'both'] as const;
const PREFERRED_BACKENDS = ['zigbee2mqtt', 'home_assistant'] as const;

/** Room names are what people say: lower-case words ("living room"), spaces allowed. */
const ROOM_NAME = /^[a-z0-9](?:[a-z0-9 _-]{0,62}[a-z0-9])?$/;
/** Node ids are one NATS subject token (the libp2p peer id is). */
const NODE_ID = /^[A-Za-z0-9_-]{1,128}$/;

const roomName = lazySchema(() =>
  z.string().regex(ROOM_NAME, 'lower-case letters, digits, spaces, "-" or "_", 1-64 chars'),
);
const lightName = lazySchema(() => z.string().min(1).max(256));

const urlWith = (protocols: readonly string[]) =>
  z
    .string()
    .max(2048)
    .refine(
      (s) => {
        try {
          return protocols.includes(new URL(s).protocol);
        } catch {
          return false;
        }
      },
      `a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
    )
    // A password in a URL travels wherever the URL does (agents' context, logs): keep it out.
    .refine((s) => {
      try {
        const u = new URL(s);
        return u.username === '' && u.password === '';
      } catch {
        return true;
      }
    }, 'no user or password inside the URL (set them as their own settings)');

export interface SettingSpec {
  /** the key, or a pattern with `<room>` / `<node>` for a family of keys */
  pattern: string;
  match: RegExp;
  schema: z.ZodType<JsonValue>;
  /** what is allowed, for error messages and `settings list --help` */
  allowed: string;
  secret: boolean;
  description: string;
  /** written by the nodes themselves (what a backend found), never by `settings set` */
  internal: boolean;
}

const spec = (
  pattern: string,
  schema: z.ZodType<JsonValue>,
  allowed: string,
  description: string,
  secret = false,
  internal = false,
): SettingSpec => ({
  pattern,
  match: new RegExp(
    `^${pattern
      .replace(/\./g, '\\.')
      .replace('<room>', `(${ROOM_NAME.source.slice(1, -1)})`)
      .replace('<node>', `(${NODE_ID.source.slice(1, -1)})`)}$`,
  ),
  schema,
  allowed,
  secret,
  description,
  internal,
});

export const SETTINGS: readonly SettingSpec[] = [
  spec(
    'rooms.<room>',
    z.strictObject({ lights: z.array(lightName).max(256), hidden: z.boolean().optional() }),
    '{"lights": [light names]} (zigbee2mqtt friendly names or Home Assistant entity ids), or {"lights": [], "hidden": true} to hide a found room',
    'a room and the lights in it (replaces a found room of the same name)',
  ),
  spec('nodes.<node>.room', roomName, 'a room name', 'the room a node (its mic and speaker) is in'),
  spec(
    'nodes.<node>.name',
    z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/),
    'letters, digits, "-", "_" or ".", 1-63 chars',
    'the name a node shows in the mesh',
  ),
  spec(
    'lights.backend',
    z.enum(LIGHTS_BACKENDS),
    LIGHTS_BACKENDS.join(', '),
    'where lights are switched',
  ),
  spec(
    'lights.preferred',
    z.enum(PREFERRED_BACKENDS),
    PREFERRED_BACKENDS.join(', '),
    'with lights.backend = both: the backend asked first',
  ),
  spec('mqtt.url', urlWith(['mqtt:', 'mqtts:', 'ws:', 'wss:']), 'mqtt://host:1883', 'the broker'),
  spec(
    'mqtt.base_topic',
    z.string().regex(/^[^+#/\s][^+#\s]{0,127}$/),
    'zigbee2mqtt',
    "zigbee2mqtt's base_topic",
  ),
  spec('mqtt.username', z.string().min(1).max(256), 'a user name', 'the broker user'),
  spec('mqtt.password', z.string().min(1).max(1024), 'a password', 'the broker password', true),
  spec(
    'home_assistant.url',
    urlWith(['http:', 'https:', 'ws:', 'wss:']),
    'http://homeassistant.local:8123',
    'Home Assistant',
  ),
  spec(
    'home_assistant.token',
    z.string().min(1).max(4096),
    'a long-lived access token',
    'Home Assistant long-lived access token',
    true,
  ),
  spec(
    'home.found.zigbee2mqtt',
    FoundHomeSchema as z.ZodType<JsonValue>,
    'written by the nodes',
    'rooms and lights zigbee2mqtt has (groups and light devices)',
    false,
    true,
  ),
  spec(
    'home.found.home_assistant',
    FoundHomeSchema as z.ZodType<JsonValue>,
    'written by the nodes',
    'rooms and lights Home Assistant has (areas and light entities)',
    false,
    true,
  ),
];

const KEY_SHAPE = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9 _-]+)*$/;

/** The spec of a key, or undefined when the key is not one this version knows. */
export function specFor(key: string): SettingSpec | undefined {
  return SETTINGS.find((s) => s.match.test(key));
}

export function isSecretKey(key: string): boolean {
  return specFor(key)?.secret ?? false;
}

/** Keys the nodes write themselves (what the backends found): not for `settings set`. */
export function isInternalKey(key: string): boolean {
  return specFor(key)?.internal ?? false;
}

/**
 * A value a person (or a program on this node) sets: the key must be known and the value must
 * fit. Throws an error naming the key, the value (never a secret's) and what is allowed.
 */
export function validateSetting(key: string, value: unknown): JsonValue {
  const s = specFor(key);
  if (!s)
    throw new UnknownSettingError(
      key,
      SETTINGS.map((x) => x.pattern),
    );
  const parsed = s.schema.safeParse(value);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => i.message).join('; ');
    throw new InvalidSettingError(key, s.secret ? REDACTED : value, `${s.allowed} (${why})`);
  }
  return parsed.data;
}

/**
 * Whether a write received from a peer may enter the state: any well-formed key. Values are not
 * judged here: a newer node may allow a value this one does not (a new lights backend), and a
 * node refusing what its peers hold would never converge with them (their digests would differ
 * for ever, and each would resend its whole state every interval). A value this version does
 * not allow is kept and reads as unset (see valueAllowed).
 */
export function acceptsRemote(entry: SettingEntry): boolean {
  return KEY_SHAPE.test(entry.key) && entry.key.length <= 256;
}

/** Whether this version allows the value for the key (a key it does not know: yes). */
export function valueAllowed(key: string, value: unknown): boolean {
  const s = specFor(key);
  return s === undefined || s.schema.safeParse(value).success;
}

/** A setting as anyone may see it: secrets show as REDACTED. */
export interface PublicSetting {
  key: string;
  value: JsonValue;
  secret: boolean;
  /** node id of the writer */
  writer: string;
  /** wall-clock ms of the write (the writer's, as carried by its clock) */
  writtenAt: number;
  /** false: a peer (of a newer version?) wrote a value this version does not allow; it reads as unset */
  allowed: boolean;
}

export function publicView(entries: Iterable<SettingEntry>): PublicSetting[] {
  const out: PublicSetting[] = [];
  for (const e of entries) {
    if (e.deleted || isInternalKey(e.key)) continue;
    const secret = isSecretKey(e.key);
    out.push({
      key: e.key,
      value: secret ? REDACTED : (e.value ?? null),
      secret,
      writer: e.hlc.node,
      writtenAt: e.hlc.wall,
      allowed: valueAllowed(e.key, e.value),
    });
  }
  return out.sort((a, b) => compareText(a.key, b.key));
}

/** The settings as the rest of the node reads them, with defaults filled in. */
export interface MeshSettings {
  rooms: Record<string, { lights: string[]; hidden?: boolean }>;
  nodes: Record<string, { room?: string; name?: string }>;
  lights: {
    backend: (typeof LIGHTS_BACKENDS)[number];
    preferred: (typeof PREFERRED_BACKENDS)[number];
  };
  mqtt: { url?: string; username?: string; password?: string; baseTopic?: string };
  homeAssistant: { url?: string; token?: string };
  /** what the backends found, as the nodes that read them wrote it */
  found: { zigbee2mqtt?: FoundHome; 'home-assistant'?: FoundHome };
}

/**
 * Typed settings from the entries (tombstones and values a schema refuses are skipped). Holds
 * secrets: for the components that need them (the home backends), never for display.
 */
export function meshSettings(entries: Iterable<SettingEntry>): MeshSettings {
  const out: MeshSettings = {
    rooms: {},
    nodes: {},
    // zigbee2mqtt first: it needs only the broker most households already run for it
    lights: { backend: 'zigbee2mqtt', preferred: 'zigbee2mqtt' },
    mqtt: {},
    homeAssistant: {},
    found: {},
  };
  const chosen = new Set<string>();
  for (const e of entries) {
    if (e.deleted) continue;
    if (!specFor(e.key) || !valueAllowed(e.key, e.value)) continue;
    const [head, mid, tail] = splitKey(e.key);
    const v = e.value as never;
    if (head === 'rooms') out.rooms[mid] = v;
    else if (head === 'nodes') (out.nodes[mid] ??= {})[tail as 'room' | 'name'] = v;
    else if (head === 'lights') out.lights[mid as 'backend' | 'preferred'] = v;
    else if (e.key === 'mqtt.base_topic') out.mqtt.baseTopic = v;
    else if (head === 'mqtt') out.mqtt[mid as 'url' | 'username' | 'password'] = v;
    else if (e.key === 'home.found.zigbee2mqtt') out.found.zigbee2mqtt = v;
    else if (e.key === 'home.found.home_assistant') out.found['home-assistant'] = v;
    else if (head === 'home_assistant') out.homeAssistant[mid as 'url' | 'token'] = v;
    if (head === 'lights') chosen.add(mid);
  }
  // Home Assistant set up and no backend chosen: use it, beside zigbee2mqtt's broker if any.
  if (!chosen.has('backend') && out.homeAssistant.url && out.homeAssistant.token) {
    out.lights.backend = 'both';
    if (!chosen.has('preferred')) out.lights.preferred = 'home_assistant';
  }
  return out;
}

/** `nodes.<id>.room` → ['nodes', id, 'room']; a room name may not contain dots, ids neither. */
function splitKey(key: string): [string, string, string] {
  const [head = '', ...rest] = key.split('.');
  if (head === 'nodes') return [head, rest.slice(0, -1).join('.'), rest.at(-1) ?? ''];
  return [head, rest.join('.'), ''];
}
