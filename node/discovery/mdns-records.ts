/**
 * The DNS-SD records a node announces on the LAN and the parsing of what peers answer (pure: no
 * sockets; mdns.ts does the I/O). One service instance per node, named by its peer id:
 *
 *   PTR <service>                   -> <peerId>.<service>
 *   SRV <peerId>.<service>          -> <peerId>.local, port = cluster port (0 when not given)
 *   TXT <peerId>.<service>          -> v=1 id=<peerId> [name=..] [cluster=..] [rpc=..]
 *   A   <peerId>.local              -> the node's mesh address
 *
 * Everything received is untrusted LAN input: records are checked field by field, and a peer's
 * announced address must be the address its packet came from.
 */
import type { FoundPeer } from './source.js';

/** A peer as an mDNS answer names it; the mDNS source adds how to dial it. */
export type MdnsCandidate = FoundPeer & { peerId: string };

/** What a node says about itself. */
export interface MdnsAnnouncement {
  peerId: string;
  address: string;
  name?: string;
  clusterPort?: number;
  rpcPort?: number;
}

/** RFC 6762 §10: 120 s for records that name a host or service. */
export const MDNS_RECORD_TTL_S = 120;

/** Records as multicast-dns sends them (structurally dns-packet's Answer). */
export type OutgoingRecord =
  | { name: string; type: 'PTR' | 'A'; ttl: number; flush?: boolean; data: string }
  | {
      name: string;
      type: 'SRV';
      ttl: number;
      flush?: boolean;
      data: { target: string; port: number; priority: number; weight: number };
    }
  | { name: string; type: 'TXT'; ttl: number; flush?: boolean; data: string[] };

// base58btc, as libp2p prints peer ids ("12D3KooW..." for Ed25519); at most one DNS label
const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]{32,63}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
// a TXT string holds at most 255 bytes; "name=" takes 5 of them
const MAX_NAME_BYTES = 250;

export function isPeerIdText(s: string): boolean {
  return PEER_ID.test(s);
}

/** A unicast IPv4 address a peer can be dialled on (not 0.0.0.0, multicast or broadcast). */
export function isDiallableIPv4(s: string): boolean {
  if (!IPV4.test(s)) return false;
  const first = Number(s.split('.')[0]);
  return s !== '0.0.0.0' && first < 224;
}

export function instanceName(service: string, peerId: string): string {
  return `${peerId}.${service}`;
}

/** The one question a node asks: who offers this service? */
export function serviceQuestions(service: string): { name: string; type: 'PTR'; class: 'IN' }[] {
  return [{ name: service, type: 'PTR', class: 'IN' }];
}

/** Whether a received query asks for our service (PTR or ANY on the service name). */
export function asksForService(questions: unknown, service: string): boolean {
  if (!Array.isArray(questions)) return false;
  return questions.some(
    (q: unknown) =>
      isObject(q) &&
      typeof q.name === 'string' &&
      sameName(q.name, service) &&
      (q.type === 'PTR' || q.type === 'ANY'),
  );
}

/** The answer set a node multicasts about itself (announcements and answers alike). */
export function announcementRecords(
  service: string,
  self: MdnsAnnouncement,
  ttl = MDNS_RECORD_TTL_S,
): OutgoingRecord[] {
  const instance = instanceName(service, self.peerId);
  const host = `${self.peerId}.local`;
  const txt = [`v=1`, `id=${self.peerId}`];
  if (self.name) txt.push(`name=${truncateUtf8(self.name, MAX_NAME_BYTES)}`);
  if (self.clusterPort) txt.push(`cluster=${self.clusterPort}`);
  if (self.rpcPort) txt.push(`rpc=${self.rpcPort}`);
  return [
    { name: service, type: 'PTR', ttl, data: instance },
    {
      name: instance,
      type: 'SRV',
      ttl,
      flush: true,
      data: { target: host, port: self.clusterPort ?? 0, priority: 0, weight: 0 },
    },
    { name: instance, type: 'TXT', ttl, flush: true, data: txt },
    { name: host, type: 'A', ttl, flush: true, data: self.address },
  ];
}

