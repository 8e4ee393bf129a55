/**
 * The Tailscale CLI's JSON, parsed at the edge. The schemas mirror tailscale's Go types as
 * `encoding/json` prints them: ipn/ipnstate.Status and PeerStatus (`tailscale status --json`),
 * apitype.WhoIsResponse with tailcfg.Node and tailcfg.UserProfile (`tailscale whois --json`).
 * Fields this node uses are typed strictly; every other field passes through untouched, so a
 * newer tailscale that adds fields still parses.
 *
 * Wire facts worth knowing (from the Go source):
 * - nil slices and maps print as `null` (TailscaleIPs, Peer, User, Health when empty);
 * - `Tags` is `omitempty`: absent on untagged nodes, never `[]`;
 * - `DNSName` is the FQDN with a trailing dot ("desk.tail1234.ts.net."), empty without MagicDNS;
 * - `Online` means "connected to the coordination server", not "reachable from here";
 * - `Peer` is keyed by node key ("nodekey:<hex>"), `User` by the decimal user id.
 */
import { isIPv4 } from 'node:net';
import { z } from 'zod';
import { InputError } from '../errors.js';
import type { FoundPeer } from './source.js';
import type { TailnetState } from './types.js';
import { compareAddresses } from '../order.js';
import { lazySchema } from '../types.js';

/** ipn.State values as strings; anything else passes as a plain string. */
export const BACKEND_STATES = [
  'NoState',
  'NeedsLogin',
  'NeedsMachineAuth',
  'Stopped',
  'Starting',
  'Running',
] as const;

const nodeKey = lazySchema(() =>
  z.string().regex(/^nodekey:[0-9a-f]+$/, 'a node key "nodekey:<hex>"'),
);
const tag = lazySchema(() => z.string().regex(/^tag:[A-Za-z0-9-]+$/, 'an ACL tag "tag:<name>"'));
const ipAddr = lazySchema(() => z.union([z.ipv4(), z.ipv6()]));

/** tailcfg.UserProfile */
export const TailscaleUserProfileSchema = lazySchema(() =>
  z.looseObject({
    ID: z.number().int(),
    LoginName: z.string(),
    DisplayName: z.string(),
    ProfilePicURL: z.string().optional(),
  }),
);
export type TailscaleUserProfile = z.infer<typeof TailscaleUserProfileSchema>;

/** ipnstate.PeerStatus (also the shape of Status.Self) */
export const TailscalePeerStatusSchema = lazySchema(() =>
  z.looseObject({
    ID: z.string(),
    PublicKey: z.string(),
    HostName: z.string(),
    DNSName: z.string(),
    OS: z.string(),
    UserID: z.number().int(),
    TailscaleIPs: z.array(ipAddr).nullable(),
    Tags: z.array(tag).optional(),
    Online: z.boolean(),
    Active: z.boolean().optional(),
    /** nodes of a user the tailnet is shared to; `tailscale status` hides them */
    ShareeNode: z.boolean().optional(),
    /** node key expired: the peer cannot talk to anyone until it re-authenticates */
    Expired: z.boolean().optional(),
  }),
);
export type TailscalePeerStatus = z.infer<typeof TailscalePeerStatusSchema>;

/** ipnstate.TailnetStatus */
export const TailscaleTailnetStatusSchema = lazySchema(() =>
  z.looseObject({
    Name: z.string(),
    MagicDNSSuffix: z.string(),
    MagicDNSEnabled: z.boolean(),
  }),
);

/** ipnstate.Status: `tailscale status --json` */
export const TailscaleStatusSchema = lazySchema(() =>
  z.looseObject({
    Version: z.string(),
    BackendState: z.string(),
    TailscaleIPs: z.array(ipAddr).nullable(),
    Self: TailscalePeerStatusSchema.nullable(),
    Health: z.array(z.string()).nullable(),
    MagicDNSSuffix: z.string(),
    CurrentTailnet: TailscaleTailnetStatusSchema.nullable(),
    Peer: z.record(nodeKey, TailscalePeerStatusSchema).nullable(),
    User: z.record(z.string().regex(/^\d+$/), TailscaleUserProfileSchema).nullable(),
  }),
);
export type TailscaleStatus = z.infer<typeof TailscaleStatusSchema>;

/** tailcfg.Node as `tailscale whois --json` prints it */
export const TailscaleNodeSchema = lazySchema(() =>
  z.looseObject({
    ID: z.number().int(),
    StableID: z.string(),
    /** FQDN with a trailing dot */
    Name: z.string(),
    User: z.number().int(),
    Key: nodeKey,
    /** prefixes: "100.64.0.7/32", "fd7a:115c:a1e0::7/128" */
    Addresses: z.array(z.string()),
    Tags: z.array(tag).optional(),
    Hostinfo: z
      .looseObject({ Hostname: z.string().optional(), OS: z.string().optional() })
      .optional(),
  }),
);

/** apitype.WhoIsResponse: `tailscale whois --json <ip>` */
export const TailscaleWhoisSchema = lazySchema(() =>
  z.looseObject({
    Node: TailscaleNodeSchema,
    UserProfile: TailscaleUserProfileSchema,
    CapMap: z.record(z.string(), z.unknown()).nullable().optional(),
  }),
);

