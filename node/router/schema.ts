/**
 * The intent's JSON schema for Ollama's `format`, and validation of whatever comes back
 * against the chosen agent's argument schema (pure). Nothing runs unless validateIntent says ok.
 */
import type { AgentManifest, ArgSpec, IntentSpec } from '../agents/manifest.js';
import { normaliseWords } from './normalise.js';
import type { ArgValue, Intent, SlotValues } from './types.js';

/** The agent name the model gives when no installed agent fits. */
export const NO_AGENT = 'none';

export type JsonSchema = { [key: string]: unknown };

export type ValidationResult = { ok: true; intent: Intent } | { ok: false; reason: string };
export type ArgsResult =
  { ok: true; args: Record<string, ArgValue> } | { ok: false; reason: string };

/**
 * The allowed string values of an argument: its `enum`, or the configured values of its
 * `enum_from` (none configured: an empty list, so every value is refused); null when free.
 */
export function allowedValues(spec: ArgSpec, slotValues: SlotValues): readonly string[] | null {
  if (spec.enum) return spec.enum;
  if (spec.enum_from !== undefined) return slotValues[spec.enum_from] ?? [];
  return null;
}

/**
 * Resolve every `enum_from` path of the manifests against a config-like object: a table
 * yields its keys (lights.rooms -> the room names), a list of strings yields itself. Missing
 * paths yield no values.
 */
export function resolveSlotValues(
  manifests: readonly AgentManifest[],
  config: unknown,
): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const m of manifests) {
    for (const intent of m.intents) {
      for (const spec of Object.values(intent.args)) {
        const from = spec.enum_from;
        if (from === undefined || from in out) continue;
        let node: unknown = config;
        for (const part of from.split('.')) {
          node = isRecord(node) ? node[part] : undefined;
        }
        if (Array.isArray(node)) out[from] = node.filter((v): v is string => typeof v === 'string');
        else if (isRecord(node)) out[from] = Object.keys(node);
        else out[from] = [];
      }
    }
  }
  return out;
}

function argSchema(spec: ArgSpec, slotValues: SlotValues): JsonSchema {
  const values = allowedValues(spec, slotValues);
  switch (spec.type) {
    case 'string':
      if (values && values.length > 0) return { type: 'string', enum: [...values] };
      return { type: 'string', minLength: 1, maxLength: spec.max_length };
    case 'integer':
    case 'number': {
      const s: JsonSchema = { type: spec.type };
      if (values && values.length > 0) s.enum = values.map(Number).filter(Number.isFinite);
      if (spec.min !== undefined) s.minimum = spec.min;
      if (spec.max !== undefined) s.maximum = spec.max;
      return s;
    }
    case 'boolean':
      return { type: 'boolean' };
  }
}

function argsSchema(intent: IntentSpec, slotValues: SlotValues): JsonSchema {
  const properties: JsonSchema = {};
  const required: string[] = [];
  for (const [name, spec] of Object.entries(intent.args)) {
    properties[name] = argSchema(spec, slotValues);
    if (spec.required) required.push(name);
  }
  return { type: 'object', properties, required, additionalProperties: false };
}

const CONFIDENCE_SCHEMA: JsonSchema = { type: 'number', minimum: 0, maximum: 1 };

function branch(agent: string, intent: string, args: JsonSchema): JsonSchema {
  return {
    type: 'object',
    properties: {
      agent: { type: 'string', enum: [agent] },
      intent: { type: 'string', enum: [intent] },
      args,
      confidence: CONFIDENCE_SCHEMA,
    },
    required: ['agent', 'intent', 'args', 'confidence'],
    additionalProperties: false,
  };
}

/**
 * JSON schema of {agent, intent, args, confidence}: one anyOf branch per agent/intent pair,
 * each with that intent's argument schema, plus a branch for "none" (nothing fits) so the
 * model is never forced to pick an action. Ollama turns it into a llama.cpp grammar.
 */
export function buildIntentSchema(
  manifests: readonly AgentManifest[],
  slotValues: SlotValues = {},
): JsonSchema {
  const branches: JsonSchema[] = [];
  for (const m of manifests) {
    for (const intent of m.intents)
      branches.push(branch(m.name, intent.name, argsSchema(intent, slotValues)));
  }
  if (!manifests.some((m) => m.name === NO_AGENT)) {
    branches.push(
      branch(NO_AGENT, NO_AGENT, { type: 'object', properties: {}, additionalProperties: false }),
    );
  }
  const agents = branches.map(
    (b) => (b.properties as { agent: { enum: string[] } }).agent.enum[0] as string,
  );
  const intents = branches.map(
    (b) => (b.properties as { intent: { enum: string[] } }).intent.enum[0] as string,
  );
  // llama.cpp's converter (what Ollama uses) reads anyOf first and ignores the rest; the
  // top-level properties state the overall shape for any other JSON Schema reader.
  return {
    type: 'object',
    properties: {
      agent: { type: 'string', enum: [...new Set(agents)] },
      intent: { type: 'string', enum: [...new Set(intents)] },
      args: { type: 'object' },
      confidence: CONFIDENCE_SCHEMA,
    },
    required: ['agent', 'intent', 'args', 'confidence'],
    anyOf: branches,
  };
}

