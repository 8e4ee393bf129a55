#!/usr/bin/env bash
# Installs everything a HelixOS node needs on Debian/Ubuntu and Raspberry Pi OS (amd64, arm64,
# armv7), then the project's npm packages, the build and the native modules. Safe to run again:
# each step checks what is there first.
#
# Usage: scripts/install.sh [--only STEP[,STEP...]]     (default: every step, in this order)
#   apt     nats-server (scripts/install-nats-server.sh) and the Debian packages below
#   node    Node >= package.json's engines; where the one on PATH is missing or older (Debian 12
#           ships 18), Node 20 for this machine's architecture from the npm registry, checked
#           against the sha512 pinned in scripts/lib/platform.sh, into /opt/helix, linked from
#           /usr/local/bin (HELIX_NODE_PREFIX and HELIX_NODE_BIN_DIR change those)
#   npm     npm ci
#   build   gRPC code generation and TypeScript (npm run build)
#   native  smart-whisper's whisper.cpp, with flags for this CPU (scripts/build-native.sh)
#   models  the Silero VAD model (needs the network; a warning, not a failure, offline)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/platform.sh
. scripts/lib/platform.sh

ALL_STEPS=(apt node npm build native models)
usage() { sed -n '5,16s/^# \{0,1\}//p' "$0"; }
steps=("${ALL_STEPS[@]}")
while [ $# -gt 0 ]; do
  case "$1" in
    --only)
      [ $# -ge 2 ] || { echo "--only needs a list of steps: ${ALL_STEPS[*]}" >&2; exit 2; }
      IFS=, read -r -a steps <<<"$2"
      for s in "${steps[@]}"; do
        case " ${ALL_STEPS[*]} " in *" $s "*) ;; *) echo "unknown step '$s'; the steps are: ${ALL_STEPS[*]}" >&2; exit 2 ;; esac
      done
      shift 2
      ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
APT_OPTS=(-o DPkg::Lock::Timeout=600)

