/**
 * Log lines for a person at a terminal (`helix-node join` on a TTY, or --log-format pretty): the
 * message as written, then the few fields that matter to a person ("peer kitchen, 840 ms"), never
 * a JSON object. At debug level every other plain field follows as key=value. Pure: it only
 * shapes text; cli/log-pretty.ts feeds it pino's records through pino-pretty.
 */
import type { LogFormat } from '../log.js';
import { paint, safeText, type Colour } from './output.js';

/** One pino record as parsed from its JSON line. */
export type LogRecord = Record<string, unknown> & { level?: number; time?: number; msg?: unknown };

/**
 * Which format the logs take: --log-format, else --json (a script reads it), else log.format
 * (helix.toml or HELIX_LOG_FORMAT); `auto` is readable lines when stderr, where logs go, is a
 * terminal, JSON lines when it is a file or a pipe.
 */
export function resolveLogFormat(o: {
  flag?: LogFormat | undefined;
  configured: LogFormat;
  json: boolean;
  isTTY: boolean;
}): 'json' | 'pretty' {
  const format = o.flag ?? (o.json ? 'json' : o.configured);
  return format === 'auto' ? (o.isTTY ? 'pretty' : 'json') : format;
}

/** pino's level numbers, named as a person reads them. */
export const LEVEL_NAMES: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};
const LEVEL_COLOURS: Record<number, Colour> = {
  10: 'dim',
  20: 'blue',
  30: 'green',
  40: 'yellow',
  50: 'red',
  60: 'red',
};

/** The level as a fixed-width coloured word ("warn ", "error"). */
export function levelLabel(level: number, color: boolean): string {
  const name = (LEVEL_NAMES[level] ?? String(level)).padEnd(5);
  return paint({ color }, LEVEL_COLOURS[level] ?? 'bold', name);
}

/** Fields every line has or that only say where in the code it came from. */
const NEVER = new Set([
  'level',
  'time',
  'msg',
  'pid',
  'hostname',
  'v',
  // this node's name and id: the banner says them once
  'id',
  'node',
  'component',
  'module',
]);

type Shown = (value: unknown) => string | null;

const text = (v: unknown): string | null =>
  typeof v === 'string' ? (v === '' ? null : v) : typeof v === 'number' ? String(v) : null;
const labelled =
  (label: string): Shown =>
  (v) => {
    const t = list(v) ?? text(v);
    return t === null ? null : `${label} ${t}`;
  };
const plain: Shown = (v) => list(v) ?? text(v);

function list(v: unknown): string | null {
  if (!Array.isArray(v)) return null;
  const items = v.map((x) => text(x)).filter((x): x is string => x !== null);
  return items.length === 0 ? 'none' : items.join(', ');
}

/** "840 ms", "2.4 s", "3 min" */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

const took =
  (label: string): Shown =>
  (v) =>
    typeof v === 'number' ? `${label}${duration(v)}` : null;

