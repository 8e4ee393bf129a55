#!/usr/bin/env bash
# Installs everything a HelixOS node needs on Debian/Ubuntu, then the project's npm packages
# (npm ci builds the TypeScript and generates the gRPC code). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# nats-server comes first, from its own script (Debian 12's 2.9.10 has the route-interest bug).
scripts/install-nats-server.sh

# docker.io: agent containers; golang-go: agent builds; iproute2: mesh tests;
# alsa-utils: arecord capture; espeak-ng + sox: speech out and test audio; mosquitto: MQTT broker
# for the lights agent; pocketsphinx: the constrained command recogniser.
PACKAGES=(docker.io golang-go iproute2 alsa-utils espeak-ng sox mosquitto mosquitto-clients
  pocketsphinx pocketsphinx-en-us libpocketsphinx-dev ca-certificates tcpdump)
# Development and CI only (CI=true, as .ci/run sets, or HELIX_DEV=1): qemu-user-static and
# binfmt-support let the Docker engine run arm64 and armv7 agent images under emulation, so the
# tests run a Raspberry Pi's agents for real on an amd64 machine; chromium is the real browser the
# dashboard's tests drive (headless, through puppeteer-core). A node does not need them.
if [ "${CI:-}" = "true" ] || [ "${HELIX_DEV:-}" = "1" ]; then
  PACKAGES+=(qemu-user-static binfmt-support chromium)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> installing Debian packages: ${missing[*]}"
  # wait for another apt (unattended-upgrades, a parallel install) rather than fail
  APT_OPTS=(-o DPkg::Lock::Timeout=600)
  $SUDO apt-get "${APT_OPTS[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${APT_OPTS[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "==> installing npm packages (npm ci)"
# Install scripts are run below, once: the only native module (smart-whisper's whisper.cpp) is
# built by build-native.sh with -march=native flags rather than a plain build that gets redone.
npm ci --no-audit --no-fund --ignore-scripts

echo "==> building: gRPC code generation and TypeScript (npm run build)"
npm run -s build

echo "==> building native modules (whisper.cpp with -march=native)"
scripts/build-native.sh

echo "==> installing the Silero VAD model (cuts speech for listen and the mic; helix-node doctor lists it)"
# the same command every VAD error names; a model already there is checked, not fetched again.
# Offline it cannot be fetched: the node still installs and runs (without the mic loop), the
# error says where to get the file, and `helix-node doctor` keeps listing it until it is there.
if ! npx helix-node models pull silero-vad; then
  echo "==> warning: the Silero VAD model is not installed (see above); listen and the mic need it: run \`npx helix-node models pull silero-vad\` once this machine is online"
fi

echo "==> done: run \`npx helix-node join\` to start this node"
