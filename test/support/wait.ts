/** The one polling wait of the tests, benchmarks and harness, and small async helpers. */

/** Every item of an async iterable, in order. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

export interface WaitOptions {
  /** give up after this long (default 10 s) */
  timeoutMs?: number;
  /** pause between probes (default 50 ms) */
  intervalMs?: number;
  signal?: AbortSignal;
  /** what is awaited, for the timeout message */
  what?: string;
}

/** Thrown by a probe to end a wait at once (waitFor retries every other error until its timeout). */
export class FatalWaitError extends Error {
  override name = 'FatalWaitError';
}

/** A node the wait depends on is not running (it exited, or was never started). */
export class NodeExitedError extends FatalWaitError {
  override name = 'NodeExitedError';
}

/** T without its falsy values: what waitFor returns. */
export type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

/**
 * Poll `probe` until it returns something truthy, and return that; throws after timeoutMs naming
 * `what` with the last value or error, or at once when the probe throws a FatalWaitError or the
 * signal aborts.
 */
export async function waitFor<T>(
  probe: () => Promise<T> | T,
  opts: WaitOptions = {},
): Promise<Truthy<T>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const interval = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      const value = await probe();
      if (value) return value as Truthy<T>;
      last = value;
    } catch (err) {
      if (err instanceof FatalWaitError) throw err;
      last = err;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'a condition'}; last: ${detail}`,
      );
    }
    await new Promise((r) => setTimeout(r, Math.min(interval, Math.max(0, deadline - Date.now()))));
  }
}

/** Run fn over items, at most `limit` at a time, keeping order. */
export async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}

/**
 * For negative checks ("X does not happen"): watch `happened` for up to `forMs` and say whether it
 * held. It returns as soon as X happens, so a failing check fails at once, and a passing one
 * watches for exactly its bound instead of sleeping blind. Assert on the outcome afterwards.
 */
export async function happensWithin(
  forMs: number,
  happened: () => boolean | Promise<boolean>,
  intervalMs = 20,
): Promise<boolean> {
  return waitFor(happened, { timeoutMs: forMs, intervalMs }).then(
    () => true,
    () => false,
  );
}
