#!/usr/bin/env bash
# Installs a nats-server without the 2.9.10 route-interest bug (routes lose their subscriptions
# after a config reload; fixed in 2.9.17, nats-io/nats-server PR #4130). Safe to run again.
#
# Debian 12 ships 2.9.10. On Debian 12 this adds Debian 13 (trixie) as an apt source, pinned so
# that only nats-server comes from it: its package is a static binary that needs only
# libc6 >= 2.34 and adduser, both from Debian 12. The same source serves amd64, arm64 and armhf.
# Elsewhere (Debian 13+, Ubuntu) the distribution's package is installed and its version checked.
# Set HELIX_NATS_NO_TRIXIE=1 to leave apt's sources alone (the daemon then warns on an old server).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
APT_OPTS=(-o DPkg::Lock::Timeout=600)
NATS_MIN_VERSION="2.9.17"
SOURCES=/etc/apt/sources.list.d/helix-trixie.sources
PREFS=/etc/apt/preferences.d/helix-nats-server
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

# empty when it is not installed (dpkg-query fails for a package it never saw: with pipefail and
# set -e that failure would end the script silently on a machine that never had nats-server)
installed_version() {
  { dpkg-query -W -f='${Status} ${Version}' nats-server 2>/dev/null || true; } |
    awk '$1 == "install" && $3 == "installed" { print $4 }'
}

# upstream part of a Debian version: 2.10.27-1+b2 -> 2.10.27
new_enough() {
  local upstream="${1%%-*}"
  upstream="${upstream#*:}"
  dpkg --compare-versions "$upstream" ge "$NATS_MIN_VERSION"
}

# Writes $1 with content $2 when it differs; returns 0 when it changed the file.
write_if_changed() {
  local path="$1" content="$2"
  if [ -f "$path" ] && [ "$(cat "$path")" = "$content" ]; then return 1; fi
  printf '%s\n' "$content" | $SUDO tee "$path" >/dev/null
  return 0
}

codename=""
if [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091
  codename="$(. /etc/os-release && echo "${ID:-}:${VERSION_CODENAME:-}")"
fi

changed=0
if [ "$codename" = "debian:bookworm" ] && [ "${HELIX_NATS_NO_TRIXIE:-}" != "1" ]; then
  if [ ! -r "$KEYRING" ]; then
    echo "nats-server: $KEYRING is missing; install debian-archive-keyring (apt-get install debian-archive-keyring)" >&2
    exit 1
  fi
  if write_if_changed "$SOURCES" "# Written by HelixOS scripts/install-nats-server.sh: Debian 13 for nats-server only
# (pinned in $PREFS; every other trixie package stays below Debian 12's priority).
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: $KEYRING"; then changed=1; fi
  if write_if_changed "$PREFS" "# Written by HelixOS scripts/install-nats-server.sh.
# Nothing from trixie unless asked for by name...
Package: *
Pin: release n=trixie
Pin-Priority: 50

# ...except nats-server (2.10: route interest survives a config reload; 2.9.10 loses it).
Package: nats-server
Pin: release n=trixie
Pin-Priority: 990"; then changed=1; fi
fi

current="$(installed_version)"
if [ -n "$current" ] && new_enough "$current" && [ "$changed" -eq 0 ]; then
  echo "==> nats-server $current is installed (>= $NATS_MIN_VERSION)"
  exit 0
fi

echo "==> installing nats-server (at least $NATS_MIN_VERSION)"
$SUDO apt-get "${APT_OPTS[@]}" update -qq
# the pin makes trixie's nats-server the candidate; its dependencies come from Debian 12
DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${APT_OPTS[@]}" install -y -qq --no-install-recommends nats-server >/dev/null

current="$(installed_version)"
if [ -z "$current" ]; then
  echo "nats-server: apt-get did not install it; see apt's output above" >&2
  exit 1
fi
if ! new_enough "$current"; then
  echo "warning: nats-server $current is older than $NATS_MIN_VERSION: routes can lose interest after a" \
    "config reload (nats-io/nats-server PR #4130); helix-node works around it but warns. Install" \
    "$NATS_MIN_VERSION or later (for example from nats.io) and set bus.nats_server in helix.toml." >&2
fi
echo "==> nats-server $current"