/** Check one argument value; returns the canonical value or a problem. */
export function checkArg(
  name: string,
  spec: ArgSpec,
  value: unknown,
  slotValues: SlotValues,
): { ok: true; value: ArgValue } | { ok: false; reason: string } {
  const bad = (why: string) => ({ ok: false as const, reason: `${name} ${why}` });
  const values = allowedValues(spec, slotValues);
  switch (spec.type) {
    case 'string': {
      if (typeof value !== 'string') return bad(`must be text, got ${describe(value)}`);
      const text = value.trim();
      if (text === '') return bad('is empty');
      if (text.length > spec.max_length) return bad(`is longer than ${spec.max_length} characters`);
      if (values) {
        if (values.length === 0) {
          return bad(
            `has no allowed values: ${spec.enum_from ?? 'enum'} is empty; add entries to [${spec.enum_from ?? ''}] in helix.toml`,
          );
        }
        if (values.includes(text)) return { ok: true, value: text };
        const key = normaliseWords(text).join(' ');
        const hit = values.find((v) => normaliseWords(v).join(' ') === key);
        if (hit === undefined)
          return bad(`${JSON.stringify(text)} is not one of ${values.join(', ')}`);
        return { ok: true, value: hit };
      }
      return { ok: true, value: text };
    }
    case 'integer':
    case 'number': {
      let n: number;
      if (typeof value === 'number') n = value;
      else if (typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) n = Number(value);
      else return bad(`must be a number, got ${describe(value)}`);
      if (!Number.isFinite(n)) return bad('must be a finite number');
      if (spec.type === 'integer' && !Number.isInteger(n))
        return bad(`must be a whole number, got ${n}`);
      if (spec.min !== undefined && n < spec.min)
        return bad(`must be at least ${spec.min}, got ${n}`);
      if (spec.max !== undefined && n > spec.max)
        return bad(`must be at most ${spec.max}, got ${n}`);
      if (values && !values.map(Number).includes(n))
        return bad(`${n} is not one of ${values.join(', ')}`);
      return { ok: true, value: n };
    }
    case 'boolean':
      if (typeof value === 'boolean') return { ok: true, value };
      if (value === 'true' || value === 'false') return { ok: true, value: value === 'true' };
      return bad(`must be true or false, got ${describe(value)}`);
  }
}

/**
 * Check an intent's arguments: unknown arguments are refused, required ones must be there,
 * every value must fit its type, enum and bounds. null counts as absent.
 */
export function validateArgs(
  agent: string,
  intent: IntentSpec,
  raw: unknown,
  slotValues: SlotValues = {},
): ArgsResult {
  const where = `${agent}.${intent.name}`;
  if (raw === undefined || raw === null) raw = {};
  if (!isRecord(raw))
    return { ok: false, reason: `${where}: args must be an object, got ${describe(raw)}` };
  const args: Record<string, ArgValue> = {};
  for (const [name, value] of Object.entries(raw)) {
    const spec = intent.args[name];
    if (spec === undefined) {
      const known = Object.keys(intent.args);
      return {
        ok: false,
        reason: `${where}: unknown argument "${name}" (${known.length ? `it takes ${known.join(', ')}` : 'it takes none'})`,
      };
    }
    if (value === null || value === undefined) continue;
    const checked = checkArg(name, spec, value, slotValues);
    if (!checked.ok) return { ok: false, reason: `${where}: ${checked.reason}` };
    args[name] = checked.value;
  }
  for (const [name, spec] of Object.entries(intent.args)) {
    if (spec.required && !(name in args))
      return { ok: false, reason: `${where}: missing required argument "${name}"` };
  }
  return { ok: true, args };
}

/** Validate a decoded model answer against the installed manifests. */
export function validateIntent(
  manifests: readonly AgentManifest[],
  raw: unknown,
  slotValues: SlotValues = {},
): ValidationResult {
  if (!isRecord(raw))
    return { ok: false, reason: `the answer is not a JSON object (got ${describe(raw)})` };
  const { agent, intent, args, confidence } = raw;
  if (typeof agent !== 'string')
    return { ok: false, reason: `agent must be text, got ${describe(agent)}` };
  if (
    typeof confidence !== 'number' ||
    !Number.isFinite(confidence) ||
    confidence < 0 ||
    confidence > 1
  ) {
    return {
      ok: false,
      reason: `confidence must be a number from 0 to 1, got ${describe(confidence)}`,
    };
  }
  const manifest = manifests.find((m) => m.name === agent);
  if (manifest === undefined) {
    if (agent === NO_AGENT) return { ok: false, reason: 'no installed agent handles this request' };
    return {
      ok: false,
      reason: `unknown agent ${JSON.stringify(agent)} (installed: ${manifests.map((m) => m.name).join(', ') || 'none'})`,
    };
  }
  if (typeof intent !== 'string')
    return { ok: false, reason: `intent must be text, got ${describe(intent)}` };
  const spec = manifest.intents.find((i) => i.name === intent);
  if (spec === undefined) {
    return {
      ok: false,
      reason: `agent ${agent} has no intent ${JSON.stringify(intent)} (it has: ${manifest.intents.map((i) => i.name).join(', ')})`,
    };
  }
  const checked = validateArgs(agent, spec, args, slotValues);
  if (!checked.ok) return checked;
  return { ok: true, intent: { agent, intent, args: checked.args, confidence } };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}
