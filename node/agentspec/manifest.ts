/**
 * agent.toml: what an agent is, which intents it serves (with argument schemas and the phrase
 * grammar the fast matcher and the phrase recogniser use), and the sandbox it runs in.
 * Pure: parsing and validation only (reading the file is the caller's business).
 */
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { ManifestError } from './errors.js';
import { lazySchema, SchemaScope } from '../types.js';

/**
 * The manifest's schemas are built when manifests are read (a node's start, an agent added) and
 * dropped after each (validateManifest): kept, they would hold 0.36 MB of an idle node's heap.
 */
const manifestSchemas = new SchemaScope();

/** The manifest's file name in an agent folder. */
export const MANIFEST_FILE = 'agent.toml';

export const HOST_CALLS = [
  'mqtt.publish',
  'home.call_service',
  'http.fetch',
  'llm.generate',
  'mesh.status',
  'notify',
] as const;
export type HostCall = (typeof HOST_CALLS)[number];

const ident = lazySchema(() =>
  z
    .string()
    .regex(
      /^[a-z][a-z0-9_-]{0,31}$/,
      'lower-case letters, digits, "-" or "_", starting with a letter, at most 32 chars',
    ),
);

export const ArgSchema = lazySchema(
  () =>
    z.strictObject({
      type: z.enum(['string', 'integer', 'number', 'boolean']),
      description: z.string().max(200).default(''),
      required: z.boolean().default(false),
      /** allowed values (strings) */
      enum: z.array(z.string().min(1).max(64)).max(256).optional(),
      /** take the allowed values from a config table's keys, e.g. "lights.rooms" */
      enum_from: z
        .string()
        .regex(/^[a-z_]+\.[a-z_]+$/)
        .optional(),
      min: z.number().optional(),
      max: z.number().optional(),
      max_length: z.number().int().min(1).max(4096).default(256),
    }),
  manifestSchemas,
);
export type ArgSpec = z.infer<typeof ArgSchema>;

export const IntentSchema = lazySchema(
  () =>
    z.strictObject({
      name: ident,
      description: z.string().max(200).default(''),
      /**
       * Phrase grammar for the fast matcher and the phrase recogniser:
       * "(a|b)" alternatives, "[x]" optional words, "{slot}" an argument. A phrase with a free-text
       * slot ("look up {question}") is heard only through Whisper (the fast matcher); the phrase
       * recogniser hears closed slots only.
       */
      phrases: z.array(z.string().min(1).max(200)).max(64).default([]),
      args: z.record(ident, ArgSchema).default({}),
    }),
  manifestSchemas,
);
export type IntentSpec = z.infer<typeof IntentSchema>;

export const ManifestSchema = lazySchema(
  () =>
    z
      .strictObject({
        name: ident,
        version: z.string().max(32).default('1'),
        description: z.string().max(300).default(''),
        tier: z.enum(['warm', 'cold']),
        /** safe to run again if the host is lost mid-run */
        idempotent: z.boolean().default(false),
        timeout_s: z.number().min(1).max(3600).default(30),
        memory_mb: z.number().int().min(6).max(8192).default(64),
        cpus: z.number().min(0.05).max(64).default(0.5),
        pids: z.number().int().min(1).max(4096).default(32),
        network: z.enum(['none', 'egress']).default('none'),
        /** host calls the agent may make; any other is refused */
        calls: z.array(z.enum(HOST_CALLS)).default([]),
        /**
         * helix.toml keys handed to the agent in every task's `context.config` (e.g. "lights.rooms",
         * "mqtt.base_topic"); credentials are never handed out.
         */
        context: z
          .array(
            z
              .string()
              .regex(/^[a-z_]+\.[a-z_]+$/, '"<section>.<key>" as in helix.toml')
              .refine(
                (k) => !/(password|secret|username|token)/.test(k),
                'credentials are never handed to agents',
              ),
          )
          .max(32)
          .default([]),
        intents: z.array(IntentSchema).min(1).max(64),
      })
      .superRefine((m, ctx) => {
        const seen = new Set<string>();
        m.intents.forEach((intent, i) => {
          if (seen.has(intent.name))
            ctx.addIssue({
              code: 'custom',
              path: ['intents', i, 'name'],
              message: `duplicate intent "${intent.name}"`,
            });
          seen.add(intent.name);
        });
        // Fetches go out through the host, and only for agents whose manifest asks for egress.
        if (m.calls.includes('http.fetch') && m.network !== 'egress')
          ctx.addIssue({
            code: 'custom',
            path: ['calls'],
            message: 'http.fetch needs network = "egress"',
          });
      }),
  manifestSchemas,
);
export type AgentManifest = z.infer<typeof ManifestSchema>;

/** Parses and validates agent.toml text; errors name the file, the key and what is allowed. */
export function parseManifest(text: string, source = MANIFEST_FILE): AgentManifest {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (err) {
    throw new ManifestError(
      `${source} is not valid TOML: ${(err as Error).message.split('\n')[0]}`,
      { cause: err },
    );
  }
  return validateManifest(raw, source);
}

/** Validates a manifest already read into a value (agent.toml's tree, or one written in code). */
export function validateManifest(raw: unknown, source = MANIFEST_FILE): AgentManifest {
  try {
    const parsed = ManifestSchema.safeParse(raw);
    if (!parsed.success) {
      const lines = parsed.error.issues.map(
        (i) => `${i.path.join('.') || '(top level)'}: ${i.message}`,
      );
      throw new ManifestError(`${source} is invalid: ${lines.join('; ')}`);
    }
    return parsed.data;
  } finally {
    manifestSchemas.release();
  }
}
