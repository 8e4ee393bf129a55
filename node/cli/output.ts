/** Terminal output: colours only on a TTY and without NO_COLOR (https://no-color.org), plain tables. */
export interface Output {
  color: boolean;
  json: boolean;
  out(line?: string): void;
  err(line: string): void;
  printJson(value: unknown): void;
  /** A command's answer: the value as JSON with --json, else `human()` for a person. */
  print(value: unknown, human: () => string): void;
}

export function createOutput(opts: { json?: boolean; color?: boolean } = {}): Output {
  const color =
    opts.color ??
    (process.stdout.isTTY === true &&
      !('NO_COLOR' in process.env && process.env.NO_COLOR !== '') &&
      process.env.TERM !== 'dumb');
  const out = (line = '') => void process.stdout.write(line + '\n');
  const printJson = (value: unknown) =>
    void process.stdout.write(JSON.stringify(value, null, 2) + '\n');
  const json = opts.json ?? false;
  return {
    color,
    json,
    out,
    err: (line) => process.stderr.write(line + '\n'),
    printJson,
    print: (value, human) => (json ? printJson(value) : out(human())),
  };
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
