/**
 * Task arguments against an intent's schema in agent.toml, and the helix.toml keys a task
 * carries. Pure. Strings from the command line ("5", "true") are read as the declared type.
 */
import type { ArgSpec, IntentSpec } from './manifest.js';

/** A config tree shaped like helix.toml (Config or any part of it). */
export type ConfigTree = Record<string, unknown>;

export type ArgsCheck =
  { ok: true; args: Record<string, unknown> } | { ok: false; problems: string[] };

export function validateArgs(
  intent: IntentSpec,
  args: Record<string, unknown>,
  config: ConfigTree = {},
): ArgsCheck {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(args)) {
    if (!(name in intent.args)) {
      const known = Object.keys(intent.args);
      problems.push(
        `unknown argument "${name}" (${known.length ? `${intent.name} takes ${known.join(', ')}` : `${intent.name} takes none`})`,
      );
    }
  }
  for (const [name, spec] of Object.entries(intent.args)) {
    const value = args[name];
    if (value === undefined || value === null || value === '') {
      if (spec.required) problems.push(`"${name}" is required (${describeSpec(spec)})`);
      continue;
    }
    const checked = checkArg(name, spec, value, config);
    if (typeof checked === 'string') problems.push(checked);
    else out[name] = checked.value;
  }
  return problems.length ? { ok: false, problems } : { ok: true, args: out };
}

function checkArg(
  name: string,
  spec: ArgSpec,
  value: unknown,
  config: ConfigTree,
): { value: unknown } | string {
  switch (spec.type) {
    case 'string': {
      if (typeof value !== 'string') return `"${name}" must be text, not ${JSON.stringify(value)}`;
      if (value.length > spec.max_length)
        return `"${name}" is longer than ${spec.max_length} characters`;
      const allowed = spec.enum ?? (spec.enum_from ? tableKeys(config, spec.enum_from) : undefined);
      // An empty table (no rooms configured yet) is the agent's to explain, not a bad argument.
      if (allowed && allowed.length > 0) {
        const match = allowed.find((a) => same(a, value));
        if (match === undefined)
          return `"${name}" must be one of ${allowed.join(', ')}, not "${value}"`;
        return { value: match };
      }
      return { value };
    }
    case 'integer':
    case 'number': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isFinite(n))
        return `"${name}" must be a number, not ${JSON.stringify(value)}`;
      if (spec.type === 'integer' && !Number.isInteger(n))
        return `"${name}" must be a whole number, not ${n}`;
      if (spec.min !== undefined && n < spec.min)
        return `"${name}" must be at least ${spec.min}, not ${n}`;
      if (spec.max !== undefined && n > spec.max)
        return `"${name}" must be at most ${spec.max}, not ${n}`;
      return { value: n };
    }
    case 'boolean': {
      if (typeof value === 'boolean') return { value };
      if (value === 'true' || value === 'false') return { value: value === 'true' };
      return `"${name}" must be true or false, not ${JSON.stringify(value)}`;
    }
  }
}

/** "lights.rooms" -> the keys of config.lights.rooms (empty when absent). */
export function tableKeys(config: ConfigTree, key: string): string[] {
  const table = configValue(config, key);
  return table && typeof table === 'object' && !Array.isArray(table) ? Object.keys(table) : [];
}

/** The value of a dotted helix.toml key, e.g. "mqtt.base_topic". */
export function configValue(config: ConfigTree, key: string): unknown {
  let node: unknown = config;
  for (const part of key.split('.')) {
    if (!node || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
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

function same(a: string, b: string): boolean {
  const norm = (s: string): string =>
    s.toLowerCase().replace(/[_-]/g, ' ').replace(/\s+/g, ' ').trim();
  return norm(a) === norm(b);
}

function describeSpec(spec: ArgSpec): string {
  return spec.description || spec.type;
}
