#!/usr/bin/env node
/**
 * A stand-in `tailscale` CLI for tests. It answers `status [--json]`, `ip [-4|-6]`,
 * `whois [--json] <ip>` and `version` from a world file named by $HXT_FAKE_TAILSCALE
 * ($HELIX_FAKE_TAILSCALE also works, but the daemon rejects unknown HELIX_* variables),
 * printing the JSON shapes of tailscale's ipn/ipnstate.Status and apitype.WhoIsResponse
 * (field names, Go zero values, omitempty fields absent, DNSName with its trailing dot).
 *
 * World file (JSON; re-read on every call so a test can change the tailnet live):
 *   {
 *     "version": "1.76.6",                    // optional
 *     "tailnetName": "alice@example.com",     // optional
 *     "magicDNSSuffix": "tailnet-xyz.ts.net", // optional
 *     "daemonDown": false,                    // true: every command fails like a stopped tailscaled
 *     "self":  { node, "backendState": "Running" | "NeedsLogin" | "Stopped" | "NeedsMachineAuth" | "NoState" | "Starting" },
 *     "peers": [ node, ... ]
 *   }
 *   node = { "name", "ip" (100.x), "ip6"?, "userId", "loginName", "displayName"?, "tags"?: ["tag:x"],
 *            "online"?: true, "os"?: "linux", "nodeKey"?: "<64 hex>", "id"?: 123, "stableId"?: "n..CNTRL" }
 *
 * $HXT_FAKE_TAILSCALE_LOG, when set, gets one JSON line per invocation ({ argv, at }).
 * Standard library only: it runs wherever node does, without the repository's node_modules.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import process from 'node:process';

const DAEMON_DOWN =
  "failed to connect to local tailscaled; it doesn't appear to be running (sudo systemctl start tailscaled ?)";
const USAGE =
  'USAGE\n  tailscale [flags] <subcommand> [command flags]\n\nFor help on subcommands, add --help after: "tailscale status --help".';
const ZERO_TIME = '0001-01-01T00:00:00Z';
const TAGGED_DEVICES = {
  ID: 2147455555,
  LoginName: 'tagged-devices',
  DisplayName: 'Tagged Devices',
};

function fail(message, code = 1) {
  process.stderr.write(message.endsWith('\n') ? message : message + '\n');
  process.exit(code);
}

function loadWorld() {
  const file = process.env.HXT_FAKE_TAILSCALE ?? process.env.HELIX_FAKE_TAILSCALE;
  if (!file) fail(DAEMON_DOWN);
  let world;
  try {
    world = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    fail(`fake tailscale: cannot read world file ${file}: ${err.message}`);
  }
  if (!world || typeof world !== 'object' || !world.self)
    fail(`fake tailscale: world file ${file} has no "self"`);
  if (world.daemonDown) fail(DAEMON_DOWN);
  return world;
}

function sha256hex(text) {
  return createHash('sha256').update(text).digest('hex');
}

/** Stable per-node identifiers, derived from name and IP when the world file leaves them out. */
function identity(node) {
  const seed = `${node.name}|${node.ip}`;
  const hex = node.nodeKey ?? sha256hex(`node:${seed}`);
  const numericId =
    node.id ?? (parseInt(sha256hex(`id:${seed}`).slice(0, 12), 16) % 9_000_000_000_000) + 1_000_000;
  const stableId = node.stableId ?? `n${sha256hex(`stable:${seed}`).slice(0, 10)}CNTRL`;
  return { hex, numericId, stableId };
}

/** tailscale's IPv6 for a node: fd7a:115c:a1e0::/48 plus the low bits of the IPv4 (close enough). */
function ipv6Of(node) {
  if (node.ip6) return node.ip6;
  const [a, b, c, d] = node.ip.split('.').map((x) => Number(x));
  const hi = ((a & 0x3f) << 8) | b;
  const lo = (c << 8) | d;
  return `fd7a:115c:a1e0::${hi.toString(16)}:${lo.toString(16)}`;
}

function suffixOf(world) {
  return world.magicDNSSuffix ?? 'tailnet-xyz.ts.net';
}

function isTagged(node) {
  return Array.isArray(node.tags) && node.tags.length > 0;
}

/** Tagged nodes belong to the "tagged-devices" user in tailscale's netmap. */
function userIdOf(node) {
  return isTagged(node) ? TAGGED_DEVICES.ID : node.userId;
}

