/**
 * What every control route shares: its body parsed at the edge, the client going away (Ctrl-C on
 * the CLI aborts the work), and ONE NDJSON envelope for streaming answers:
 *
 *   {"type":"event","event":E}                      while the work runs (any number)
 *   {"type":"result",...R}                          at most once, last
 *   {"error":{"name","message","exitCode"}}          instead, when the work failed mid-stream
 *
 * A route that fails before it streams answers one JSON `{"error":…}` (HTTP 500) instead.
 */
import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { UsageError } from '../errors.js';

export type StreamLine<E, R extends object = Record<string, unknown>> =
  { type: 'event'; event: E } | ({ type: 'result' } & R);

export interface ErrorLine {
  error: { name: string; message: string; exitCode: number };
}

/** `body` checked against `schema`; else a UsageError (exit 64) naming the route and the field. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown, usage: string): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`);
  throw new UsageError(`${usage}: ${problems.join('; ')}`);
}

/**
 * A signal aborted when the client's connection closes before the answer is complete; done()
 * stops watching (the socket may outlive this request with keep-alive).
 */
export function clientGone(req: IncomingMessage): { signal: AbortSignal; done(): void } {
  const ac = new AbortController();
  const socket = req.socket;
  const onClose = () => ac.abort(new Error('the client went away'));
  if (socket.destroyed) onClose();
  else socket.once('close', onClose);
  return { signal: ac.signal, done: () => socket.off('close', onClose) };
}
