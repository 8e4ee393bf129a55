/**
 * Typed errors that say what went wrong and what to do about it.
 * The CLI maps `exitCode` to the process exit status (sysexits-style).
 */
export class HelixError extends Error {
  /** Process exit status the CLI uses when this error reaches it. */
  readonly exitCode: number = 1;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A configuration key or value is invalid (exit 78, EX_CONFIG). */
export class ConfigError extends HelixError {
  override readonly exitCode = 78;
  constructor(
    readonly key: string,
    readonly value: unknown,
    readonly allowed: string,
    options?: ErrorOptions,
  ) {
    super(`config ${key} = ${formatValue(value)} is invalid: ${allowed}`, options);
  }
}

/** Bad command-line usage (exit 64, EX_USAGE). */
export class UsageError extends HelixError {
  override readonly exitCode = 64;
}

/** A program or service the node needs is missing (exit 69, EX_UNAVAILABLE). */
export class DependencyMissingError extends HelixError {
  override readonly exitCode = 69;
  constructor(
    readonly dependency: string,
    readonly fix: string,
    options?: ErrorOptions,
  ) {
    super(`${dependency} is not available; ${fix}`, options);
  }
}

/** State on disk is unreadable or unwritable (exit 74, EX_IOERR). */
export class StateError extends HelixError {
  override readonly exitCode = 74;
}

/** The node is not a member of a mesh yet, or the mesh refused it (exit 77, EX_NOPERM). */
export class MeshAccessError extends HelixError {
  override readonly exitCode = 77;
}

/** A peer or the local daemon could not be reached (exit 69). */
/** The node is up but still starting its parts: ask again in a moment (EX_TEMPFAIL). */
export class NodeStartingError extends HelixError {
  override readonly exitCode = 75;
}

export class UnreachableError extends HelixError {
  override readonly exitCode = 69;
}

/** Input data (audio, JSON, adverts) is malformed (exit 65, EX_DATAERR). */
export class InputError extends HelixError {
  override readonly exitCode = 65;
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** A one-line description of any thrown value, with causes. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    if (err.cause === undefined) return err.message;
    const cause = describeError(err.cause);
    // Wrappers often quote their cause already; say each thing once.
    return err.message.includes(cause) || err.message.includes(causeMessage(err.cause))
      ? err.message
      : `${err.message} (cause: ${cause})`;
  }
  return String(err);
}

function causeMessage(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/**
 * What to do about a failed file write, by the errno code of the error or of any error in its
 * cause chain; null when the code says nothing a person could act on.
 */
export function fileProblemHint(err: unknown): string | null {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    switch ((e as NodeJS.ErrnoException).code) {
      case 'ENOSPC':
      case 'EDQUOT':
        return 'the disk is full; free some space and try again';
      case 'EROFS':
        return 'the file system is read-only; point the state dir at a writable one';
      case 'EACCES':
      case 'EPERM':
        return 'permission denied; check the owner and mode of the directory';
    }
  }
  return null;
}

/** What `fs.stat` says a path is, enough to name it. */
export interface FileKindStats {
  isFile(): boolean;
  isDirectory(): boolean;
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
}

/** What a path is, for an error that refuses it: "a directory", "a FIFO (named pipe)", … */
export function fileKind(st: FileKindStats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}
