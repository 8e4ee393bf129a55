#!/usr/bin/env bash
# Build smart-whisper's bundled whisper.cpp for this CPU.
#
# npm 11 gates install scripts (package.json "allowScripts" approves smart-whisper); the plain
# install builds ggml without SIMD flags. This rebuilds it with -march=native-style flags (DESIGN.md
# §7 says ~9x; here, 11 s of jfk.wav on the empty test model: ~14 s plain vs ~4 s native, 2 busy
# cores). Build time on 2 cores: ~25 s idle, ~160 s under heavy load (plain: ~260 s under load). Idempotent: a stamp records the flags of the last build, so
# a second run with the same flags returns at once. Usage: scripts/build-native.sh [--force]
# Env: HELIX_WHISPER_CFLAGS (default "-O3 -march=native -mtune=native"; set e.g. "-O3 -mcpu=native"
# or a portable "-O3 -mavx2 -mfma -mf16c" when the binary must run on other machines).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pkg="$root/node_modules/smart-whisper"
flags="${HELIX_WHISPER_CFLAGS:--O3 -march=native -mtune=native}"
stamp="$pkg/build/helix-build-flags"

if [[ ! -d "$pkg" ]]; then
  echo "smart-whisper is not installed; run \`npm ci\` (or npm install) in $root first" >&2
  exit 1
fi
for tool in make g++ python3; do
  if ! command -v "$tool" >/dev/null; then
    echo "$tool not found; install build tools with \`apt-get install build-essential python3\`" >&2
    exit 1
  fi
done

if [[ "${1:-}" != "--force" && -f "$stamp" && "$(cat "$stamp")" == "$flags" && -f "$pkg/build/Release/smart-whisper.node" ]]; then
  echo "smart-whisper already built with: $flags"
  exit 0
fi

jobs="$(nproc 2>/dev/null || echo 2)"
echo "building smart-whisper (whisper.cpp) with CFLAGS/CXXFLAGS: $flags, $jobs jobs"
start=$(date +%s)
# npm rebuild runs the approved install script (node-gyp rebuild); the generated Makefile appends
# $CFLAGS/$CXXFLAGS to its own, JOBS sets make -j. Node headers come from the local install
# (/usr/include/node) since node-gyp cannot download them here.
if [[ -z "${npm_config_nodedir:-}" && -f /usr/include/node/node.h ]]; then export npm_config_nodedir=/usr; fi
(cd "$root" && CFLAGS="$flags" CXXFLAGS="$flags" JOBS="$jobs" npm rebuild smart-whisper --foreground-scripts) >"$root/node_modules/.smart-whisper-build.log" 2>&1 || {
  tail -40 "$root/node_modules/.smart-whisper-build.log" >&2
  echo "smart-whisper build failed; full log: $root/node_modules/.smart-whisper-build.log" >&2
  exit 1
}
echo "$flags" >"$stamp"
echo "smart-whisper built in $(($(date +%s) - start)) s"
