/** CLI side of the control socket: ask the running daemon of a state dir. */
import http from 'node:http';
import { HelixError, UnreachableError } from '../errors.js';
import type { StreamLine } from './envelope.js';
import { controlSocketPath } from './server.js';

export class RemoteError extends HelixError {
  override readonly exitCode: number;
  constructor(name: string, message: string, exitCode: number) {
    super(message);
    this.name = name;
    this.exitCode = exitCode;
  }
}

export interface ControlCallOptions {
  method?: 'GET' | 'POST';
  body?: unknown;
  timeoutMs?: number;
  signal?: AbortSignal;
}

function request(
  stateDir: string,
  pathname: string,
  opts: ControlCallOptions,
): Promise<http.IncomingMessage> {
  const socketPath = controlSocketPath(stateDir);
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath,
        path: pathname,
        method: opts.method ?? 'GET',
        headers: payload
          ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
          : {},
        timeout: opts.timeoutMs ?? 10_000,
        signal: opts.signal,
      },
      resolve,
    );
    req.on('timeout', () =>
      req.destroy(
        new UnreachableError(`the node's daemon did not answer on ${socketPath} in time`),
      ),
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
        reject(
          new UnreachableError(
            `no helix-node is running with state dir ${stateDir}; start it with \`helix-node join\` (or pass the --state-dir it uses)`,
            { cause: err },
          ),
        );
      } else reject(err);
    });
    if (payload) req.write(payload);
    req.end();
  });
}

async function readAll(res: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function throwIfError(value: unknown): void {
  const err = (value as { error?: { name: string; message: string; exitCode?: number } } | null)
    ?.error;
  if (err) throw new RemoteError(err.name, err.message, err.exitCode ?? 1);
}

/** One JSON answer. */
export async function controlCall<T>(
  stateDir: string,
  pathname: string,
  opts: ControlCallOptions = {},
): Promise<T> {
  const res = await request(stateDir, pathname, opts);
  const text = await readAll(res);
  const value = JSON.parse(text) as unknown;
  throwIfError(value);
  return value as T;
}

/** The lines of a streamed answer (the envelope of envelope.ts); an error line throws. */
export async function* controlStream<T>(
  stateDir: string,
  pathname: string,
  opts: ControlCallOptions = {},
): AsyncGenerator<T> {
  const res = await request(stateDir, pathname, { ...opts, timeoutMs: opts.timeoutMs ?? 600_000 });
  if (!(res.headers['content-type'] ?? '').includes('ndjson')) {
    const value = JSON.parse(await readAll(res)) as unknown;
    throwIfError(value);
    yield value as T;
    return;
  }
  let buffer = '';
  for await (const chunk of res) {
    buffer += (chunk as Buffer).toString('utf8');
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (!line.trim()) continue;
      const value = JSON.parse(line) as unknown;
      throwIfError(value);
      yield value as T;
    }
  }
}

/** Only the events of a streamed answer (agent runs, builds: routes without a result line). */
export async function* controlEvents<E>(
  stateDir: string,
  pathname: string,
  opts: ControlCallOptions = {},
): AsyncGenerator<E> {
  for await (const line of controlStream<StreamLine<E>>(stateDir, pathname, opts)) {
    if (line.type === 'event') yield line.event;
  }
}
