/**
 * nats-server's HTTP monitoring endpoint (bound to 127.0.0.1): /varz and /routez, parsed at the
 * edge. Field names mirror the wire (nats-server 2.9; fields newer servers add are optional).
 */
import { z } from 'zod';
import { InputError, UnreachableError } from '../errors.js';
import { getJson } from '../http-json.js';
import { lazySchema } from '../types.js';

export const NatsRouteSchema = lazySchema(() =>
  z.object({
    rid: z.number(),
    /** the peer's server id (new on every start of that server) */
    remote_id: z.string(),
    /** the peer's server_name; only nats-server 2.10+ reports it */
    remote_name: z.string().optional(),
    did_solicit: z.boolean().optional(),
    is_configured: z.boolean().optional(),
    /** the peer's address as seen on this connection (its listen address when we dialled it) */
    ip: z.string(),
    port: z.number(),
    start: z.string().optional(),
    rtt: z.string().optional(),
    uptime: z.string().optional(),
    in_msgs: z.number().optional(),
    out_msgs: z.number().optional(),
    subscriptions: z.number().optional(),
  }),
);
export type NatsRoute = z.infer<typeof NatsRouteSchema>;

export const NatsRoutezSchema = lazySchema(() =>
  z.object({
    server_id: z.string(),
    now: z.string(),
    num_routes: z.number(),
    // absent or null when there are none
    routes: z
      .array(NatsRouteSchema)
      .nullish()
      .transform((r) => r ?? []),
  }),
);
export type NatsRoutez = z.infer<typeof NatsRoutezSchema>;

/**
 * One route per peer server. nats-server 2.10 pools routes (3 connections per peer by default),
 * and /routez lists each; 2.9 has one. Counting connections would count one peer three times.
 */
export function routedServers(routez: NatsRoutez): NatsRoute[] {
  const byServer = new Map<string, NatsRoute>();
  for (const r of routez.routes) if (!byServer.has(r.remote_id)) byServer.set(r.remote_id, r);
  return [...byServer.values()];
}

export const NatsVarzSchema = lazySchema(() =>
  z.object({
    server_id: z.string(),
    server_name: z.string(),
    version: z.string(),
    host: z.string(),
    port: z.number(),
    http_host: z.string().optional(),
    http_port: z.number().optional(),
    ping_interval: z.number().optional(),
    ping_max: z.number().optional(),
    cluster: z
      .object({
        name: z.string().optional(),
        addr: z.string().optional(),
        cluster_port: z.number().optional(),
        urls: z.array(z.string()).optional(),
      })
      .optional(),
    /** empty object when JetStream is off */
    jetstream: z.record(z.string(), z.unknown()).optional(),
    start: z.string(),
    now: z.string(),
    config_load_time: z.string().optional(),
    connections: z.number(),
    routes: z.number(),
    remotes: z.number().optional(),
    in_msgs: z.number(),
    out_msgs: z.number(),
  }),
);
export type NatsVarz = z.infer<typeof NatsVarzSchema>;

const DEFAULT_TIMEOUT_MS = 2000;

export async function fetchMonitor<T>(
  port: number,
  path: '/varz' | '/routez',
  schema: z.ZodType<T>,
  opts: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<T> {
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  const url = `http://127.0.0.1:${port}${path}`;
  let body: unknown;
  try {
    body = await getJson(url, { signal });
  } catch (err) {
    throw new UnreachableError(
      `nats-server monitoring at ${url} did not answer (${err instanceof Error ? err.message : String(err)}); is the node's nats-server running?`,
      { cause: err },
    );
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(
      `nats-server ${path} reply does not have the expected shape (${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}); is bus.nats_server a nats-server 2.9 or newer?`,
    );
  }
  return parsed.data;
}
