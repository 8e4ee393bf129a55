/**
 * This node's copy of the mesh settings: the merged state in memory, persisted atomically to
 * `<stateDir>/settings.json` (temp file + fsync + rename, mode 0600: it holds secrets) after
 * every change, and read back on start. Local writes are validated against the schema and
 * stamped with this node's hybrid logical clock; writes from peers are merged.
 *
 * Listeners hear every change with the keys changed and where the change came from; they never
 * receive values, so nothing that logs an event can leak a secret.
 */
import path from 'node:path';
import { describeError, fileProblemHint, StateError } from '../errors.js';
import { readFileOrNull, writeFileAtomic } from '../identity/index.js';
import type { Logger } from '../log.js';
import { HybridClock, type Hlc } from './clock.js';
import { InvalidSettingError } from './errors.js';
import {
  applyEntries,
  latestClock,
  type JsonValue,
  type SettingEntry,
  type SettingsState,
} from './merge.js';
import {
  acceptsRemote,
  meshSettings,
  publicView,
  validateSetting,
  valueAllowed,
  type MeshSettings,
  type PublicSetting,
} from './schema.js';

export const SETTINGS_FILE = 'settings.json';
const FILE_VERSION = 1;
/** A value larger than this would not fit in one replication message (896 KiB). */
const MAX_ENTRY_BYTES = 800 * 1024;
/**
 * Writes from peers are saved in one go shortly after they arrive: a full state of 300 rooms
 * arrives as 300 deltas or a few chunks, and an fsync per write took 4 s for it (14 ms each).
 * Losing them to a crash costs nothing: the peers send them again on the next digest.
 */
const REMOTE_SAVE_DELAY_MS = 100;

export interface SettingsChange {
  /** keys whose value changed (set or deleted), sorted */
  keys: string[];
  /** 'local': set()/delete() on this node; 'remote': merged from a peer */
  origin: 'local' | 'remote';
  /** the winning writes, for replication (listeners that log must log keys only) */
  entries: SettingEntry[];
}

export type SettingsChangeListener = (change: SettingsChange) => void;

export interface SettingsStoreOptions {
  /** the node's state dir (the file is `settings.json` in it) */
  stateDir: string;
  /** this node's id: the writer of its writes */
  selfId: string;
  logger: Logger;
  /** wall clock in ms (default Date.now) */
  clock?: () => number;
}