function createdAt(node) {
  const { numericId } = identity(node);
  // A fixed, node-specific registration time in 2024 so repeated calls agree.
  return new Date(Date.UTC(2024, 0, 1) + (numericId % 300) * 86_400_000)
    .toISOString()
    .replace('.000Z', 'Z');
}

function peerStatus(world, node, { self }) {
  const { hex, stableId } = identity(node);
  const online = node.online ?? true;
  const created = createdAt(node);
  const ps = {
    ID: stableId,
    PublicKey: `nodekey:${hex}`,
    HostName: node.name,
    DNSName: `${node.name}.${suffixOf(world)}.`,
    OS: node.os ?? 'linux',
    UserID: userIdOf(node),
    TailscaleIPs: [node.ip, ipv6Of(node)],
  };
  if (!self) ps.AllowedIPs = [`${node.ip}/32`, `${ipv6Of(node)}/128`];
  if (isTagged(node)) ps.Tags = [...node.tags];
  Object.assign(ps, {
    Addrs: self ? [`192.0.2.${(identity(node).numericId % 200) + 10}:41641`] : null,
    CurAddr: '',
    Relay: 'fra',
    RxBytes: self || !online ? 0 : 1480,
    TxBytes: self || !online ? 0 : 2960,
    Created: created,
    LastWrite: ZERO_TIME,
    // ipnstate: "last seen to tailcontrol; only present if offline"
    LastSeen: online ? ZERO_TIME : new Date(Date.now() - 3_600_000).toISOString(),
    LastHandshake: ZERO_TIME,
    Online: online,
    ExitNode: false,
    ExitNodeOption: false,
    Active: false,
    PeerAPIURL: [
      `http://${node.ip}:${40000 + (identity(node).numericId % 20000)}`,
      `http://[${ipv6Of(node)}]:${40000 + (identity(node).numericId % 20000)}`,
    ],
    InNetworkMap: true,
    InMagicSock: !self,
    InEngine: !self,
  });
  if (self) {
    ps.Capabilities = ['https', 'https://tailscale.com/cap/file-sharing'];
    ps.CapMap = { https: null, 'https://tailscale.com/cap/file-sharing': null };
  }
  // Tagged nodes have key expiry disabled; everyone else shows theirs.
  if (!isTagged(node))
    ps.KeyExpiry = new Date(Date.parse(created) + 180 * 86_400_000)
      .toISOString()
      .replace('.000Z', 'Z');
  return ps;
}

function userProfile(node) {
  if (isTagged(node)) return { ...TAGGED_DEVICES, ProfilePicURL: '', Roles: [] };
  return {
    ID: node.userId,
    LoginName: node.loginName,
    DisplayName: node.displayName ?? node.loginName.split('@')[0],
    ProfilePicURL: '',
    Roles: [],
  };
}

function backendState(world) {
  return world.self.backendState ?? 'Running';
}

function buildStatus(world) {
  const state = backendState(world);
  const version = world.version ?? '1.76.6-t8d0f0b1a9-g1a2b3c4d5';
  const base = { Version: version, TUN: true, BackendState: state };
  if (state !== 'Running' && state !== 'Starting') {
    const loggedIn = state === 'Stopped';
    return {
      ...base,
      AuthURL: state === 'NeedsLogin' ? 'https://login.tailscale.com/a/1b2c3d4e5f6a7' : '',
      TailscaleIPs: loggedIn ? [world.self.ip, ipv6Of(world.self)] : null,
      Self: loggedIn
        ? peerStatus(world, world.self, { self: true })
        : {
            ID: '',
            PublicKey: 'nodekey:0000000000000000000000000000000000000000000000000000000000000000',
            HostName: world.self.name,
            DNSName: '',
            OS: '',
            UserID: 0,
            TailscaleIPs: null,
            Addrs: [],
            CurAddr: '',
            Relay: '',
            RxBytes: 0,
            TxBytes: 0,
            Created: ZERO_TIME,
            LastWrite: ZERO_TIME,
            LastSeen: ZERO_TIME,
            LastHandshake: ZERO_TIME,
            Online: false,
            ExitNode: false,
            ExitNodeOption: false,
            Active: false,
            PeerAPIURL: null,
            InNetworkMap: false,
            InMagicSock: false,
            InEngine: false,
          },
      Health:
        state === 'NeedsLogin'
          ? ['You are logged out. The last login error was: ...']
          : ['Tailscale is stopped.'],
      MagicDNSSuffix: '',
      CurrentTailnet: null,
      CertDomains: null,
      Peer: null,
      User: null,
      ClientVersion: null,
    };
  }
  const peers = Array.isArray(world.peers) ? world.peers : [];
  const peerMap = {};
  for (const p of peers)
    peerMap[`nodekey:${identity(p).hex}`] = peerStatus(world, p, { self: false });
  const users = {};
  for (const n of [world.self, ...peers]) {
    const up = userProfile(n);
    users[String(up.ID)] = up;
  }
  const suffix = suffixOf(world);
  return {
    ...base,
    AuthURL: '',
    TailscaleIPs: [world.self.ip, ipv6Of(world.self)],
    Self: peerStatus(world, world.self, { self: true }),
    Health: [],
    MagicDNSSuffix: suffix,
    CurrentTailnet: {
      Name: world.tailnetName ?? world.self.loginName ?? 'example.com',
      MagicDNSSuffix: suffix,
      MagicDNSEnabled: true,
    },
    CertDomains: [`${world.self.name}.${suffix}`],
    Peer: peerMap,
    User: users,
    ClientVersion: { RunningLatest: true },
  };
}

