/** Child processes and PATH lookups for the probes: every run is time-bounded and cancellable. */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';

export interface CommandResult {
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

/** `bin args...` failed: not found, non-zero exit, timeout or abort. */
export class CommandError extends Error {
  constructor(
    readonly command: string,
    /** 'missing' | 'timeout' | 'aborted' | 'exit' | 'error' */
    readonly reason: 'missing' | 'timeout' | 'aborted' | 'exit' | 'error',
    readonly status: number | null,
    readonly stderr: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'CommandError';
  }
}

/**
 * A signal for one command that follows `outer` and lets go of it when `release` is called.
 * execFile given a caller's long-lived signal adds an abort listener to it and removes it only on
 * the child's 'exit', which a child that never started (ENOENT: no nvidia-smi) does not emit: a
 * node without nvidia-smi added one listener every 30 s until MaxListenersExceededWarning.
 */
function perCallSignal(outer: AbortSignal | undefined): {
  signal: AbortSignal | undefined;
  release: () => void;
} {
  if (!outer) return { signal: undefined, release: () => {} };
  const own = new AbortController();
  if (outer.aborted) {
    own.abort(outer.reason);
    return { signal: own.signal, release: () => {} };
  }
  const onAbort = () => own.abort(outer.reason);
  outer.addEventListener('abort', onAbort, { once: true });
  return { signal: own.signal, release: () => outer.removeEventListener('abort', onAbort) };
}

export function runCommand(bin: string, args: string[], opts: RunOptions): Promise<CommandResult> {
  const command = [bin, ...args].join(' ');
  const { signal, release } = perCallSignal(opts.signal);
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      args,
      {
        timeout: opts.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 4 * 1024 * 1024,
        encoding: 'utf8',
        signal,
        // C locale: the parsers read English output
        env: { ...(opts.env ?? process.env), LC_ALL: 'C' },
      },
      (err, stdout, stderr) => {
        release();
        if (!err) return resolve({ stdout, stderr });
        const e = err as NodeJS.ErrnoException & {
          code?: string | number;
          killed?: boolean;
          signal?: string | null;
        };
        const fail = (reason: CommandError['reason'], status: number | null, message: string) =>
          reject(new CommandError(command, reason, status, stderr, message, { cause: err }));
        if (e.code === 'ENOENT' || e.code === 'EACCES')
          return fail('missing', null, `${bin} not found or not executable`);
        if (e.name === 'AbortError') return fail('aborted', null, `${command} was cancelled`);
        if (e.killed || e.signal)
          return fail('timeout', null, `${command} did not finish within ${opts.timeoutMs} ms`);
        if (typeof e.code === 'number') {
          return fail(
            'exit',
            e.code,
            `${command} exited with ${e.code}: ${stderr.trim() || stdout.trim() || 'no output'}`,
          );
        }
        fail('error', null, `${command} failed: ${e.message}`);
      },
    );
  });
}

/**
 * The executable a command name resolves to: a name with a slash is checked as given, a bare
 * name is looked up along PATH. Null when there is none.
 */
export async function findOnPath(
  bin: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | null> {
  if (bin.includes('/')) return (await isExecutableFile(bin)) ? path.resolve(bin) : null;
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, bin);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return null;
}

async function isExecutableFile(file: string): Promise<boolean> {
  try {
    const st = await stat(file);
    if (!st.isFile()) return false;
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Resolves with `work`, or rejects when `ms` pass or `signal` aborts, whichever is first. */
export function withDeadline<T>(
  work: (signal: AbortSignal) => Promise<T>,
  ms: number,
  signal?: AbortSignal,
): Promise<T> {
  const deadline = AbortSignal.timeout(ms);
  const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
  return new Promise<T>((resolve, reject) => {
    if (combined.aborted) return reject(combined.reason as Error);
    const onAbort = () => reject(combined.reason as Error);
    combined.addEventListener('abort', onAbort, { once: true });
    work(combined).then(
      (value) => {
        combined.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        combined.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
