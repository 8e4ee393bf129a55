/**
 * Debian's pocketsphinx (`apt-get install pocketsphinx pocketsphinx-en-us`) as a child process.
 * `pocketsphinx_batch` decodes a list of utterances with a JSGF grammar and writes the best
 * path with per-word scores (-hypseg) and an N-best list per utterance (-nbestdir).
 *
 * Audio goes to files because batch CMN (cepstral mean over the whole utterance) only works on
 * seekable input: fed through a pipe, "turn off" came out as "turn on" where the file decoded
 * right. The files live in a tmpfs (/dev/shm) when there is one, so utterances never reach a
 * disk, and are deleted as soon as the decoder is done.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { constants as fsc, existsSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DependencyMissingError, HelixError } from '../errors.js';
import { untilAborted } from '../async.js';
import { pcm16Bytes, type Pcm16 } from '../voice/index.js';

export const DEBIAN_MODEL_DIR = '/usr/share/pocketsphinx/model/en-us';

export interface PocketsphinxConfig {
  /** default "pocketsphinx_batch" on PATH */
  bin?: string;
  /** acoustic model directory (-hmm) */
  hmm?: string;
  /** pronunciation dictionary (-dict) */
  dict?: string;
  /** where utterance files are written briefly; default /dev/shm, else the OS temp dir */
  workDir?: string;
  /** N-best list length (default 0: none; with wide beams N-best search is slow) */
  nbest?: number;
  /**
   * Gaussians scored per codebook and frame (-topn; default 8, pocketsphinx's own is 4). On the
   * espeak-ng phrase set (bench/stt/phrases.ts, 240 commands) 4 got 89.6 % right, 8 93.3 %,
   * 16 94.2 %, 32 94.6 %, wrong 0.8-1.3 % throughout; per utterance p50 149, 174, 214, 281 ms.
   */
  topn?: number;
  /**
   * Cepstral mean normalisation: the model's own (Debian's en-us: 'batch', the mean of the whole
   * utterance) or 'live' (a running estimate from the model's initial mean). The model's
   * feat.params overrides -cmn on the command line, so 'live' decodes with an edited copy of it.
   */
  cmn?: 'live';
  timeoutMs?: number;
  /** extra decoder options, e.g. ["-lw", "2"] */
  extraArgs?: string[];
}

export interface PsWord {
  word: string;
  /** seconds */
  start: number;
  end: number;
  acoustic: number;
}

export interface PsHypothesis {
  text: string;
  score: number;
}

export interface PsResult {
  /** best path (empty text when nothing was decoded) */
  text: string;
  /** total path score (log base 1.0001, scaled); -Infinity when the search found no complete path */
  score: number;
  /** acoustic part of the score */
  acoustic: number;
  words: PsWord[];
  nbest: PsHypothesis[];
}

export const DEFAULT_TOPN = 8;
const FRAME_S = 0.01;
const FILLERS = new Set(['<s>', '</s>', '<sil>', '(NULL)', '[noise]', '++noise++', '++breath++']);

/**
 * What the decoder searches: a JSGF grammar and, optionally, a dictionary holding just its words
 * (both as text; `grammarDictionary()` makes one). Loading Debian's whole 134,000-word dictionary
 * takes ~0.12 s of each decoder run; a grammar's few hundred words take ~1 ms.
 */
export interface DecodeGrammar {
  /**
   * JSGF text; or 'phone-loop': any sequence of context-independent phones (-allphone with the
   * model's phone bigram, -allphone_ci), which fits any speech about as well as speech can be fit,
   * a yardstick for how well a grammar path fits (phrase.ts)
   */
  jsgf: string | 'phone-loop';
  /**
   * The same grammar as a minimal word automaton in Sphinx's FSG format (fsg.ts jsgfToFsg); when
   * given, the decoder searches it instead of the JSGF (a third of the search's cost)
   */
  fsg?: string;
  /** CMU-format dictionary text; default: the full dictionary at `config.dict` */
  dict?: string;
}

/**
 * Decodes utterances (Pcm16, written as the raw bytes pocketsphinx reads: no conversion) against a grammar (written beside the audio and removed
 * with it, so a node killed mid-decode leaves at most one tmpfs dir); one result per clip.
 */
