#!/usr/bin/env bash
# Build smart-whisper's bundled whisper.cpp for this CPU.
#
# npm 11 gates install scripts (package.json "allowScripts" approves smart-whisper); the plain
# install builds ggml without SIMD flags. This rebuilds it with flags for the CPU it will run on
# (DESIGN.md §7 says ~9x; here, 11 s of jfk.wav on the empty test model: ~14 s plain vs ~4 s
# native, 2 busy cores). Build time on 2 cores: ~25 s idle, ~160 s under heavy load (plain: ~260 s
# under load). Idempotent: a stamp records the flags of the last build, so a second run with the
# same flags returns at once. Usage: scripts/build-native.sh [--force]
#
# The flags come from a target (scripts/lib/platform.sh, helix_whisper_target/helix_whisper_flags):
#   x64: native (-march=native), or x86-64-v2 / x86-64-v3 for a binary other machines run
#   arm64: cortex-a53|pi3, cortex-a72|pi4, cortex-a76|pi5 (picked from /proc/cpuinfo on a Pi),
#          armv8-a (any 64-bit Pi; the default when the CPU is unknown or emulated)
#   armv7l: armv7-neon (Raspberry Pi OS 32-bit on a Pi 2 v1.1 and later)
# Under emulation (qemu-user, as scripts/try-rootfs.sh runs it) the CPU seen is the host's, so
# "native" is refused there: the binary must suit the Pi, not the machine emulating it.
# Env: HELIX_WHISPER_TARGET picks a target; HELIX_WHISPER_CFLAGS overrides the flags altogether.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/platform.sh
. "$root/scripts/lib/platform.sh"
pkg="$root/node_modules/smart-whisper"
stamp="$pkg/build/helix-build-flags"
arch="$(helix_arch)"
if [[ -n "${HELIX_WHISPER_CFLAGS:-}" ]]; then
  flags="$HELIX_WHISPER_CFLAGS"
  target="HELIX_WHISPER_CFLAGS"
else
  target="$(helix_whisper_target "$arch")"
  if [[ "$target" == native ]] && helix_emulated "$arch" /proc/cpuinfo; then
    echo "HELIX_WHISPER_TARGET=native under emulation would build for the emulating machine's CPU;" \
      "pick the target's: HELIX_WHISPER_TARGET=x86-64-v2 (or see scripts/build-native.sh)" >&2
    exit 1
  fi
  flags="$(helix_whisper_flags "$target" "$arch")"
fi

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
echo "building smart-whisper (whisper.cpp) for $arch, target $target: CFLAGS/CXXFLAGS $flags, $jobs jobs"
start=$(date +%s)
# npm rebuild runs the approved install script (node-gyp rebuild); the generated Makefile appends
# $CFLAGS/$CXXFLAGS to its own, JOBS sets make -j. Node headers come from the running node's
# own install (the npm registry's Node packages and the release tarballs carry include/node), else
# from Debian's (/usr/include/node), since node-gyp cannot download them here.
if [[ -z "${npm_config_nodedir:-}" ]]; then
  node_prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
  if [[ -f "$node_prefix/include/node/node.h" ]]; then
    export npm_config_nodedir="$node_prefix"
  elif [[ -f /usr/include/node/node.h ]]; then
    export npm_config_nodedir=/usr
  fi
fi
(cd "$root" && CFLAGS="$flags" CXXFLAGS="$flags" JOBS="$jobs" npm rebuild smart-whisper --foreground-scripts) >"$root/node_modules/.smart-whisper-build.log" 2>&1 || {
  tail -40 "$root/node_modules/.smart-whisper-build.log" >&2
  echo "smart-whisper build failed; full log: $root/node_modules/.smart-whisper-build.log" >&2
  exit 1
}
echo "$flags" >"$stamp"
echo "smart-whisper built in $(($(date +%s) - start)) s"