/** apitype.WhoIsResponse for a node: { Node: tailcfg.Node, UserProfile, CapMap }. */
function buildWhois(world, node) {
  const { hex, numericId, stableId } = identity(node);
  const created = createdAt(node);
  const v6 = ipv6Of(node);
  const n = {
    ID: numericId,
    StableID: stableId,
    Name: `${node.name}.${suffixOf(world)}.`,
    User: userIdOf(node),
    Key: `nodekey:${hex}`,
    KeyExpiry: isTagged(node)
      ? ZERO_TIME
      : new Date(Date.parse(created) + 180 * 86_400_000).toISOString().replace('.000Z', 'Z'),
    Machine: `mkey:${sha256hex(`machine:${hex}`)}`,
    DiscoKey: `discokey:${sha256hex(`disco:${hex}`)}`,
    Addresses: [`${node.ip}/32`, `${v6}/128`],
    AllowedIPs: [`${node.ip}/32`, `${v6}/128`],
    Endpoints: [`192.0.2.${(numericId % 200) + 10}:41641`],
    HomeDERP: 4,
    Hostinfo: { OS: node.os ?? 'linux', Hostname: node.name },
    Created: created,
    Cap: 106,
  };
  if (isTagged(node)) n.Tags = [...node.tags];
  if (!(node.online ?? true)) n.LastSeen = new Date(Date.now() - 3_600_000).toISOString();
  n.Online = node.online ?? true;
  n.MachineAuthorized = true;
  n.ComputedName = node.name;
  n.ComputedNameWithHost = node.name;
  return { Node: n, UserProfile: userProfile(node), CapMap: null };
}

