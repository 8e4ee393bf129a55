/**
 * The `http.fetch` host call under the node's egress policy: http(s) only, bounded in size and
 * time, redirects followed by hand so each hop is checked, and by default nothing but public
 * internet addresses (./egress-policy.ts: not loopback, the LAN, the tailnet, any IANA
 * special-purpose block or the host's own addresses; an agent must not reach the router's admin
 * page or a peer's gRPC port). A name is resolved once per hop, every answer is checked, and the
 * connection goes to the checked address only (no second lookup to rebind), with the Host header
 * and the TLS server name still the URL's host.
 * Only agents whose manifest says network = "egress" get here (the dispatcher checks).
 */
import { lookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { LookupAddress } from 'node:dns';
import { networkInterfaces } from 'node:os';
import type { CallContext } from './calls.js';
import { checkEgressAddress } from './egress-policy.js';
import type { HttpFetchParams, HttpFetchResult } from '../agentspec/index.js';

export interface HttpFetchOptions {
  /** host's cap on a body (default 1 MiB); an agent may ask for less */
  maxBytes?: number;
  /** host's cap on one fetch, redirects included (default 15 s) */
  timeoutMs?: number;
  maxRedirects?: number;
  /**
   * allow every address (loopback, LAN, tailnet, reserved, the host's own); off by default.
   * For tests against local servers only.
   */
  allowPrivateAddresses?: boolean;
  /** when set, only these hosts ("example.com" or "*.example.com") */
  allowedHosts?: string[];
  userAgent?: string;
  /** name -> addresses (default: the system resolver); asked once per hop */
  resolve?: (host: string) => Promise<string[]>;
  /** the host's own addresses, refused whatever their range (default: every interface's) */
  hostAddresses?: () => string[];
}

export class EgressRefusedError extends Error {
  override name = 'EgressRefusedError';
}

/** Every address of every interface of this host (the policy refuses them all). */
export function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .map((a) => a.address.replace(/%.*$/, ''));
}

/** A URL that passed the policy and the one address it was checked at: connect there only. */
interface CheckedUrl {
  url: URL;
  /** the hostname without IPv6 brackets */
  host: string;
  address: string;
  family: 4 | 6;
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
}

export function createHttpFetch(
  opts: HttpFetchOptions = {},
): (params: HttpFetchParams, ctx?: Pick<CallContext, 'signal'>) => Promise<HttpFetchResult> {
  const hostCap = opts.maxBytes ?? 1024 * 1024;
  const maxRedirects = opts.maxRedirects ?? 5;
  const resolve =
    opts.resolve ??
    (async (host: string) => (await lookup(host, { all: true })).map((a) => a.address));
  const hostAddresses = opts.hostAddresses ?? interfaceAddresses;

  // Resolved once; every answer checked; the connection goes to the first answer and nowhere
  // else (a second lookup could answer differently: DNS rebinding).
  const checkUrl = async (raw: string): Promise<CheckedUrl> => {
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
    let addresses: string[];
    if (isIP(host)) addresses = [host];
    else {
      try {
        addresses = await resolve(host);
      } catch (err) {
        throw new Error(`cannot resolve ${host}: ${(err as Error).message}`, { cause: err });
      }
    }
    const usable = addresses.filter((a) => isIP(a) !== 0);
    if (usable.length === 0) throw new Error(`${host} has no address`);
    if (!opts.allowPrivateAddresses) {
      const own = hostAddresses();
      for (const address of usable) {
        const verdict = checkEgressAddress(address, { hostAddresses: own });
        if (!verdict.allowed)
          throw new EgressRefusedError(
            `${host} resolves to ${address}, which is not a public address (${verdict.reason}); agents may fetch only from the internet`,
          );
      }
    }
    const address = usable[0] as string;
    return { url, host, address, family: isIP(address) as 4 | 6 };
  };

  return async (params, ctx) => {
    const limit = Math.min(hostCap, params.max_bytes ?? hostCap);
    const timeoutMs = Math.min(opts.timeoutMs ?? 15_000, params.timeout_ms ?? Infinity);
    const signals = [AbortSignal.timeout(timeoutMs)];
    if (ctx?.signal) signals.push(ctx.signal);
    const signal = AbortSignal.any(signals);

    let target = await checkUrl(params.url);
    let method: string = params.method;
    let body = params.body;
    for (let hop = 0; ; hop++) {
      let res: Reply;
      try {
        res = await request(target, {
          method,
          body: method === 'POST' ? body : undefined,
          headers: { 'user-agent': opts.userAgent ?? 'helix-agent-fetch/1', ...params.headers },
          signal,
        });
      } catch (err) {
        if (signal.aborted)
          throw new Error(`fetching ${target.url.href} took longer than ${timeoutMs} ms`, {
            cause: err,
          });
        throw new Error(`fetching ${target.url.href} failed: ${(err as Error).message}`, {
          cause: err,
        });
      }
      const location = res.headers.location;
      if (res.status >= 300 && res.status < 400 && location) {
        res.body.destroy();
        if (hop >= maxRedirects)
          throw new Error(`more than ${maxRedirects} redirects from ${params.url}`);
        target = await checkUrl(new URL(location, target.url).href);
        if (
          res.status === 303 ||
          ((res.status === 301 || res.status === 302) && method === 'POST')
        ) {
          method = 'GET';
          body = undefined;
        }
        continue;
      }
      let read: { text: string; truncated: boolean };
      try {
        read = await readCapped(res.body, limit);
      } catch (err) {
        if (signal.aborted)
          throw new Error(`fetching ${target.url.href} took longer than ${timeoutMs} ms`, {
            cause: err,
          });
        throw err;
      }
      return {
        url: target.url.href,
        status: res.status,
        content_type: headerText(res.headers['content-type']),
        body: read.text,
        truncated: read.truncated,
      };
    }
  };
}

/**
 * One HTTP exchange with the connection pinned to the checked address: the socket's lookup
 * answers with it alone, while the Host header and the TLS server name stay the URL's host.
 */
function request(
  target: CheckedUrl,
  o: { method: string; body?: string; headers: Record<string, string>; signal: AbortSignal },
): Promise<Reply> {
  const pinned: LookupFunction = (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all)
      (callback as (e: null, a: LookupAddress[]) => void)(null, [
        { address: target.address, family: target.family },
      ]);
    else callback(null, target.address, target.family);
  };
  const { url } = target;
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<Reply>((resolve, reject) => {
    const req = send(
      url,
      {
        method: o.method,
        headers: o.headers,
        lookup: pinned,
        signal: o.signal,
        // One connection per fetch: a pooled socket must not outlive the check it was made for.
        agent: false,
        ...(url.protocol === 'https:' && isIP(target.host) === 0
          ? { servername: target.host }
          : {}),
      },
      (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }),
    );
    req.once('error', reject);
    req.end(o.body);
  });
}

function headerText(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join(', ') : (value ?? '');
}

async function readCapped(
  body: IncomingMessage,
  limit: number,
): Promise<{ text: string; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  for await (const value of body as AsyncIterable<Buffer>) {
    if (size + value.length > limit) {
      chunks.push(value.subarray(0, limit - size));
      size = limit;
      truncated = true;
      break; // leaving the loop destroys the response
    }
    chunks.push(value);
    size += value.length;
  }
  body.destroy();
  return { text: new TextDecoder('utf-8').decode(Buffer.concat(chunks)), truncated };
}

function hostMatches(host: string, pattern: string): boolean {
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1));
  return host === pattern;
}
