#!/usr/bin/env bash
# Tries scripts/install.sh on Debian 12 for another architecture, for real, under qemu-user: a
# Debian 12 (bookworm) root file system from deb.debian.org (debootstrap), this repository's HEAD
# (git archive) in it, then install.sh's apt, node, npm and build steps, the native build
# (whisper.cpp with the target's flags, not the emulating machine's) and a node start-up
# (`helix-node join` on the built-in defaults until `helix-node status` answers, then SIGTERM), in a
# chroot through binfmt_misc. Each step is timed; a table sums them up at the end.
#
# Raspberry Pi OS (bookworm) is Debian 12 plus the Pi's own packages (kernel, firmware, raspi-config)
# from archive.raspberrypi.org: arm64 here stands for Raspberry Pi OS 64-bit, armhf for 32-bit.
# Slow under emulation (tens of minutes) and it needs root, debootstrap and qemu-user-static: run
# it by hand, not in CI. Reruns reuse the cached base file system and the downloaded .debs and npm
# packages (under $HELIX_ROOTFS_CACHE, default /var/cache/helix-rootfs).
#
# Usage: sudo scripts/try-rootfs.sh [arm64|armhf] [--steps apt,node,npm,build,native,start] [--keep]
#   --steps  run only these steps (default: all); --keep  reuse the last run's file system as it
#   was left (default: a fresh copy of the base), e.g. to rerun `start` after a failure.
# Env: HELIX_WHISPER_TARGET (default armv8-a on arm64, armv7-neon on armhf), HELIX_ROOTFS_MIRROR.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
arch=arm64
steps="apt,node,npm,build,native,start"
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    arm64 | armhf) arch="$1"; shift ;;
    --steps) steps="${2:?--steps needs a list: apt,node,npm,build,native,start}"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,21s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "unknown argument '$1'; usage: scripts/try-rootfs.sh [arm64|armhf] [--steps LIST] [--keep]" >&2; exit 2 ;;
  esac
done

case "$arch" in
  arm64) qemu=aarch64 default_target=armv8-a ;;
  armhf) qemu=arm default_target=armv7-neon ;;
esac
target="${HELIX_WHISPER_TARGET:-$default_target}"
cache="${HELIX_ROOTFS_CACHE:-/var/cache/helix-rootfs}"
mirror="${HELIX_ROOTFS_MIRROR:-http://deb.debian.org/debian}"
base="$cache/bookworm-$arch"
root="$cache/work-$arch"

if [ "$(id -u)" -ne 0 ]; then echo "run it as root (debootstrap, chroot and mounts need it): sudo $0" >&2; exit 1; fi
if ! command -v debootstrap >/dev/null; then echo "debootstrap is missing: apt-get install debootstrap" >&2; exit 1; fi
if ! grep -qs '^enabled' "/proc/sys/fs/binfmt_misc/qemu-$qemu"; then
  echo "binfmt_misc has no enabled qemu-$qemu entry, so $arch binaries cannot run here: apt-get install" \
    "qemu-user-static binfmt-support (and mount binfmt_misc: mount -t binfmt_misc none /proc/sys/fs/binfmt_misc)" >&2
  exit 1
fi
if ! grep -qs '^flags:.*F' "/proc/sys/fs/binfmt_misc/qemu-$qemu"; then
  echo "binfmt_misc's qemu-$qemu entry lacks the F (fix binary) flag, so the emulator cannot be found" \
    "inside a chroot; Debian's qemu-user-static registers it with F: reinstall it" >&2
  exit 1
fi

declare -a names=() secs=() results=()
record() { names+=("$1"); secs+=("$2"); results+=("$3"); }
summary() {
  echo
  echo "== scripts/try-rootfs.sh $arch: Debian 12 under qemu-$qemu on $(uname -m), $(nproc) cores, whisper target $target"
  printf '%-8s %9s  %s\n' step seconds result
  local i
  for i in "${!names[@]}"; do printf '%-8s %9s  %s\n' "${names[$i]}" "${secs[$i]}" "${results[$i]}"; done
}

mounted=()
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
  mounted=()
}
trap 'cleanup; summary' EXIT
bind() { mkdir -p "$2"; mount --bind "$1" "$2"; mounted+=("$2"); }

# Runs one step: its name, then the command; times it and records ok/FAILED (and stops on failure).
run_step() {
  local name="$1" start rc=0
  shift
  case ",$steps," in *",$name,"*) ;; *) return 0 ;; esac
  echo "==> [$name] $*"
  start="$(date +%s.%N)"
  "$@" || rc=$?
  local took
  took="$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')"
  if [ "$rc" -eq 0 ]; then record "$name" "$took" ok; else record "$name" "$took" "FAILED (exit $rc)"; exit "$rc"; fi
}