function parseFlags(args, known) {
  const flags = {};
  const rest = [];
  for (const arg of args) {
    const m = /^--?([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    if (m && m[1] in known) {
      flags[m[1]] = m[2] === undefined ? true : m[2] !== 'false';
    } else if (m) {
      fail(`flag provided but not defined: -${m[1]}\n${USAGE}`);
    } else {
      rest.push(arg);
    }
  }
  return { flags, rest };
}

function printJson(value) {
  // Go's json.MarshalIndent(st, "", "  ") and whois's Encoder both end with a newline.
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

function cmdStatus(args) {
  const { flags } = parseFlags(args, { json: 1, peers: 1, self: 1, active: 1, web: 1, browser: 1 });
  const world = loadWorld();
  const st = buildStatus(world);
  if (flags.json) {
    if (flags.peers === false && st.Peer) st.Peer = null;
    printJson(st);
    return;
  }
  switch (st.BackendState) {
    case 'Running':
    case 'Starting':
      break;
    case 'Stopped':
      process.stdout.write('Tailscale is stopped.\n');
      process.exit(1);
      break;
    case 'NeedsLogin':
      process.stdout.write(`Logged out.\n\nLog in at: ${st.AuthURL}\n`);
      process.exit(1);
      break;
    case 'NeedsMachineAuth':
      process.stdout.write('Machine is not yet approved by tailnet admin.\n');
      process.exit(1);
      break;
    default:
      fail(`unexpected state: ${st.BackendState}`);
  }
  const line = (ps) => {
    const owner = ps.Tags
      ? 'tagged-devices'
      : (st.User[String(ps.UserID)]?.LoginName ?? '').split('@')[0] + '@';
    const state = ps.Online ? '-' : `offline`;
    return `${ps.TailscaleIPs[0].padEnd(16)}${ps.HostName.padEnd(20)}${owner.padEnd(16)}${ps.OS.padEnd(8)}${state}\n`;
  };
  let out = line(st.Self);
  for (const ps of Object.values(st.Peer ?? {})) out += line(ps);
  process.stdout.write(out);
}

function cmdIp(args) {
  const { flags, rest } = parseFlags(args, { 4: 1, 6: 1, 1: 1 });
  if (flags['4'] && flags['6']) fail('tailscale ip -4 and -6 are mutually exclusive');
  const world = loadWorld();
  const st = buildStatus(world);
  let node = world.self;
  if (rest.length > 1) fail('too many arguments, expected at most one peer');
  if (rest.length === 1) {
    const want = rest[0].replace(/\.$/, '');
    node = [world.self, ...(world.peers ?? [])].find(
      (n) => n.name === want || `${n.name}.${suffixOf(world)}` === want || n.ip === want,
    );
    if (!node) fail(`no peer found with hostname or IP ${JSON.stringify(rest[0])}`);
  } else if (!st.TailscaleIPs || st.TailscaleIPs.length === 0) {
    fail(`no current Tailscale IPs; state: ${st.BackendState}`);
  }
  const ips = [node.ip, ipv6Of(node)];
  const chosen = flags['4'] ? [ips[0]] : flags['6'] ? [ips[1]] : flags['1'] ? [ips[0]] : ips;
  process.stdout.write(chosen.map((ip) => ip + '\n').join(''));
}

function cmdWhois(args) {
  const { flags, rest } = parseFlags(args, { json: 1, proto: 1 });
  if (rest.length > 1) fail('too many arguments, expected at most one peer');
  if (rest.length === 0) fail('missing argument, expected one peer');
  const world = loadWorld();
  // "ip[:port]" and "[v6]:port" are accepted like the real CLI.
  let addr = rest[0];
  const v6port = /^\[([^\]]+)\]:\d+$/.exec(addr);
  if (v6port) addr = v6port[1];
  else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(addr)) addr = addr.replace(/:\d+$/, '');
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(addr) && !/^[0-9a-fA-F:]+$/.test(addr)) {
    fail(`invalid 'addr' parameter`);
  }
  const state = backendState(world);
  const nodes = state === 'Running' ? [world.self, ...(world.peers ?? [])] : [];
  const node = nodes.find((n) => n.ip === addr || ipv6Of(n) === addr.toLowerCase());
  if (!node) fail('peer not found');
  const who = buildWhois(world, node);
  if (flags.json) {
    printJson(who);
    return;
  }
  let out = `Machine:\n  Name:          ${node.name}.${suffixOf(world)}\n  ID:            ${who.Node.StableID}\n  Addresses:     [${who.Node.Addresses.join(' ')}]\n`;
  if (who.Node.Tags) out += `  Tags:          ${who.Node.Tags.join(', ')}\n`;
  else
    out += `User:\n  Name:          ${who.UserProfile.LoginName}\n  ID:            ${who.UserProfile.ID}\n`;
  process.stdout.write(out);
}

function cmdVersion(args) {
  const { flags } = parseFlags(args, { json: 1, daemon: 1, upstream: 1 });
  const world = loadWorld();
  const long = world.version ?? '1.76.6-t8d0f0b1a9-g1a2b3c4d5';
  const short = long.split('-')[0];
  if (flags.json) {
    printJson({ majorMinorPatch: short, short, long, unstableBranch: false, cap: 106 });
    return;
  }
  process.stdout.write(
    `${short}\n  tailscale commit: 8d0f0b1a9\n  other commit: 1a2b3c4d5\n  go version: go1.23.4\n`,
  );
}

function main(argv) {
  if (process.env.HXT_FAKE_TAILSCALE_LOG) {
    try {
      appendFileSync(
        process.env.HXT_FAKE_TAILSCALE_LOG,
        JSON.stringify({ argv, at: Date.now() }) + '\n',
      );
    } catch {
      // logging is best effort; the answer matters more
    }
  }
  // The one global flag the real CLI takes before the subcommand.
  if (argv[0]?.startsWith('--socket=')) argv.shift();
  else if (argv[0] === '--socket') argv.splice(0, 2);
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'status':
      return cmdStatus(rest);
    case 'ip':
      return cmdIp(rest);
    case 'whois':
      return cmdWhois(rest);
    case 'version':
      return cmdVersion(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      fail(USAGE, 0);
      break;
    default:
      fail(`tailscale: unknown subcommand: ${sub}\n${USAGE}`);
  }
}

main(process.argv.slice(2));
