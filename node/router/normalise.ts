/**
 * Text normalisation shared by phrase grammars and transcripts (pure).
 * Lower case, punctuation dropped, apostrophes folded ("what's" -> "whats"), hyphens split
 * ("twenty-five" -> "twenty five"), "%" read as "percent". Each token keeps its span in the
 * original text so free-text slots can return what the person said, case and all.
 */

export interface Token {
  /** normalised form used for matching */
  norm: string;
  /** [start, end) in the original text */
  start: number;
  end: number;
}

// Decimals first so "2.5" stays one token; words may carry inner apostrophes ("what's").
const TOKEN_RE = /\d+(?:\.\d+)?|[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*|%/gu;

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  // Lower-case once up front unless that moves offsets (a few letters, e.g. "İ", grow).
  const lower = text.toLowerCase();
  const source = lower.length === text.length ? lower : text;
  TOKEN_RE.lastIndex = 0;
  for (let m = TOKEN_RE.exec(source); m !== null; m = TOKEN_RE.exec(source)) {
    const raw = source === lower ? m[0] : m[0].toLowerCase();
    let norm = raw;
    if (raw === '%') norm = 'percent';
    else if (raw.includes("'") || raw.includes('’')) norm = raw.replace(/['’]/g, '');
    tokens.push({ norm, start: m.index, end: m.index + m[0].length });
  }
  return tokens;
}

/** The normalised words of a text, e.g. "Turn ON the Living-Room lights!" -> turn on the living room lights. */
export function normaliseWords(text: string): string[] {
  return tokenize(text).map((t) => t.norm);
}

const UNITS: Readonly<Record<string, number>> = {
  zero: 0,
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  eleven: 11,
  twelve: 12,
  thirteen: 13,
  fourteen: 14,
  fifteen: 15,
  sixteen: 16,
  seventeen: 17,
  eighteen: 18,
  nineteen: 19,
};

const TENS: Readonly<Record<string, number>> = {
  twenty: 20,
  thirty: 30,
  forty: 40,
  fourty: 40,
  fifty: 50,
  sixty: 60,
  seventy: 70,
  eighty: 80,
  ninety: 90,
};

const DIGITS_RE = /^\d+(?:\.\d+)?$/;

/** A number read at some position: its value and how many tokens it took. */
export interface NumberReading {
  value: number;
  length: number;
}

/**
 * Every number that starts at words[pos], longest first: "5" -> 5; "twenty five" -> 25 (and
 * 20, in case "five" belongs to what follows); "one hundred and five" -> 105; "two point
 * five" -> 2.5; "minus three" -> -3. Returns [] when no number starts there.
 */
export function readNumbers(words: readonly string[], pos: number): NumberReading[] {
  let sign = 1;
  let at = pos;
  if (words[at] === 'minus' || words[at] === 'negative') {
    sign = -1;
    at += 1;
  }
  const first = words[at];
  if (first === undefined) return [];
  const out: NumberReading[] = [];
  if (DIGITS_RE.test(first)) {
    out.push({ value: sign * Number(first), length: at - pos + 1 });
    return out;
  }

  let total = 0;
  let current = 0;
  let last: 'none' | 'unit' | 'teen' | 'tens' | 'hundred' | 'thousand' | 'and' = 'none';
  let i = at;
  for (; i < words.length; i++) {
    const w = words[i] as string;
    const unit = UNITS[w];
    const tens = TENS[w];
    if (unit !== undefined) {
      // "twenty five" and "hundred five" continue a number; "five five" or "fifteen five" do not.
      if (last === 'unit' || last === 'teen') break;
      if (last === 'tens' && unit >= 10) break;
      if (last === 'tens' && unit === 0) break;
      current += unit;
      last = unit >= 10 ? 'teen' : 'unit';
    } else if (tens !== undefined) {
      if (last === 'unit' || last === 'teen' || last === 'tens') break;
      current += tens;
      last = 'tens';
    } else if (w === 'hundred') {
      if (last === 'hundred' || last === 'and' || current % 100 !== current) break;
      current = (current === 0 ? 1 : current) * 100;
      last = 'hundred';
    } else if (w === 'thousand') {
      if (last === 'thousand' || last === 'and') break;
      total += (current === 0 ? 1 : current) * 1000;
      current = 0;
      last = 'thousand';
    } else if (w === 'and' && (last === 'hundred' || last === 'thousand')) {
      last = 'and';
      continue;
    } else {
      break;
    }
    out.push({ value: sign * (total + current), length: i - pos + 1 });
  }
  // "two point five": a decimal point followed by single digits.
  const whole = out[out.length - 1];
  if (whole && words[pos + whole.length] === 'point') {
    let frac = '';
    let j = pos + whole.length + 1;
    for (; j < words.length; j++) {
      const d = UNITS[words[j] as string];
      if (d === undefined || d > 9) break;
      frac += String(d);
    }
    if (frac !== '') {
      const abs = Math.abs(whole.value);
      out.push({ value: sign * Number(`${abs}.${frac}`), length: j - pos });
    }
  }
  return out.reverse();
}