in_root() {
  chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt HELIX_WHISPER_TARGET="$target" "$@"
}

# --- the base file system: debootstrap once, then cached
mkdir -p "$cache"
if [ ! -f "$base/.helix-complete" ]; then
  start="$(date +%s)"
  rm -rf "$base.tmp"
  echo "==> debootstrap Debian 12 $arch from $mirror into $base (once; later runs reuse it)"
  debootstrap --arch="$arch" --variant=minbase bookworm "$base.tmp" "$mirror"
  touch "$base.tmp/.helix-complete"
  rm -rf "$base"
  mv "$base.tmp" "$base"
  record debootstrap "$(($(date +%s) - start))" ok
else
  record debootstrap 0 "cached ($base)"
fi

if [ "$keep" -eq 0 ] || [ ! -d "$root" ]; then
  rm -rf "$root"
  cp -a "$base" "$root"
fi
# services are not started in a chroot (docker.io, mosquitto and nats-server's postinst ask)
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# A machine behind a TLS-inspecting proxy trusts the proxy's CA through certificates added under
# /usr/local/share/ca-certificates; the root file system gets the same ones (curl and apt read the
# system store; Node reads it through NODE_EXTRA_CA_CERTS, set in in_root).
host_cas=(/usr/local/share/ca-certificates/*.crt)
if [ -e "${host_cas[0]}" ]; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp "${host_cas[@]}" "$root/usr/local/share/ca-certificates/"
  echo "==> copied ${#host_cas[@]} locally added CA certificate(s) from this machine into the root file system"
fi
bind /proc "$root/proc"
bind /sys "$root/sys"
bind /dev "$root/dev"
bind /dev/pts "$root/dev/pts"
# .debs and npm's cache survive between runs
mkdir -p "$cache/apt-$arch" "$cache/npm-$arch"
bind "$cache/apt-$arch" "$root/var/cache/apt/archives"
bind "$cache/npm-$arch" "$root/root/.npm"

# the repository as committed (HEAD), as a user would clone it
rm -rf "$root/opt/helixos"
mkdir -p "$root/opt/helixos"
git -C "$repo" archive --format=tar HEAD | tar -x -C "$root/opt/helixos"

machine="$(in_root uname -m)"
# shellcheck disable=SC2016 # expanded inside the chroot
echo "==> $root: $(in_root sh -c '. /etc/os-release; echo "$PRETTY_NAME"'), uname -m $machine, $(in_root dpkg --print-architecture)"

run_step apt in_root /opt/helixos/scripts/install.sh --only apt
if [ -e "${host_cas[0]}" ] && [ -x "$root/usr/sbin/update-ca-certificates" ]; then
  in_root update-ca-certificates >/dev/null
fi
run_step node in_root /opt/helixos/scripts/install.sh --only node
run_step npm in_root /opt/helixos/scripts/install.sh --only npm
run_step build in_root /opt/helixos/scripts/install.sh --only build
run_step native in_root /opt/helixos/scripts/install.sh --only native

# A node start-up on the built-in defaults (no helix.toml: cwd is /root), in a network namespace of
# its own with only loopback, so its discovery stays off this machine's network.
cat >"$root/root/helix-start.sh" <<'SCRIPT'
#!/bin/sh
# written by scripts/try-rootfs.sh: join, poll status until it answers, then SIGTERM
cd /root && rm -rf /var/lib/helix
t0=$(date +%s.%N)
node /opt/helixos/bin/helix-node.js join >/tmp/helix-join.log 2>&1 &
pid=$!
tries=0
until node /opt/helixos/bin/helix-node.js status >/tmp/helix-status.txt 2>&1; do
  tries=$((tries + 1))
  if ! kill -0 "$pid" 2>/dev/null || [ "$tries" -ge 600 ]; then
    echo "helix-node join did not answer status (it exited, or 600 tries):"
    tail -30 /tmp/helix-join.log
    cat /tmp/helix-status.txt
    kill "$pid" 2>/dev/null
    exit 1
  fi
done
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" -v n="$tries" 'BEGIN { printf "join until status answers: %.1f s (%d failed status calls before)\n", b - a, n }'
cat /tmp/helix-status.txt
kill -TERM "$pid"
wait "$pid"
echo "helix-node join exited with $? after SIGTERM"
SCRIPT
chmod 755 "$root/root/helix-start.sh"
start_node() {
  unshare --net --fork sh -c "ip link set lo up && exec chroot '$root' /usr/bin/env -i HOME=/root TERM=dumb \
    LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /root/helix-start.sh"
}
run_step start start_node
echo "==> all steps ran"