export class SettingsStore {
  readonly #file: string;
  readonly #log: Logger;
  readonly #clock: HybridClock;
  readonly #listeners = new Set<SettingsChangeListener>();
  #state: SettingsState = new Map();
  #loaded = false;
  /** merged writes from peers not on disk yet (saved within REMOTE_SAVE_DELAY_MS, or retried) */
  #unsaved = false;
  #saveTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: SettingsStoreOptions) {
    this.#file = path.join(options.stateDir, SETTINGS_FILE);
    this.#log = options.logger.child({ module: 'settings' });
    this.#clock = new HybridClock(options.selfId, options.clock);
  }

  get file(): string {
    return this.#file;
  }

  get selfId(): string {
    return this.options.selfId;
  }

  /** Reads the file (a missing file is an empty state). Throws StateError if unreadable. */
  async start(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.#loaded) return;
    this.#state = this.#read();
    const latest = latestClock(this.#state);
    // after a restart with the wall clock set back, our writes still come after our old ones
    if (latest) this.#clock.observe(latest);
    this.#loaded = true;
    this.#log.info({ file: this.#file, keys: this.#state.size }, 'settings loaded');
  }

  async stop(): Promise<void> {
    this.#clearSaveTimer();
    if (this.#unsaved) this.#tryPersist();
    this.#loaded = false;
  }

  /**
   * The value of a key (secrets included: for the components that use them), or undefined when
   * unset, deleted, or holding a value this version does not allow (written by a newer peer).
   */
  get(key: string): JsonValue | undefined {
    const e = this.#state.get(key);
    return e && !e.deleted && valueAllowed(key, e.value) ? e.value : undefined;
  }

  /** The current write of a key, tombstones included. */
  entry(key: string): SettingEntry | undefined {
    return this.#state.get(key);
  }

  /** Every write held, tombstones included (what replication sends). */
  entries(): SettingEntry[] {
    return [...this.#state.values()];
  }

  /** The state itself, read-only (for digests). */
  state(): ReadonlyMap<string, SettingEntry> {
    return this.#state;
  }

  /** Settings for display: secrets redacted, tombstones left out, sorted by key. */
  list(): PublicSetting[] {
    return publicView(this.#state.values());
  }

  /** Typed settings with defaults (secrets included). */
  settings(): MeshSettings {
    return meshSettings(this.#state.values());
  }

  /**
   * Validate, stamp and persist a local write. Throws InvalidSettingError/UnknownSettingError for
   * a bad key or value, and StateError when the file cannot be written (the previous file and the
   * in-memory state are kept).
   */
  set(key: string, value: unknown): SettingEntry {
    this.#assertLoaded();
    const checked = validateSetting(key, value);
    if (JSON.stringify(checked).length > MAX_ENTRY_BYTES) {
      throw new InvalidSettingError(
        key,
        '(too large)',
        `a value under ${MAX_ENTRY_BYTES / 1024} KiB`,
      );
    }
    return this.#writeLocal({ key, hlc: this.#clock.now(), value: checked });
  }

  /** Delete a key (a tombstone write, so the delete replicates); undefined if it was not set. */
  delete(key: string): SettingEntry | undefined {
    this.#assertLoaded();
    const current = this.#state.get(key);
    if (!current || current.deleted) return undefined;
    return this.#writeLocal({ key, hlc: this.#clock.now(), deleted: true });
  }

  /**
   * Merge writes from a peer: those with a malformed key are left out (returned as `refused`),
   * the rest merge by clock. Persists and emits a 'remote' change when anything won.
   */
  merge(incoming: readonly SettingEntry[]): { won: SettingEntry[]; refused: SettingEntry[] } {
    this.#assertLoaded();
    const refused: SettingEntry[] = [];
    const accepted: SettingEntry[] = [];
    for (const e of incoming) (acceptsRemote(e) ? accepted : refused).push(e);
    for (const e of accepted) this.#clock.observe(e.hlc);
    const won = applyEntries(this.#state, accepted);
    if (won.length > 0) {
      this.#unsaved = true;
      this.#saveTimer ??= setTimeout(() => {
        this.#saveTimer = null;
        if (this.#unsaved) this.#tryPersist();
      }, REMOTE_SAVE_DELAY_MS);
      this.#emit({ keys: sortedKeys(won), origin: 'remote', entries: won });
    }
    return { won, refused };
  }

  /** Listen to changes; returns unsubscribe. */
  onChange(listener: SettingsChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The clock's latest stamp (tests, status). */
  clock(): Hlc {
    return this.#clock.peek();
  }

  #writeLocal(entry: SettingEntry): SettingEntry {
    const next: SettingsState = new Map(this.#state);
    next.set(entry.key, entry);
    this.#persist(next); // throws: memory stays as it was
    this.#state = next;
    this.#unsaved = false;
    this.#clearSaveTimer();
    this.#emit({ keys: [entry.key], origin: 'local', entries: [entry] });
    return entry;
  }

  #clearSaveTimer(): void {
    if (this.#saveTimer) clearTimeout(this.#saveTimer);
    this.#saveTimer = null;
  }

  #tryPersist(): void {
    try {
      this.#persist(this.#state);
      this.#unsaved = false;
    } catch (err) {
      // Peers hold these writes too and resend them on the next digest; keep serving from memory.
      this.#log.warn({ file: this.#file, err: describeError(err) }, 'settings not saved');
    }
  }

  #persist(state: SettingsState): void {
    const body = JSON.stringify({ v: FILE_VERSION, entries: [...state.values()] }, null, 1);
    try {
      writeFileAtomic(this.#file, `${body}\n`, 0o600);
    } catch (err) {
      if (err instanceof StateError) throw err;
      const hint = fileProblemHint(err) ?? 'check the state dir';
      throw new StateError(`cannot write ${this.#file}; ${hint}`, { cause: err });
    }
  }

  #read(): SettingsState {
    const bytes = readFileOrNull(this.#file);
    const state: SettingsState = new Map();
    if (bytes === null) return state;
    let entries: SettingEntry[];
    try {
      const parsed = JSON.parse(bytes.toString('utf8')) as { v?: unknown; entries?: unknown };
      if (parsed.v !== FILE_VERSION || !Array.isArray(parsed.entries))
        throw new Error('no entries');
      entries = parsed.entries as SettingEntry[];
    } catch (err) {
      throw new StateError(
        `settings file ${this.#file} is unreadable (${describeError(err)}); move it away and ` +
          'restart: the other nodes send the settings back',
        { cause: err },
      );
    }
    applyEntries(state, entries.filter(isEntryShape));
    return state;
  }

  #emit(change: SettingsChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (err) {
        this.#log.error(
          { keys: change.keys, err: describeError(err) },
          'settings change listener failed',
        );
      }
    }
  }

  #assertLoaded(): void {
    if (!this.#loaded) throw new StateError('settings are not loaded; call start() first');
  }
}

function sortedKeys(entries: readonly SettingEntry[]): string[] {
  return [...new Set(entries.map((e) => e.key))].sort();
}

function isEntryShape(e: unknown): e is SettingEntry {
  const x = e as SettingEntry | null;
  return (
    typeof x?.key === 'string' &&
    typeof x.hlc?.wall === 'number' &&
    typeof x.hlc.logical === 'number' &&
    typeof x.hlc.node === 'string'
  );
}
