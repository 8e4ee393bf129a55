/**
 * Pure parsers for what the probes read: `arecord -l`, `nvidia-smi --query-gpu` CSV, Ollama's
 * /api/tags and /api/ps replies, whisper.cpp model headers. No I/O here.
 */
import { z } from 'zod';
import { sameModel } from '../placement/index.js';
import { lazySchema } from '../types.js';

/** `arecord -l` -> capture devices as "hw:<card>,<device> <card name>". */
export function parseArecordList(text: string): string[] {
  const devices: string[] = [];
  // card 1: Device [USB PnP Sound Device], device 0: USB Audio [USB Audio]
  const line = /^card (\d+): (\S+) \[(.*?)\], device (\d+): /;
  for (const raw of text.split('\n')) {
    const m = line.exec(raw.trim());
    if (!m) continue;
    const [, card, id, cardName, device] = m;
    devices.push(`hw:${card},${device} ${cardName || id}`);
  }
  return devices;
}

/** The query every GPU probe runs; the parser below reads its columns in this order. */
export const NVIDIA_SMI_QUERY = [
  'index',
  'name',
  'uuid',
  'memory.total',
  'memory.used',
  'memory.free',
  'utilization.gpu',
  'driver_version',
  'compute_cap',
] as const;

export const NVIDIA_SMI_ARGS = [
  `--query-gpu=${NVIDIA_SMI_QUERY.join(',')}`,
  '--format=csv,noheader,nounits',
];

export interface NvidiaGpu {
  index: number;
  name: string;
  uuid?: string;
  memoryTotalMiB: number;
  memoryUsedMiB?: number;
  memoryFreeMiB?: number;
  utilizationPct?: number;
  driverVersion?: string;
  /** CUDA compute capability, e.g. "9.0" */
  computeCap?: string;
}

/** `nvidia-smi --query-gpu=<NVIDIA_SMI_QUERY> --format=csv,noheader,nounits` -> one entry per GPU. */
export function parseNvidiaSmiQuery(csv: string): NvidiaGpu[] {
  const gpus: NvidiaGpu[] = [];
  for (const raw of csv.split('\n')) {
    if (raw.trim() === '') continue;
    const cols = raw.split(',').map((c) => c.trim());
    if (cols.length !== NVIDIA_SMI_QUERY.length) continue;
    const [index, name, uuid, total, used, free, util, driver, cap] = cols;
    const idx = num(index);
    const totalMiB = num(total);
    if (idx === undefined || totalMiB === undefined || !name) continue;
    gpus.push({
      index: idx,
      name,
      ...opt('uuid', text(uuid)),
      memoryTotalMiB: totalMiB,
      ...opt('memoryUsedMiB', num(used)),
      ...opt('memoryFreeMiB', num(free)),
      ...opt('utilizationPct', num(util)),
      ...opt('driverVersion', text(driver)),
      ...opt('computeCap', text(cap)),
    });
  }
  return gpus;
}

// nvidia-smi prints "[N/A]" or "[Not Supported]" for fields a board does not report
function text(value: string | undefined): string | undefined {
  return value && !value.startsWith('[') ? value : undefined;
}

function num(value: string | undefined): number | undefined {
  const t = text(value);
  if (t === undefined || t === '') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** A model's `details` in Ollama's /api/tags, /api/ps and /api/show replies. */
export const OllamaModelDetailsSchema = lazySchema(() =>
  z.looseObject({
    parent_model: z.string().optional(),
    format: z.string().optional(),
    family: z.string().optional(),
    families: z.array(z.string()).nullish(),
    parameter_size: z.string().optional(),
    quantization_level: z.string().optional(),
  }),
);

/** One model in Ollama's GET /api/tags reply. */
export const OllamaModelSchema = lazySchema(() =>
  z.looseObject({
    name: z.string().min(1),
    model: z.string().optional(),
    modified_at: z.string().optional(),
    size: z.number().optional(),
    digest: z.string().optional(),
    details: OllamaModelDetailsSchema.optional(),
  }),
);

// An Ollama with no models answers `{"models": null}` on some versions: read as no models.
const modelList = <S extends z.ZodType>(model: S) =>
  z
    .array(model)
    .nullable()
    .transform((models) => models ?? []);

/**
 * GET /api/tags: the models this Ollama holds. The one schema of this reply: the capability probe
 * and the router's Ollama client both parse it with this.
 */
export const OllamaTagsSchema = lazySchema(() =>
  z.looseObject({ models: modelList(OllamaModelSchema) }),
);
export type OllamaTags = z.infer<typeof OllamaTagsSchema>;

/** One model of GET /api/ps: loaded in memory now. */
export const OllamaLoadedModelSchema = lazySchema(() =>
  OllamaModelSchema.extend({
    size_vram: z.number().optional(),
    context_length: z.number().optional(),
    // a string on the wire (RFC 3339), not a number
    expires_at: z.string().optional(),
  }),
);

/** GET /api/ps: the models loaded in memory now. */
export const OllamaPsSchema = lazySchema(() =>
  z.looseObject({ models: modelList(OllamaLoadedModelSchema) }),
);
export type OllamaPs = z.infer<typeof OllamaPsSchema>;

export function parseOllamaTags(json: unknown): string[] {
  return OllamaTagsSchema.parse(json).models.map((m) => m.name);
}

export function parseOllamaPs(json: unknown): string[] {
  return OllamaPsSchema.parse(json).models.map((m) => m.name);
}

/** Whether `want` ("llama3" or "llama3:8b") is among Ollama's names (placement's sameModel). */
export function hasOllamaModel(models: readonly string[], want: string): boolean {
  return models.some((m) => sameModel(m, want));
}

// whisper.cpp models start with the uint32 0x67676d6c ("ggml") written little-endian.
const GGML_MAGIC = Buffer.from([0x6c, 0x6d, 0x67, 0x67]);

export function isGgmlHeader(head: Uint8Array): boolean {
  return head.length >= 4 && Buffer.from(head.subarray(0, 4)).equals(GGML_MAGIC);
}
