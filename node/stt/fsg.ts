/**
 * A JSGF grammar as the smallest word automaton that accepts the same sentences, written in
 * Sphinx's FSG format for the decoder (-fsg).
 *
 * pocketsphinx turns a JSGF grammar into a finite-state grammar itself, but expands every rule
 * reference in place and shares nothing between alternatives: the phrase grammar's ~75 rules
 * became ~2,600 states, and the search keeps an HMM running for each word leaving each live state.
 * "turn on the {room} lights" and "turn off the {room} lights" each had their own copy of every
 * room and every decoy. The same language determinised and minimised (Brzozowski: reverse,
 * determinise, twice) is ~190 states, and the search costs a third of what it did
 * (bench/stt/phrases.ts).
 *
 * Every transition has probability 1: each sentence of the grammar is as likely as any other
 * before the audio is heard, as each path of a closed command grammar should be. (pocketsphinx's
 * own reading of JSGF splits the probability evenly at every alternative, so that a number out of
 * a list of 121 started 4.8 nats behind a word with no alternatives.)
 *
 * Only the JSGF that agentspec/jsgf.ts writes is read: `public <rule> = …;` and `<rule> = …;`
 * lines, words, `<rule>` references, `( )`, `[ ]`, `|`, `<NULL>` and `//` comments. Anything
 * else throws.
 */

/** A word automaton: states 0..states-1, `start`, accepting `finals`, labelled transitions. */
interface Automaton {
  states: number;
  start: number[];
  finals: Set<number>;
  /** [from, word, to]; word null: an empty (epsilon) transition */
  arcs: [number, string | null, number][];
}

/** The FSG text for `jsgf` (its first public rule), minimal in states. */
export function jsgfToFsg(jsgf: string, name = 'grammar'): string {
  const nfa = parseJsgf(jsgf);
  const dfa = determinise(reverse(determinise(reverse(determinise(nfa)))));
  return writeFsg(dfa, name);
}

/** How many states the minimal automaton has (tests, diagnostics). */
export function fsgStates(fsg: string): number {
  const m = /^NUM_STATES (\d+)$/m.exec(fsg);
  return m ? Number(m[1]) : 0;
}

function parseJsgf(jsgf: string): Automaton {
  const rules = new Map<string, string>();
  let top: string | null = null;
  for (const raw of jsgf.split('\n')) {
    const line = raw.replace(/\/\/.*$/, '').trim();
    if (!line || line.startsWith('#JSGF') || /^grammar\s/.test(line)) continue;
    const m = /^(public\s+)?<([^<>\s]+)>\s*=\s*(.*);$/.exec(line);
    if (!m) throw new Error(`jsgfToFsg: cannot read the line "${line}"`);
    rules.set(m[2]!, m[3]!);
    if (m[1] && top === null) top = m[2]!;
  }
  if (top === null) throw new Error('jsgfToFsg: the grammar has no public rule');

  const arcs: Automaton['arcs'] = [];
  let states = 0;
  const state = () => states++;
  const expanding = new Set<string>();

  /** The rule body's tokens from `i`, up to `stop`, as paths from `from`; returns [end, next i]. */
  const alternatives = (
    tokens: string[],
    i: number,
    from: number,
    stop: string | null,
  ): [number, number] => {
    const end = state();
    for (;;) {
      let at = state();
      arcs.push([from, null, at]);
      while (i < tokens.length && tokens[i] !== '|' && tokens[i] !== stop) {
        const t = tokens[i]!;
        if (t === '(' || t === '[') {
          const close = t === '(' ? ')' : ']';
          const [inner, next] = alternatives(tokens, i + 1, at, close);
          if (tokens[next] !== close) throw new Error(`jsgfToFsg: "${t}" is not closed`);
          if (t === '[') arcs.push([at, null, inner]);
          at = inner;
          i = next + 1;
        } else if (t.startsWith('<')) {
          const name = t.slice(1, -1);
          i++;
          if (name === 'NULL') continue;
          const body = rules.get(name);
          if (body === undefined) throw new Error(`jsgfToFsg: no rule <${name}>`);
          if (expanding.has(name)) throw new Error(`jsgfToFsg: rule <${name}> is recursive`);
          expanding.add(name);
          at = alternatives(tokenise(body), 0, at, null)[0];
          expanding.delete(name);
        } else if (t === ')' || t === ']') {
          throw new Error(`jsgfToFsg: unexpected "${t}"`);
        } else {
          const next = state();
          arcs.push([at, t, next]);
          at = next;
          i++;
        }
      }
      arcs.push([at, null, end]);
      if (tokens[i] === '|') {
        i++;
        continue;
      }
      return [end, i];
    }
  };
  const start = state();
  const [end] = alternatives(tokenise(rules.get(top)!), 0, start, null);
  return { states, start: [start], finals: new Set([end]), arcs };
}