export async function decodeWithGrammar(
  grammar: DecodeGrammar,
  clips: readonly Pcm16[],
  config: PocketsphinxConfig = {},
  signal?: AbortSignal,
): Promise<PsResult[]> {
  if (clips.length === 0) return [];
  const bin = config.bin ?? 'pocketsphinx_batch';
  const hmm = config.hmm ?? join(DEBIAN_MODEL_DIR, 'en-us');
  const dict = config.dict ?? join(DEBIAN_MODEL_DIR, 'cmudict-en-us.dict');
  const nbest = config.nbest ?? 0;
  if (!existsSync(hmm) || !existsSync(dict)) {
    throw new DependencyMissingError(
      `pocketsphinx en-us model (${hmm}, ${dict})`,
      'install it with `apt-get install pocketsphinx-en-us`',
    );
  }
  if (grammar.jsgf === 'phone-loop') throw new Error('decodeWithGrammar takes a JSGF grammar');
  const dir = await mkdtemp(join(config.workDir ?? defaultWorkDir(), 'helix-ps-'));
  const search = grammarFile(grammar, dir);
  try {
    const ids = clips.map((_, i) => `u${i}`);
    await Promise.all([
      ...clips.map((pcm, i) => writeFile(join(dir, `${ids[i]}.raw`), pcm16Bytes(pcm))),
      writeFile(join(dir, 'ctl'), ids.join('\n') + '\n'),
      writeFile(search.path, search.text),
      ...(grammar.dict !== undefined ? [writeFile(join(dir, 'grammar.dict'), grammar.dict)] : []),
      ...(config.cmn === 'live'
        ? [
            readFeatParams(hmm).then((text) =>
              writeFile(join(dir, 'feat.params'), withLiveCmn(text)),
            ),
          ]
        : []),
    ]);
    const args = [
      ['-ctl', join(dir, 'ctl')],
      ['-cepdir', dir],
      ['-cepext', '.raw'],
      ['-adcin', 'yes'],
      ['-adchdr', '0'],
      ['-samprate', '16000'],
      // digital silence (exact zeros, as from a TTS engine or a muted mic) gives log(0) energies
      // that empty the search; a fixed-seed dither keeps it deterministic
      ['-dither', 'yes'],
      ['-seed', '1'],
      ['-hmm', hmm],
      ['-dict', grammar.dict !== undefined ? join(dir, 'grammar.dict') : dict],
      search.args,
      ['-topn', String(config.topn ?? DEFAULT_TOPN)],
      config.cmn === 'live' ? ['-featparams', join(dir, 'feat.params')] : [],
      ['-bestpath', 'yes'],
      // wider beams than the defaults (1e-48/1e-48/7e-29): with them a third of the British-voice
      // test utterances ended with no complete path through the grammar; cost ~20 % more CPU
      ['-beam', '1e-80'],
      ['-pbeam', '1e-80'],
      ['-wbeam', '1e-60'],
      ['-hypseg', join(dir, 'hypseg')],
      ...(nbest > 0
        ? [
            ['-nbest', String(nbest)],
            ['-nbestdir', dir],
            ['-nbestext', '.nbest'],
          ]
        : []),
      ['-logfn', join(dir, 'log')],
      config.extraArgs ?? [],
    ].flat();
    await run(bin, args, config.timeoutMs ?? 30_000 + clips.length * 2000, dir, signal);
    const hypseg = parseHypseg(await readFile(join(dir, 'hypseg'), 'utf8').catch(() => ''));
    return Promise.all(
      ids.map(async (id) => {
        const best = hypseg.get(id) ?? {
          text: '',
          score: -Infinity,
          acoustic: -Infinity,
          words: [],
        };
        const nb = parseNbest(await readFile(join(dir, `${id}.nbest`), 'utf8').catch(() => ''));
        return { ...best, nbest: nb };
      }),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function run(
  bin: string,
  args: string[],
  timeout: number,
  dir: string,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout, signal, maxBuffer: 4 * 1024 * 1024 }, (err) => {
      if (!err) return resolve();
      const e = err as NodeJS.ErrnoException & { killed?: boolean };
      if (e.code === 'ENOENT') {
        return reject(
          new DependencyMissingError(
            `${bin} (pocketsphinx)`,
            'install it with `apt-get install pocketsphinx pocketsphinx-en-us`',
            {
              cause: err,
            },
          ),
        );
      }
      if (e.name === 'AbortError') return reject(signal?.reason ?? err);
      void logErrors(dir).then((detail) => {
        reject(
          new HelixError(
            `${bin} failed${e.killed ? ` (killed after ${timeout} ms)` : ''}: ${detail || err.message}`,
            { cause: err },
          ),
        );
      }, reject);
    });
  });
}