function size(bytes: unknown): string | null {
  if (typeof bytes !== 'number') return null;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** capabilities.ts's summary ({ mic: 2, docker: "27.1", stt: null, … }) as words. */
function capabilities(v: unknown): string | null {
  if (typeof v !== 'object' || v === null) return null;
  const c = v as Record<string, unknown>;
  const has = (key: string, label: string, show: (x: unknown) => string | null = text) => {
    const x = c[key];
    if (x === null || x === undefined || x === false || x === 0) return `no ${label}`;
    if (Array.isArray(x) && x.length === 0) return `no ${label}`;
    if (x === true) return label;
    const shown = list(x) ?? show(x);
    return shown === null ? label : `${label} ${shown}`;
  };
  return [
    has('mic', 'mic'),
    has('gpu', 'GPU'),
    has('docker', 'Docker'),
    has('stt', 'STT'),
    has('ollama', 'Ollama', (n) => (typeof n === 'number' ? `(${n} models)` : text(n))),
    has('tts', 'TTS'),
    has('go', 'Go'),
  ].join(', ');
}

/**
 * The fields shown at info level, in this order, each as a person says it. Anything else (ports,
 * pids, trace ids, file paths, image tags) is there at debug level and in the JSON.
 */
const FIELDS: Array<[string, Shown]> = [
  ['peer', labelled('peer')],
  ['name', plain],
  ['from', labelled('from')],
  ['to', labelled('to')],
  ['host', labelled('on')],
  ['agent', labelled('agent')],
  ['intent', labelled('intent')],
  ['room', labelled('room')],
  ['mesh', labelled('mesh')],
  ['address', plain],
  ['addresses', plain],
  ['broker', plain],
  ['backend', plain],
  ['engine', plain],
  ['model', plain],
  ['agents', plain],
  ['warm', plain],
  ['hosts', plain],
  ['capabilities', capabilities],
  ['signal', plain],
  ['stage', labelled('at')],
  ['reason', plain],
  ['why', plain],
  ['previous', labelled('was')],
  ['attempt', labelled('attempt')],
  ['ms', took('')],
  ['buildMs', took('built in ')],
  ['builtMs', took('built in ')],
  ['uptimeMs', took('after ')],
  ['stalledMs', took('for ')],
  ['timeoutMs', took('after ')],
  ['sizeBytes', size],
  ['fix', labelled('fix:')],
];
const SHOWN = new Set(FIELDS.map(([key]) => key));

/** A field's value made short and inert: control characters visible, long text cut. */
function clip(value: string, max = 160): string {
  const safe = safeText(value);
  return safe.length > max ? `${safe.slice(0, max - 1)}…` : safe;
}

/** key=value for a plain value (debug level); objects as compact JSON, cut. */
function keyValue(key: string, value: unknown): string | null {
  if (value === undefined) return null;
  const shown = typeof value === 'string' ? value : JSON.stringify(value);
  return `${key}=${clip(shown ?? String(value), 120)}`;
}

/**
 * The message part of a readable line: the message, the useful fields in parentheses (dim), and
 * an error after a colon. Every string is made safe (a peer's name or an agent's error cannot
 * carry an escape sequence to the terminal); colour codes are only this function's own.
 */
export function formatLogMessage(
  rec: LogRecord,
  opts: { color: boolean; verbose?: boolean } = { color: false },
): string {
  const msg = typeof rec.msg === 'string' ? rec.msg : rec.msg === undefined ? '' : String(rec.msg);
  const details: string[] = [];
  for (const [key, show] of FIELDS) {
    if (!(key in rec) || key === 'fix') continue;
    const raw = list(rec[key]) ?? text(rec[key]);
    // a field the message already says ("peer kitchen (12D3KooWAbCd) is now alive") is not said again
    if (raw !== null && said(msg, raw)) continue;
    const shown = show(rec[key]);
    if (shown !== null) details.push(clip(shown));
  }
  if (opts.verbose) {
    for (const [key, value] of Object.entries(rec)) {
      if (NEVER.has(key) || SHOWN.has(key) || key === 'err') continue;
      const kv = keyValue(key, value);
      if (kv) details.push(kv);
    }
  }
  let line = safeText(msg);
  if (details.length > 0) line += ' ' + paint(opts, 'dim', `(${details.join(', ')})`);
  const err = errorText(rec.err);
  if (err) line += `: ${safeText(err)}`;
  const fix = text(rec.fix);
  if (fix) line += ` ${paint(opts, 'dim', '—')} fix: ${clip(fix, 200)}`;
  return line;
}

/** Whether the message already holds the value (or a long id's first 12 characters). */
function said(msg: string, value: string): boolean {
  return msg.includes(value) || (value.length > 16 && msg.includes(value.slice(0, 12)));
}

/** An error field as text: a string, or a serialised Error's message. */
function errorText(err: unknown): string | null {
  if (typeof err === 'string') return err;
  if (typeof err === 'object' && err !== null) {
    const m = (err as { message?: unknown }).message;
    if (typeof m === 'string') return m;
    return JSON.stringify(err);
  }
  return null;
}

/** A whole readable line: "14:03:07 warn  no speech-to-text on this node: …" (no newline). */
export function formatLogLine(
  rec: LogRecord,
  opts: { color: boolean; verbose?: boolean } = { color: false },
): string {
  const time = typeof rec.time === 'number' ? `${paint(opts, 'dim', clockTime(rec.time))} ` : '';
  return `${time}${levelLabel(rec.level ?? 30, opts.color)} ${formatLogMessage(rec, opts)}`;
}

/** "14:03:07", local time, for the start of a line. */
export function clockTime(time: number): string {
  const d = new Date(time);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}
