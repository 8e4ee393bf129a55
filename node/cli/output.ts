/**
 * Terminal output: colours only on a TTY (or with FORCE_COLOR) and without NO_COLOR
 * (https://no-color.org), plain tables.
 * Everything printed goes through safeText, so no control character that came from an agent or a
 * peer reaches the terminal raw.
 */
export interface Output {
  color: boolean;
  json: boolean;
  out(line?: string): void;
  err(line: string): void;
  printJson(value: unknown): void;
  /** A command's answer: the value as JSON with --json, else `human()` for a person. */
  print(value: unknown, human: () => string): void;
}

/**
 * Whether to colour what goes to a stream: --no-color, else NO_COLOR (any non-empty value,
 * https://no-color.org: the person's wish wins over a tool's FORCE_COLOR), else FORCE_COLOR
 * (non-empty, not 0 or false: colours even into a pipe), else a terminal that is not "dumb".
 */
export function colourWanted(o: {
  flag?: boolean | undefined;
  isTTY: boolean;
  env?: NodeJS.ProcessEnv;
}): boolean {
  const env = o.env ?? process.env;
  if (o.flag === false) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false';
  return o.isTTY && env.TERM !== 'dumb';
}

export function createOutput(opts: { json?: boolean; color?: boolean } = {}): Output {
  const color =
    opts.color ?? colourWanted({ isTTY: process.stdout.isTTY === true, env: process.env });
  // Our own colours (paint) survive only when colours are on; an agent's are made visible
  // where it is printed (safeText without keepColour), so at most paint's few codes get through.
  const keepColour = color;
  const out = (line = '') => void process.stdout.write(safeText(line, { keepColour }) + '\n');
  // JSON escapes C0 itself; safeText escapes C1 and bidi controls the same \uXXXX way.
  const printJson = (value: unknown) =>
    void process.stdout.write(safeText(JSON.stringify(value, null, 2)) + '\n');
  const json = opts.json ?? false;
  return {
    color,
    json,
    out,
    err: (line) => process.stderr.write(safeText(line, { keepColour }) + '\n'),
    printJson,
    print: (value, human) => (json ? printJson(value) : out(human())),
  };
}

/**
 * Characters a terminal acts on instead of showing: C0 controls but newline and tab (ESC starts
 * CSI colour/erase/cursor sequences, OSC title changes and OSC 8 links; BEL, BS and CR rewrite
 * what is shown), DEL, C1 controls (U+009B is a one-character CSI, U+009D an OSC), and the
 * bidirectional overrides and marks that make text read other than it is stored (Trojan Source).
 */
const UNSAFE =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/** The exact colour codes paint() writes. */
// eslint-disable-next-line no-control-regex -- paint's own SGR sequences
const OWN_SGR = /\u001b\[(?:0|1|2|3[1-4])m/g;

const escapeChar = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * Text from an agent or a peer (progress, results, stderr, errors, names) made safe to print:
 * every control character but newline and tab becomes visible as `\uXXXX`, so an escape
 * sequence arrives as inert text (`\u001b]0;title\u0007`) and cannot retitle the window, plant a
 * link or erase lines. The `\uXXXX` form is also JSON's own escape, so a JSON text stays valid
 * JSON with the same value. `keepColour` leaves paint()'s own colour codes alone (Output uses it
 * when colours are on); call it without on anything an agent or a peer wrote.
 */
export function safeText(text: string, opts: { keepColour?: boolean } = {}): string {
  if (!opts.keepColour) return text.replace(UNSAFE, escapeChar);
  let out = '';
  let last = 0;
  for (const m of text.matchAll(OWN_SGR)) {
    out += text.slice(last, m.index).replace(UNSAFE, escapeChar) + m[0];
    last = m.index + m[0].length;
  }
  return out + text.slice(last).replace(UNSAFE, escapeChar);
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, dim: 2, bold: 1 } as const;
export type Colour = keyof typeof CODES;

export function paint(o: Pick<Output, 'color'>, colour: Colour, text: string): string {
  return o.color ? `\u001b[${CODES[colour]}m${text}\u001b[0m` : text;
}

/** Render rows as aligned columns. Widths ignore ANSI escapes. */
export function table(headers: string[], rows: string[][]): string {
  // eslint-disable-next-line no-control-regex -- stripping ANSI colour escapes on purpose
  const visible = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '').length;
  const widths = headers.map((h, i) =>
    Math.max(visible(h), ...rows.map((r) => visible(r[i] ?? ''))),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i]! - visible(c))))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** A scalar as a person writes it: bare when it is one plain word, else quoted. */
function plainValue(v: unknown): string {
  if (typeof v === 'string') return /^[\w.:/@+-]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return JSON.stringify(v) ?? String(v);
}

/** An intent's arguments as `room=kitchen minutes=5` (nothing for none), not a JSON object. */
export function describeArgs(args: Record<string, unknown> | undefined): string {
  return Object.entries(args ?? {})
    .map(([k, v]) => `${k}=${plainValue(v)}`)
    .join(' ');
}

/**
 * An agent's structured result for a person: one `key: value` line per field of an object, the
 * value itself otherwise; empty for none. (--json gives the data as it is.)
 */
export function describeData(data: unknown): string {
  if (data === null || data === undefined) return '';
  if (typeof data !== 'object' || Array.isArray(data)) return plainValue(data);
  return Object.entries(data)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : plainValue(v)}`)
    .join('\n');
}
