/**
 * The `http.fetch` host call under the node's egress policy: http(s) only, bounded in size and
 * time, redirects followed by hand so each hop is checked, and by default nothing on loopback,
 * the LAN or the tailnet (an agent must not reach the router's admin page or a peer's gRPC port).
 * Only agents whose manifest says network = "egress" get here (the dispatcher checks).
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import type { CallContext } from './calls.js';
import type { HttpFetchParams, HttpFetchResult } from '../agentspec/index.js';

export interface HttpFetchOptions {
  /** host's cap on a body (default 1 MiB); an agent may ask for less */
  maxBytes?: number;
  /** host's cap on one fetch, redirects included (default 15 s) */
  timeoutMs?: number;
  maxRedirects?: number;
  /** allow loopback, private, link-local and tailnet (100.64/10) addresses; off by default */
  allowPrivateAddresses?: boolean;
  /** when set, only these hosts ("example.com" or "*.example.com") */
  allowedHosts?: string[];
  userAgent?: string;
  /** name -> addresses (default: the system resolver) */
  resolve?: (host: string) => Promise<string[]>;
}

export class EgressRefusedError extends Error {
  override name = 'EgressRefusedError';
}

const NON_PUBLIC = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // CGNAT: Tailscale addresses
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  NON_PUBLIC.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7], // unique local, incl. Tailscale's fd7a:115c:a1e0::/48
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  NON_PUBLIC.addSubnet(net, bits, 'ipv6');
}

/** True for addresses that are not on the public internet (loopback, LAN, link-local, tailnet). */
export function isPrivateAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return NON_PUBLIC.check(ip, 'ipv4');
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
    if (mapped) return NON_PUBLIC.check(mapped[1] as string, 'ipv4');
    return NON_PUBLIC.check(ip, 'ipv6');
  }
  return true; // not an address at all: refuse
}

export function createHttpFetch(
  opts: HttpFetchOptions = {},
): (params: HttpFetchParams, ctx?: Pick<CallContext, 'signal'>) => Promise<HttpFetchResult> {
  const hostCap = opts.maxBytes ?? 1024 * 1024;
  const maxRedirects = opts.maxRedirects ?? 5;
  const resolve =
    opts.resolve ??
    (async (host: string) => (await lookup(host, { all: true })).map((a) => a.address));

  const checkUrl = async (raw: string): Promise<URL> => {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new EgressRefusedError(`"${raw}" is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new EgressRefusedError(`only http and https URLs may be fetched, not ${url.protocol}`);
    }
    if (url.username || url.password)
      throw new EgressRefusedError('URLs with credentials may not be fetched');
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (opts.allowedHosts && !opts.allowedHosts.some((pattern) => hostMatches(host, pattern))) {
      throw new EgressRefusedError(`${host} is not in this node's allowed egress hosts`);
    }
    if (!opts.allowPrivateAddresses) {
      const addresses = isIP(host) ? [host] : await resolve(host);
      const inside = addresses.find(isPrivateAddress);
      if (inside)
        throw new EgressRefusedError(
          `${host} resolves to ${inside}, which is not a public address; agents may fetch only from the internet`,
        );
    }
    return url;
  };

  return async (params, ctx) => {
    const limit = Math.min(hostCap, params.max_bytes ?? hostCap);
    const timeoutMs = Math.min(opts.timeoutMs ?? 15_000, params.timeout_ms ?? Infinity);
    const signals = [AbortSignal.timeout(timeoutMs)];
    if (ctx?.signal) signals.push(ctx.signal);
    const signal = AbortSignal.any(signals);

    let url = await checkUrl(params.url);
    let method: string = params.method;
    let body = params.body;
    for (let hop = 0; ; hop++) {
      let res: Response;
      try {
        res = await fetch(url, {
          method,
          body: method === 'POST' ? body : undefined,
          headers: { 'user-agent': opts.userAgent ?? 'helix-agent-fetch/1', ...params.headers },
          redirect: 'manual',
          signal,
        });
      } catch (err) {
        if (signal.aborted)
          throw new Error(`fetching ${url.href} took longer than ${timeoutMs} ms`, { cause: err });
        throw new Error(
          `fetching ${url.href} failed: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`,
          { cause: err },
        );
      }
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel();
        if (hop >= maxRedirects)
          throw new Error(`more than ${maxRedirects} redirects from ${params.url}`);
        url = await checkUrl(new URL(location, url).href);
        if (
          res.status === 303 ||
          ((res.status === 301 || res.status === 302) && method === 'POST')
        ) {
          method = 'GET';
          body = undefined;
        }
        continue;
      }
      const { text, truncated } = await readCapped(res, limit);
      return {
        url: url.href,
        status: res.status,
        content_type: res.headers.get('content-type') ?? '',
        body: text,
        truncated,
      };
    }
  };
}

async function readCapped(
  res: Response,
  limit: number,
): Promise<{ text: string; truncated: boolean }> {
  if (!res.body) return { text: '', truncated: false };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.length > limit) {
      chunks.push(value.subarray(0, limit - size));
      size = limit;
      truncated = true;
      await reader.cancel();
      break;
    }
    chunks.push(value);
    size += value.length;
  }
  return { text: new TextDecoder('utf-8').decode(Buffer.concat(chunks)), truncated };
}

function hostMatches(host: string, pattern: string): boolean {
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1));
  return host === pattern;
}