/** `uttid S scale T total A ascr L lscr (sf ascr lscr word)* ef` per line. */
export function parseHypseg(text: string): Map<string, Omit<PsResult, 'nbest'>> {
  const out = new Map<string, Omit<PsResult, 'nbest'>>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || f[1] !== 'S' || f[3] !== 'T') continue;
    const id = f[0]!;
    const words: PsWord[] = [];
    let i = 9;
    while (i + 3 < f.length) {
      const start = Number(f[i]);
      const acoustic = Number(f[i + 1]);
      const word = f[i + 3]!;
      const end = Number(f[i + 4] ?? start);
      if (!FILLERS.has(word))
        words.push({
          word: word.replace(/\(\d+\)$/, ''),
          start: start * FRAME_S,
          end: end * FRAME_S,
          acoustic,
        });
      i += 4;
    }
    // an empty best path (S 0 T 0 A 0) means no complete path through the grammar
    const empty = f.length <= 10;
    out.set(id, {
      text: words.map((w) => w.word).join(' '),
      score: empty ? -Infinity : Number(f[4]),
      acoustic: empty ? -Infinity : Number(f[6]),
      words,
    });
  }
  return out;
}

/** N-best lines: `words... score`; fillers dropped, duplicates (same words) kept once. */
export function parseNbest(text: string): PsHypothesis[] {
  const seen = new Set<string>();
  const out: PsHypothesis[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 1 || f[0] === '') continue;
    const score = Number(f.pop());
    if (!Number.isFinite(score)) continue;
    const words = f.filter((w) => !FILLERS.has(w)).map((w) => w.replace(/\(\d+\)$/, ''));
    const key = words.join(' ');
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ text: key, score });
  }
  return out;
}

/**
 * The lines of a CMU-format dictionary (`word PH ON ES`, alternates as `word(2) …`) for the
 * words a JSGF grammar uses: its tokens less rule names, operators, weights and comments.
 * Words the dictionary lacks are left out (the grammar builder drops phrases that use them).
 */
