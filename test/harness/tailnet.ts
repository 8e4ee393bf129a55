/**
 * The world file that test/harness/fake-tailscale.mjs answers from: one per node, naming the node
 * itself and the peers its tailscale would list. See the header of fake-tailscale.mjs.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of the stand-in `tailscale` executable. */
export const FAKE_TAILSCALE = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  'fake-tailscale.mjs',
);

export type BackendState =
  'Running' | 'Starting' | 'NeedsLogin' | 'NeedsMachineAuth' | 'Stopped' | 'NoState';

export interface TailnetUser {
  id: number;
  loginName: string;
  displayName?: string;
}

export interface FakeTailnetNode {
  name: string;
  ip: string;
  ip6?: string;
  userId: number;
  loginName: string;
  displayName?: string;
  /** e.g. ["tag:helix"]; absent or empty means untagged (no `Tags` in the JSON) */
  tags?: string[];
  /** connected to the coordination server; default true */
  online?: boolean;
  os?: string;
  /** 64 hex digits; printed as "nodekey:<hex>" */
  nodeKey?: string;
  id?: number;
  stableId?: string;
}

export interface FakeTailnetWorld {
  version?: string;
  tailnetName?: string;
  magicDNSSuffix?: string;
  /** every command fails as when tailscaled is not running */
  daemonDown?: boolean;
  self: FakeTailnetNode & { backendState?: BackendState };
  peers: FakeTailnetNode[];
}

export const DEFAULT_USER: TailnetUser = {
  id: 1001,
  loginName: 'alice@example.com',
  displayName: 'Alice',
};

/** A stable node key per (run, name), so every node's world agrees on each peer's key. */
export function nodeKeyFor(runId: string, name: string): string {
  return createHash('sha256').update(`hxt:${runId}:${name}`).digest('hex');
}
