/**
 * Slot values: what an argument may hold after validation, and the allowed values of `enum_from`
 * arguments, resolved from helix.toml one way for every user (matcher, recogniser, LLM schema,
 * host). Pure.
 */
import type { AgentManifest, ArgSpec } from './manifest.js';

/** One argument value after validation (the manifest's arg types). */
export type ArgValue = string | number | boolean;

/**
 * Allowed values for `enum_from` args, keyed by the enum_from path (e.g. "lights.rooms" ->
 * ["kitchen", "living room"]). See resolveSlotValues.
 */
export type SlotValues = Readonly<Record<string, readonly string[]>>;

/** A config tree shaped like helix.toml (Config or any part of it). */
export type ConfigTree = Record<string, unknown>;

/**
 * A config tree, or a function that gives the current one (the daemon's: helix.toml with the
 * mesh settings laid over it, so a room set on any node is one the host accepts).
 */
export type ConfigSource = ConfigTree | (() => ConfigTree);

export function currentConfig(source: ConfigSource | undefined): ConfigTree {
  return typeof source === 'function' ? source() : (source ?? {});
}

/**
 * The allowed string values of an argument: its `enum`, or the configured values of its
 * `enum_from` (none configured: an empty list); null when free.
 */
export function allowedValues(spec: ArgSpec, slotValues: SlotValues): readonly string[] | null {
  if (spec.enum) return spec.enum;
  if (spec.enum_from !== undefined)
    return Object.hasOwn(slotValues, spec.enum_from) ? (slotValues[spec.enum_from] ?? []) : [];
  return null;
}

/**
 * Resolve every `enum_from` path of the manifests against a config-like object: a table
 * yields its keys (lights.rooms -> the room names), a list of strings yields itself. Missing
 * paths yield no values.
 */
export function resolveSlotValues(
  manifests: readonly Pick<AgentManifest, 'intents'>[],
  config: unknown,
): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const m of manifests) {
    for (const intent of m.intents) {
      for (const spec of Object.values(intent.args)) {
        const from = spec.enum_from;
        if (from === undefined || Object.hasOwn(out, from)) continue;
        const node = configValue(config, from);
        if (Array.isArray(node)) out[from] = node.filter((v): v is string => typeof v === 'string');
        else if (isRecord(node)) out[from] = Object.keys(node);
        else out[from] = [];
      }
    }
  }
  return out;
}

/** The value of a dotted helix.toml key, e.g. "mqtt.base_topic". */
export function configValue(config: unknown, key: string): unknown {
  let node: unknown = config;
  // Own keys only: "constructor" or "toString" is not a key of a table that does not have it.
  for (const part of key.split('.'))
    node = isRecord(node) && Object.hasOwn(node, part) ? node[part] : undefined;
  return node;
}

/** The `context.config` of a task: the keys the manifest lists, with their values. */
export function pickContext(keys: string[], config: ConfigTree): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const value = configValue(config, key);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