export function grammarDictionary(jsgf: string, dictionary: ReadonlyMap<string, string[]>): string {
  const body = jsgf
    .split('\n')
    .filter((l) => !l.startsWith('#JSGF') && !/^\s*grammar\s/.test(l))
    .map((l) => l.replace(/\/\/.*$/, ''))
    .join(' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/\/[^/]*\//g, ' ')
    .replace(/\bpublic\b/g, ' ')
    .replace(/[|[\]()=;*+]/g, ' ');
  const words = new Set(body.split(/\s+/).filter(Boolean));
  const lines: string[] = [];
  for (const w of [...words].sort()) lines.push(...(dictionary.get(w) ?? []));
  return lines.join('\n') + '\n';
}

/** The model's feature parameters; none (pocketsphinx's defaults) when it has no feat.params. */
async function readFeatParams(hmm: string): Promise<string> {
  try {
    return await readFile(join(hmm, 'feat.params'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

/** feat.params text with `-cmn live` in place of its own -cmn line (or added). */
export function withLiveCmn(featParams: string): string {
  const lines = featParams.split('\n').filter((l) => !/^-cmn\s/.test(l.trim()));
  while (lines.length && lines.at(-1) === '') lines.pop();
  return [...lines, '-cmn live', ''].join('\n');
}

function defaultWorkDir(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

/**
 * One `pocketsphinx_batch` kept running with its model and grammar loaded, decoding utterances as
 * they come: the control file is its stdin (one utterance name a line, read as it arrives) and
 * the best paths come back on its stdout (-hypseg, flushed per utterance). Starting the decoder
 * (model, grammar, dictionary) took ~100 ms of each utterance when a process was started per
 * utterance. Each utterance is still a file in a tmpfs, removed once decoded: batch CMN needs
 * seekable input (see the header).
 *
 * Between utterances the decoder keeps one thing: the running cepstral mean of a live-CMN decoder
 * (config.cmn 'live') starts from the last utterances' mean, as it would on a live stream. The
 * dither (one sample in four raised by one, against digital silence) is added here with the same
 * seed for every utterance, so other decodes do not depend on what came before.
 */
interface Proc {
  child: ChildProcess;
  ctl: Socket;
  hyp: Socket;
  dir: string;
  /** why the decoder is gone, once it is */
  gone: Promise<Error> | null;
}

export class WarmDecoder {
  #proc: Proc | null = null;
  #starting: Promise<void> | null = null;
  #pending = new Map<string, { resolve: (r: PsResult) => void; reject: (e: Error) => void }>();
  #next = 0;
  #closed = false;

  constructor(
    private readonly grammar: DecodeGrammar,
    private readonly config: PocketsphinxConfig = {},
  ) {}

  /** Starts the decoder now rather than with the first utterance. */
  async start(): Promise<void> {
    if (this.#closed) throw new Error('pocketsphinx decoder is closed');
    if (this.#proc) return;
    this.#starting ??= this.#spawn().finally(() => (this.#starting = null));
    return this.#starting;
  }

  /** One result per clip, in order; clips queue behind those already sent. */
  async decode(clips: readonly Pcm16[], signal?: AbortSignal): Promise<PsResult[]> {
    if (clips.length === 0) return [];
    await this.start();
    const proc = this.#proc!;
    const ids = clips.map(() => `u${this.#next++}`);
    await Promise.all(
      clips.map((pcm, i) => writeFile(join(proc.dir, `${ids[i]}.raw`), pcm16Bytes(dithered(pcm)))),
    );
    const results = ids.map(
      (id) =>
        new Promise<PsResult>((resolve, reject) => this.#pending.set(id, { resolve, reject })),
    );
    this.#hold();
    // gone while the audio was written: its failure has passed these by
    if (proc.gone) {
      const err = await proc.gone;
      for (const id of ids) this.#pending.get(id)?.reject(err);
    }
    const timeout = this.config.timeoutMs ?? 30_000 + clips.length * 2000;
    const timer = setTimeout(() => {
      this.#fail(new HelixError(`${this.#bin} gave no result within ${timeout} ms`));
      proc.child.kill('SIGKILL');
    }, timeout);
    try {
      proc.ctl.write(ids.join('\n') + '\n');
      return await untilAborted(Promise.all(results), signal);
    } finally {
      clearTimeout(timer);
      // an aborted utterance is still decoded; its result is dropped
      for (const id of ids) this.#pending.delete(id);
      this.#hold();
      await Promise.all(ids.map((id) => rm(join(proc.dir, `${id}.raw`), { force: true })));
    }
  }

  /** Lets queued utterances finish, then the decoder exits (end of its control file). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#starting?.catch(() => undefined);
    const proc = this.#proc;
    if (!proc) return;
    const exited = new Promise<void>((resolve) => proc.child.once('close', () => resolve()));
    proc.ctl.end();
    if (this.#pending.size > 0) await exited;
  }

  get #bin(): string {
    return this.config.bin ?? 'pocketsphinx_batch';
  }

  async #spawn(): Promise<void> {
    const hmm = this.config.hmm ?? join(DEBIAN_MODEL_DIR, 'en-us');
    const dict = this.config.dict ?? join(DEBIAN_MODEL_DIR, 'cmudict-en-us.dict');
    if (!existsSync(hmm) || !existsSync(dict)) {
      throw new DependencyMissingError(
        `pocketsphinx en-us model (${hmm}, ${dict})`,
        'install it with `apt-get install pocketsphinx-en-us`',
      );
    }
    const dir = await mkdtemp(join(this.config.workDir ?? defaultWorkDir(), 'helix-ps-'));
    const live = this.config.cmn === 'live';
    const phoneLoop = this.grammar.jsgf === 'phone-loop';
    const search = phoneLoop ? null : grammarFile(this.grammar, dir);
    const [ctlPath, hypPath] = [join(dir, 'ctl'), join(dir, 'hypseg')];
    await Promise.all([
      // Node's stdio pipes are sockets, which the decoder cannot fopen(): named pipes instead
      mkfifo(ctlPath, hypPath),
      ...(search ? [writeFile(search.path, search.text)] : []),
      ...(this.grammar.dict !== undefined
        ? [writeFile(join(dir, 'grammar.dict'), this.grammar.dict)]
        : []),
      ...(live
        ? [readFeatParams(hmm).then((t) => writeFile(join(dir, 'feat.params'), withLiveCmn(t)))]
        : []),
    ]);
    // opened read-write, so neither open waits for the decoder; the decoder sees the end of its
    // control file when `ctl` is ended
    const open = (path: string) => openSync(path, fsc.O_RDWR | fsc.O_NONBLOCK);
    const ctl = new Socket({ fd: open(ctlPath), readable: false, writable: true });
    const hyp = new Socket({ fd: open(hypPath), readable: true, writable: false });
    const args = [
      ...decoderArgs(hmm, this.grammar.dict !== undefined ? join(dir, 'grammar.dict') : dict, {
        // a phone loop searched as widely as a grammar takes seconds per utterance
        beams: phoneLoop ? ['1e-20', '1e-20', '1e-20'] : undefined,
      }),
      ...(phoneLoop ? ['-lw', '2.0'] : []),
      ...(search
        ? search.args
        : ['-allphone', join(dirname(hmm), 'en-us-phone.lm.bin'), '-allphone_ci', 'yes']),
      ...['-ctl', ctlPath, '-cepdir', dir, '-dither', 'no'],
      ...['-topn', String(this.config.topn ?? DEFAULT_TOPN)],
      ...(live ? ['-featparams', join(dir, 'feat.params')] : []),
      ...['-hypseg', hypPath, '-logfn', join(dir, 'log')],
      ...(this.config.extraArgs ?? []),
    ];
    const child = spawn(this.#bin, args, { stdio: 'ignore' });
    const proc: Proc = { child, ctl, hyp, dir, gone: null };
    this.#proc = proc;
    let failure: Error | null = null;
    ctl.on('error', () => undefined);
    hyp.on('error', () => undefined);
    createInterface({ input: hyp }).on('line', (line) => {
      for (const [id, best] of parseHypseg(line)) {
        this.#pending.get(id)?.resolve({ ...best, nbest: [] });
        this.#pending.delete(id);
      }
    });
    // the decoder is gone (it exited, or never started): what waits for it fails with why
    const gone = (why: Promise<Error>) => {
      if (proc.gone) return;
      proc.gone = why;
      if (this.#proc === proc) this.#proc = null;
      ctl.destroy();
      void why.then((err) => {
        hyp.destroy();
        this.#fail(err);
        return rm(dir, { recursive: true, force: true });
      });
    };
    child.on('error', (err: NodeJS.ErrnoException) => {
      failure =
        err.code === 'ENOENT'
          ? new DependencyMissingError(
              `${this.#bin} (pocketsphinx)`,
              'install it with `apt-get install pocketsphinx pocketsphinx-en-us`',
              { cause: err },
            )
          : err;
      gone(Promise.resolve(failure));
    });
    child.on('close', (code, sig) => {
      gone(
        logErrors(dir).then((detail) => {
          return (
            failure ??
            new HelixError(
              `${this.#bin} exited (${sig ?? `code ${code}`})${detail ? `: ${detail}` : ''}`,
            )
          );
        }),
      );
    });
    this.#hold();
  }

  #fail(err: Error): void {
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  /** The decoder keeps Node running only while an utterance waits for it. */
  #hold(): void {
    const proc = this.#proc;
    if (!proc) return;
    const busy = this.#pending.size > 0;
    for (const h of [proc.child, proc.ctl, proc.hyp])
      if (busy) h.ref();
      else h.unref();
  }
}

/** The grammar's file in `dir` and the option that hands it to the decoder: the automaton when given. */
function grammarFile(
  grammar: DecodeGrammar,
  dir: string,
): { path: string; text: string; args: string[] } {
  const [ext, text] = grammar.fsg !== undefined ? ['fsg', grammar.fsg] : ['jsgf', grammar.jsgf];
  const path = join(dir, `grammar.${ext}`);
  return { path, text, args: [`-${ext}`, path] };
}

function mkfifo(...paths: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile('mkfifo', ['-m', '600', ...paths], (err) => (err ? reject(err) : resolve())),
  );
}

/** The options every decode of the recogniser's shares (see decodeWithGrammar for the why). */
function decoderArgs(hmm: string, dict: string, opts: { beams?: string[] } = {}): string[] {
  const [beam, pbeam, wbeam] = opts.beams ?? ['1e-80', '1e-80', '1e-60'];
  return [
    ...['-cepext', '.raw', '-adcin', 'yes', '-adchdr', '0', '-samprate', '16000'],
    ...['-hmm', hmm, '-dict', dict, '-bestpath', 'yes'],
    ...['-beam', beam!, '-pbeam', pbeam!, '-wbeam', wbeam!],
  ];
}

/**
 * pocketsphinx's own dither (-dither yes: one sample in four raised by one, so that digital
 * silence has no log(0) energies), with a fixed seed per utterance.
 */
export function dithered(pcm: Pcm16): Pcm16 {
  const out = Int16Array.from(pcm);
  let state = 1;
  for (let i = 0; i < out.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    if ((state >>> 16) % 4 === 0 && out[i]! < 32767) out[i]! += 1;
  }
  return out;
}

/** The last ERROR/FATAL lines of pocketsphinx's log in `dir`, joined ("" when none or unreadable). */
function logErrors(dir: string): Promise<string> {
  return readFile(join(dir, 'log'), 'utf8')
    .catch(() => '')
    .then((log) =>
      log
        .split('\n')
        .filter((l) => /ERROR|FATAL/.test(l))
        .slice(-3)
        .join('; '),
    );
}