/** Who a tailnet address belongs to: what the join check needs from `tailscale whois`. */
export interface TailscaleWhois {
  node: {
    id: number;
    stableId: string;
    /** first DNS label, else the host name */
    name: string;
    /** FQDN without the trailing dot */
    dnsName: string;
    /** IPs without prefix length */
    addresses: string[];
    tags: string[];
    /** the user who created the node; for tagged nodes the tag owner's pseudo-user */
    userId: number;
  };
  user: { id: number; loginName: string; displayName: string };
}

/** The outside system behind discovery and the join check; tests swap in plain objects. */
export interface TailscaleClient {
  /** raw `tailscale status --json` (parse it with parseTailscaleStatus) */
  status(signal?: AbortSignal): Promise<unknown>;
  whois(ip: string, signal?: AbortSignal): Promise<TailscaleWhois>;
  /** `tailscale ip -4` */
  ip4(signal?: AbortSignal): Promise<string[]>;
}

export interface ParsedTailscaleStatus {
  state: TailnetState;
  peers: FoundPeer[];
  selfUserId: number | null;
  selfTags: string[];
}

/**
 * `tailscale status --json` -> tailnet state and candidate peers: Online peers only, their first
 * IPv4 (peers without one are skipped), named by their MagicDNS label. With `tag`, only peers
 * carrying it count. A backend that is not Running yields no peers.
 */
export function parseTailscaleStatus(
  json: unknown,
  opts: { tag?: string } = {},
): ParsedTailscaleStatus {
  const status = parseWith(TailscaleStatusSchema, json, 'tailscale status --json');
  const self = status.Self;
  const selfUserId = self && self.UserID !== 0 ? self.UserID : null;
  const selfTags = self?.Tags ?? [];

  if (status.BackendState !== 'Running') {
    return {
      state: { kind: 'not-running', backendState: status.BackendState },
      peers: [],
      selfUserId,
      selfTags,
    };
  }

  const selfIps = status.TailscaleIPs ?? self?.TailscaleIPs ?? [];
  const tailnet = status.CurrentTailnet?.Name;
  const state: TailnetState = {
    kind: 'running',
    selfIps: [...selfIps],
    selfDnsName: trimDot(self?.DNSName ?? ''),
    ...(tailnet ? { tailnet } : {}),
  };

  const peers: FoundPeer[] = [];
  for (const peer of Object.values(status.Peer ?? {})) {
    if (!peer.Online || peer.ShareeNode || peer.Expired) continue;
    if (opts.tag && !(peer.Tags ?? []).includes(opts.tag)) continue;
    const address = (peer.TailscaleIPs ?? []).find((ip) => isIPv4(ip));
    if (!address) continue;
    const name = nodeName(peer.DNSName, peer.HostName);
    peers.push({ address, source: 'tailscale', ...(name ? { name } : {}) });
  }
  peers.sort((a, b) => compareAddresses(a.address, b.address));
  return { state, peers, selfUserId, selfTags };
}

/**
 * The tailnet machine name ("desk" for Self.DNSName "desk.tail1234.ts.net."), which Tailscale keeps
 * unique in the tailnet: a node's default name. Null off a tailnet or without MagicDNS.
 */
export function tailnetMachineName(state: TailnetState): string | null {
  if (state.kind !== 'running') return null;
  const label = (state.selfDnsName.split('.')[0] ?? '').replace(/[^A-Za-z0-9_.-]/g, '-');
  return /^[A-Za-z0-9]/.test(label) ? label.slice(0, 63) : null;
}

/** `tailscale whois --json <ip>` -> who owns that address. */
export function parseTailscaleWhois(json: unknown): TailscaleWhois {
  const whois = parseWith(TailscaleWhoisSchema, json, 'tailscale whois --json');
  const { Node: node, UserProfile: user } = whois;
  return {
    node: {
      id: node.ID,
      stableId: node.StableID,
      name: nodeName(node.Name, node.Hostinfo?.Hostname ?? ''),
      dnsName: trimDot(node.Name),
      addresses: node.Addresses.map((prefix) => prefix.replace(/\/\d+$/, '')),
      tags: node.Tags ?? [],
      userId: node.User,
    },
    user: { id: user.ID, loginName: user.LoginName, displayName: user.DisplayName },
  };
}

/** `tailscale ip -4` -> the node's IPv4 addresses (one a line). */
export function parseTailscaleIp4(text: string): string[] {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  for (const line of lines) {
    if (!isIPv4(line))
      throw new InputError(
        `tailscale ip -4 printed ${JSON.stringify(line)}, not an IPv4 address; check the tailscale version with \`tailscale version\``,
      );
  }
  return lines;
}

function parseWith<T>(schema: z.ZodType<T>, json: unknown, what: string): T {
  const result = schema.safeParse(json);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue ? issue.path.join('.') || '(top level)' : '?';
  throw new InputError(
    `${what} printed an unexpected shape at ${where}: ${issue?.message ?? 'invalid'}; is \`tailscale\` a supported version (1.40+)?`,
    { cause: result.error },
  );
}

/** "desk.tail1234.ts.net." -> "desk"; "" -> the host name */
function nodeName(dnsName: string, hostName: string): string {
  const label = trimDot(dnsName).split('.')[0] ?? '';
  return label || hostName;
}

function trimDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}
