/**
 * Spoken English numbers, both ways: the one reader of number words (the fast matcher's and the
 * recogniser's number slots) and the words to say for a number (JSGF rules, sample sentences).
 * Pure.
 */
export const ONES: readonly string[] = [
  'zero',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
  'ten',
  'eleven',
  'twelve',
  'thirteen',
  'fourteen',
  'fifteen',
  'sixteen',
  'seventeen',
  'eighteen',
  'nineteen',
];
export const TENS: readonly string[] = [
  '',
  '',
  'twenty',
  'thirty',
  'forty',
  'fifty',
  'sixty',
  'seventy',
  'eighty',
  'ninety',
];

/** English words for a whole number from -9999 to 9999 ("twenty five"); digits beyond that. */
export function numberToWords(n: number): string {
  if (!Number.isInteger(n) || Math.abs(n) > 9999) return String(n);
  if (n < 0) return `minus ${numberToWords(-n)}`;
  if (n < 20) return ONES[n]!;
  if (n < 100) return `${TENS[Math.floor(n / 10)]}${n % 10 ? ` ${ONES[n % 10]}` : ''}`;
  if (n < 1000)
    return `${ONES[Math.floor(n / 100)]} hundred${n % 100 ? ` ${numberToWords(n % 100)}` : ''}`;
  return `${numberToWords(Math.floor(n / 1000))} thousand${n % 1000 ? ` ${numberToWords(n % 1000)}` : ''}`;
}

const UNITS: Readonly<Record<string, number>> = Object.fromEntries(ONES.map((w, i) => [w, i]));
// "fourty" is a common misspelling (and what some recognisers write).
const TENS_VALUES: Readonly<Record<string, number>> = {
  ...Object.fromEntries(TENS.flatMap((w, i) => (w ? [[w, i * 10]] : []))),
  fourty: 40,
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
    const tens = TENS_VALUES[w];
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