export interface ParseContext {
  service: string;
  /** the packet's source address: a peer must announce the address it sends from */
  sender: string;
  /** our own peer id: our looped-back packets are not a peer */
  selfPeerId: string;
}

/**
 * The peers a response announces for our service. `records` is the decoded packet's answers and
 * additionals together; anything malformed, expired (TTL 0, a goodbye), our own, or pointing at an
 * address other than the sender's is left out.
 */
export function candidatesFromRecords(records: unknown, ctx: ParseContext): MdnsCandidate[] {
  if (!Array.isArray(records)) return [];
  const live = records.filter(
    (r: unknown): r is { name: string; type: string; ttl?: unknown; data?: unknown } =>
      isObject(r) &&
      typeof r.name === 'string' &&
      typeof r.type === 'string' &&
      r.ttl !== 0 &&
      r.name.length <= 255,
  );
  const found = new Map<string, MdnsCandidate>();
  for (const ptr of live) {
    if (ptr.type !== 'PTR' || !sameName(ptr.name, ctx.service) || typeof ptr.data !== 'string')
      continue;
    const instance = ptr.data;
    const srv = live.find((r) => r.type === 'SRV' && sameName(r.name, instance));
    const srvData = srv && isObject(srv.data) ? srv.data : null;
    if (!srvData || typeof srvData.target !== 'string') continue;
    const target = srvData.target;
    const txt = parseTxt(live.find((r) => r.type === 'TXT' && sameName(r.name, instance))?.data);
    const suffix = `.${ctx.service}`;
    const label = sameName(instance.slice(-suffix.length), suffix)
      ? instance.slice(0, -suffix.length)
      : '';
    const peerId = txt.get('id') ?? label;
    if (!isPeerIdText(peerId) || label !== peerId || peerId === ctx.selfPeerId) continue;
    const announced = live
      .filter((r) => r.type === 'A' && sameName(r.name, target) && typeof r.data === 'string')
      .map((r) => r.data as string);
    if (!announced.includes(ctx.sender) || !isDiallableIPv4(ctx.sender)) continue;

    const candidate: MdnsCandidate = { address: ctx.sender, source: 'mdns', peerId };
    const name = txt.get('name');
    if (name) candidate.name = name;
    const clusterPort =
      parsePort(txt.get('cluster')) ??
      (typeof srvData.port === 'number' ? parsePort(String(srvData.port)) : undefined);
    if (clusterPort) candidate.clusterPort = clusterPort;
    const rpcPort = parsePort(txt.get('rpc'));
    if (rpcPort) candidate.rpcPort = rpcPort;
    found.set(peerId, candidate);
  }
  return [...found.values()];
}

/** TXT strings `key=value` (dns-packet decodes them as Buffers) into a map; first key wins. */
export function parseTxt(data: unknown): Map<string, string> {
  const out = new Map<string, string>();
  const items: unknown[] = Array.isArray(data) ? data : data === undefined ? [] : [data];
  for (const item of items) {
    const text =
      typeof item === 'string' ? item : item instanceof Uint8Array ? utf8.decode(item) : null;
    if (text === null) continue;
    const eq = text.indexOf('=');
    if (eq <= 0) continue;
    const key = text.slice(0, eq).toLowerCase();
    if (!out.has(key)) out.set(key, text.slice(eq + 1));
  }
  return out;
}

const utf8 = new TextDecoder();

function parsePort(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : undefined;
}

// DNS names compare case-insensitively (RFC 1035 §2.3.3); a trailing dot is the same name.
function sameName(a: string, b: string): boolean {
  return a.replace(/\.$/, '').toLowerCase() === b.replace(/\.$/, '').toLowerCase();
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function truncateUtf8(s: string, maxBytes: number): string {
  const bytes = new TextEncoder().encode(s);
  if (bytes.length <= maxBytes) return s;
  // drop a partial trailing character rather than emit invalid UTF-8
  return utf8.decode(bytes.slice(0, maxBytes)).replace(/\uFFFD$/, '');
}