function tokenise(body: string): string[] {
  const tokens = body.match(/<[^<>\s]+>|[()[\]|]|[^\s()[\]|<>]+/g) ?? [];
  for (const t of tokens)
    if (/[/*+{}=;]/.test(t))
      throw new Error(`jsgfToFsg: "${t}" (weights, tags, repeats) is not supported`);
  return tokens;
}

function reverse(a: Automaton): Automaton {
  return {
    states: a.states,
    start: [...a.finals],
    finals: new Set(a.start),
    arcs: a.arcs.map(([from, word, to]) => [to, word, from]),
  };
}

/** Subset construction (empty transitions closed over); reachable states only. */
function determinise(a: Automaton): Automaton {
  const empty = new Map<number, number[]>();
  const byWord = new Map<number, [string, number][]>();
  for (const [from, word, to] of a.arcs) {
    if (word === null) push(empty, from, to);
    else push(byWord, from, [word, to]);
  }
  const closure = (set: Iterable<number>): number[] => {
    const seen = new Set(set);
    const todo = [...seen];
    while (todo.length) {
      for (const next of empty.get(todo.pop()!) ?? [])
        if (!seen.has(next)) {
          seen.add(next);
          todo.push(next);
        }
    }
    return [...seen].sort((x, y) => x - y);
  };
  const ids = new Map<string, number>();
  const sets: number[][] = [];
  const arcs: Automaton['arcs'] = [];
  const finals = new Set<number>();
  const idOf = (set: number[]) => {
    const key = set.join(',');
    let id = ids.get(key);
    if (id === undefined) {
      id = sets.length;
      ids.set(key, id);
      sets.push(set);
    }
    return id;
  };
  idOf(closure(a.start));
  for (let id = 0; id < sets.length; id++) {
    const set = sets[id]!;
    if (set.some((s) => a.finals.has(s))) finals.add(id);
    const moves = new Map<string, Set<number>>();
    for (const s of set)
      for (const [word, to] of byWord.get(s) ?? []) {
        let targets = moves.get(word);
        if (!targets) moves.set(word, (targets = new Set()));
        targets.add(to);
      }
    for (const [word, targets] of [...moves].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      arcs.push([id, word, idOf(closure(targets))]);
  }
  return { states: sets.length, start: [0], finals, arcs };
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/**
 * Sphinx FSG text. The format has one final state, so each accepting state gets an empty
 * transition to an added one.
 */
function writeFsg(a: Automaton, name: string): string {
  const final = a.states;
  const lines = [
    `FSG_BEGIN ${name}`,
    `NUM_STATES ${a.states + 1}`,
    `START_STATE ${a.start[0]}`,
    `FINAL_STATE ${final}`,
    ...a.arcs.map(([from, word, to]) => `TRANSITION ${from} ${to} 1.0 ${word}`),
    ...[...a.finals].sort((x, y) => x - y).map((s) => `TRANSITION ${s} ${final} 1.0`),
    'FSG_END',
  ];
  return lines.join('\n') + '\n';
}
