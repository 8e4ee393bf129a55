/**
 * What this project knows about nats-server versions (pure). 2.9.10 (Debian 12) loses a route's
 * interest after a configuration reload, and routes change by reload here: subscriptions made
 * before the reload stop crossing that route. Fixed in 2.9.17 (nats-io/nats-server PR #4130).
 */
export const NATS_RELOAD_FIX_VERSION = '2.9.17';

/** "nats-server: v2.10.27" (from --version) or "2.10.27" (from /varz) -> [2, 10, 27]; else null. */
export function parseNatsVersion(text: string): [number, number, number] | null {
  const m = /v?(\d+)\.(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

/** Whether this version loses route interest on reload; null when the text names no version. */
export function losesInterestOnReload(version: string): boolean | null {
  const v = parseNatsVersion(version);
  const fixed = parseNatsVersion(NATS_RELOAD_FIX_VERSION)!;
  if (!v) return null;
  for (let i = 0; i < 3; i++) if (v[i] !== fixed[i]) return v[i]! < fixed[i]!;
  return false;
}

/** The warning for a server with the reload bug (doctor, the daemon's log). */
export function reloadBugWarning(version: string): string {
  return (
    `nats-server ${version} is older than ${NATS_RELOAD_FIX_VERSION}: routes lose interest after a ` +
    'configuration reload (nats-io/nats-server PR #4130), so this node stops hearing a peer after ' +
    'the routes change (a peer joins, leaves or moves). Install a newer one: ' +
    'scripts/install-nats-server.sh (Debian 13’s package, apt-pinned on Debian 12), or set ' +
    'bus.nats_server in helix.toml'
  );
}
