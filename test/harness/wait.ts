/** Polling with a deadline, for harness waits and tests. */

export interface WaitOptions {
  timeoutMs: number;
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

/**
 * Poll `probe` until it returns something truthy; throws after timeoutMs with the last value or
 * error, or at once when the probe throws a FatalWaitError.
 */
export async function waitFor<T>(
  probe: () => Promise<T> | T,
  opts: WaitOptions,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 200;
  let last: unknown;
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (err) {
      if (err instanceof FatalWaitError) throw err;
      last = err;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(
        `timed out after ${opts.timeoutMs} ms waiting for ${opts.what ?? 'a condition'}; last: ${detail}`,
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
