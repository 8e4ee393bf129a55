/** The node's control routes, as the dashboard mounts them under /api/v1 (same origin). */

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

async function failure(res: Response): Promise<ApiError> {
  const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
  return new ApiError(body?.error?.message ?? `${res.status} ${res.statusText}`, res.status);
}

export async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(`/api${path}`, { headers: { accept: 'application/json' } });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  const res = await fetch(`/api${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

/**
 * A streamed POST (control's NDJSON envelope): calls `onLine` for each line; an error line
 * throws. Resolves when the stream ends.
 */
export async function postStream(
  path: string,
  body: unknown,
  onLine: (line: Record<string, unknown>) => void,
): Promise<void> {
  const res = await fetch(`/api${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok || !res.body) throw await failure(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  const take = (line: string): void => {
    if (!line.trim()) return;
    const value = JSON.parse(line) as Record<string, unknown> & { error?: { message: string } };
    if (value.error) throw new ApiError(value.error.message, 500);
    onLine(value);
  };
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += value;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      take(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
  }
  take(buffer);
}