step_apt() {
  # nats-server comes first, from its own script (Debian 12's 2.9.10 has the route-interest bug).
  scripts/install-nats-server.sh

  # docker.io: agent containers; golang-go: agent builds; iproute2: mesh tests;
  # alsa-utils: arecord capture; espeak-ng + sox: speech out and test audio; mosquitto: MQTT broker
  # for the lights agent; pocketsphinx: the constrained command recogniser; curl: the node step's
  # download; build-essential + python3: node-gyp's build of whisper.cpp (the native step).
  local packages=(docker.io golang-go iproute2 alsa-utils espeak-ng sox mosquitto mosquitto-clients
    pocketsphinx pocketsphinx-en-us libpocketsphinx-dev ca-certificates tcpdump curl build-essential python3)
  # Development and CI only (CI=true, as .ci/run sets, or HELIX_DEV=1): qemu-user-static and
  # binfmt-support let the Docker engine run arm64 and armv7 agent images under emulation, so the
  # tests run a Raspberry Pi's agents for real on an amd64 machine; chromium is the real browser the
  # dashboard's tests drive (headless, through puppeteer-core). A node does not need them.
  if [ "${CI:-}" = "true" ] || [ "${HELIX_DEV:-}" = "1" ]; then
    packages+=(qemu-user-static binfmt-support chromium)
  fi

  local missing=() p
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    echo "==> Debian packages: all ${#packages[@]} installed"
    return 0
  fi
  echo "==> installing Debian packages: ${missing[*]}"
  # DPkg::Lock::Timeout: wait for another apt (unattended-upgrades, a parallel install) rather than fail
  $SUDO apt-get "${APT_OPTS[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${APT_OPTS[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Downloads $1 to $2 and checks it against the npm integrity string $3 (sha512-<base64>).
fetch_verified() {
  local url="$1" out="$2" integrity="$3" want have
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$out" "$url"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$out" "$url"
  else
    echo "neither curl nor wget is installed; run \`scripts/install.sh --only apt\` (or apt-get install curl) first" >&2
    return 1
  fi || { echo "could not download $url; check this machine's network (the npm registry must be reachable)" >&2; return 1; }
  want="$(printf '%s' "${integrity#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n')"
  have="$(sha512sum "$out" | cut -d' ' -f1)"
  if [ -z "$want" ] || [ "$want" != "$have" ]; then
    echo "$url does not match its pinned integrity $integrity (got sha512 $have); not installing it" >&2
    return 1
  fi
}

step_node() {
  local min have arch spec npm_spec pkg ver integrity npm_ver npm_integrity base prefix bindir
  min="$(helix_node_min package.json)"
  have="$(helix_node_version)"
  if [ -n "$have" ] && helix_version_ge "$have" "$min"; then
    echo "==> node $have is installed (>= $min)"
    return 0
  fi
  arch="$(helix_arch)"
  spec="$(helix_node_package "$arch")" || return 1
  npm_spec="$(helix_npm_package "$arch")" || return 1
  read -r pkg ver integrity <<<"$spec"
  read -r _ npm_ver npm_integrity <<<"$npm_spec"
  base="${HELIX_NODE_PREFIX:-/opt/helix}"
  prefix="$base/node-v$ver-linux-$arch"
  bindir="${HELIX_NODE_BIN_DIR:-/usr/local/bin}"
  echo "==> node ${have:-is missing}${have:+ is older than $min}: installing Node $ver ($pkg) and npm $npm_ver into $prefix"
  if [ -x "$prefix/bin/node" ] && [ -x "$prefix/bin/npm" ]; then
    echo "==> $prefix is already there (an earlier run); linking it"
  else
    (
      tmp="$(mktemp -d)"
      # shellcheck disable=SC2064 # expand $tmp now
      trap "rm -rf '$tmp'" EXIT
      fetch_verified "$HELIX_NODE_REGISTRY/$pkg/-/$pkg-$ver.tgz" "$tmp/node.tgz" "$integrity"
      fetch_verified "$HELIX_NODE_REGISTRY/npm/-/npm-$npm_ver.tgz" "$tmp/npm.tgz" "$npm_integrity"
      echo "==> verified both against their pinned sha512; unpacking"
      $SUDO rm -rf "$prefix.partial"
      $SUDO mkdir -p "$prefix.partial/lib/node_modules/npm"
      # the package holds the release tarball's bin/node, include/node (node-gyp's headers), share/
      $SUDO tar -xzf "$tmp/node.tgz" -C "$prefix.partial" --strip-components=1 --no-same-owner
      $SUDO tar -xzf "$tmp/npm.tgz" -C "$prefix.partial/lib/node_modules/npm" --strip-components=1 --no-same-owner
    )
    $SUDO ln -sfn ../lib/node_modules/npm/bin/npm-cli.js "$prefix.partial/bin/npm"
    $SUDO ln -sfn ../lib/node_modules/npm/bin/npx-cli.js "$prefix.partial/bin/npx"
    if ! "$prefix.partial/bin/node" --version >/dev/null 2>&1; then
      $SUDO rm -rf "$prefix.partial"
      echo "the $pkg binary does not run on this machine ($(uname -m), $(helix_arch)); install Node >= $min yourself" >&2
      return 1
    fi
    $SUDO rm -rf "$prefix"
    $SUDO mv "$prefix.partial" "$prefix"
  fi
  $SUDO mkdir -p "$bindir"
  for tool in node npm npx; do $SUDO ln -sfn "$prefix/bin/$tool" "$bindir/$tool"; done
  hash -r
  have="$(helix_node_version)"
  if [ "$(command -v node)" != "$bindir/node" ]; then
    echo "installed $prefix/bin/node and linked it from $bindir, but \`node\` on PATH is $(command -v node || echo missing) ($have); put $bindir first in PATH" >&2
    return 1
  fi
  echo "==> node $have, npm $(npm --version) from $prefix"
  if ! helix_version_ge "$have" "$min"; then
    echo "==> warning: node $have is the newest Node 20 the npm registry has for $arch, older than package.json's >= $min;" \
      "HelixOS is built and tested on >= $min: install a newer Node for $arch if you have one" >&2
  fi
}

step_npm() {
  echo "==> installing npm packages (npm ci)"
  # Install scripts are run below, once: the only native module (smart-whisper's whisper.cpp) is
  # built by build-native.sh with flags for this CPU rather than a plain build that gets redone.
  npm ci --no-audit --no-fund --ignore-scripts
}

step_build() {
  echo "==> building: gRPC code generation and TypeScript (npm run build)"
  npm run -s build
}

step_native() {
  echo "==> building native modules (whisper.cpp, flags for this CPU)"
  scripts/build-native.sh
}

step_models() {
  echo "==> installing the Silero VAD model (cuts speech for listen and the mic; helix-node doctor lists it)"
  # the same command every VAD error names; a model already there is checked, not fetched again.
  # Offline it cannot be fetched: the node still installs and runs (without the mic loop), the
  # error says where to get the file, and `helix-node doctor` keeps listing it until it is there.
  if ! npx helix-node models pull silero-vad; then
    echo "==> warning: the Silero VAD model is not installed (see above); listen and the mic need it: run \`npx helix-node models pull silero-vad\` once this machine is online"
  fi
}

for s in "${steps[@]}"; do "step_$s"; done
if [ "${#steps[@]}" -eq "${#ALL_STEPS[@]}" ]; then echo "==> done: run \`npx helix-node join\` to start this node"; fi
