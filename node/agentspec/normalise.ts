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
