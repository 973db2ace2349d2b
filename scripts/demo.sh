#!/usr/bin/env bash
# The tour: the seed's scenario and a few things berth shows from inside a container.
# Uses a private engine root under /tmp and removes it at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(mktemp -d /tmp/berth-demo.XXXXXX)
B="./bin/berth --root $ROOT"
cleanup() {
  $B rm -f $($B ps -aq) >/dev/null 2>&1 || true
  $B system prune -f >/dev/null 2>&1 || true
  # the root's networks leave the host too: the default bridge, its rules, the pinned-netns run dir
  $B system reset -f >/dev/null 2>&1 || true
  rm -rf "$ROOT"
}
trap cleanup EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "An image from busybox-static (no network needed)"
ROOTFS=$(mktemp -d)
mkdir -p "$ROOTFS/bin" "$ROOTFS/etc" "$ROOTFS/tmp"
cp /bin/busybox "$ROOTFS/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$ROOTFS/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$ROOTFS/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$ROOTFS/etc/group"
tar -C "$ROOTFS" -c . | $B import - busybox >/dev/null
rm -rf "$ROOTFS"
run $B images

say "The seed: berth run -m 4MB -d busybox ping localhost"
id=$($B run -m 4MB -d busybox ping localhost)
echo "$id"
run cat /sys/fs/cgroup/memory/berth/$id/memory.limit_in_bytes 2>/dev/null || run cat /sys/fs/cgroup/berth/$id/memory.max
sleep 1.2
run $B ps
run $B logs --tail 2 "$id"
run $B stop -t 1 "$id" >/dev/null

say "Isolation, seen from inside: PID 1, hostname, network, capabilities"
run $B run --rm -h inside busybox sh -c 'echo "pid 1 is $(cat /proc/1/comm); hostname $(hostname); interfaces: $(ls /sys/class/net)"; grep CapEff /proc/self/status'
printf 'host kernel: %s, container kernel: ' "$(uname -r)"; $B run --rm busybox uname -r

say "The same image in a micro-VM (--isolation vm): its own kernel, as Hyper does it"
if ls /boot/vmlinuz-* >/dev/null 2>&1; then
  run $B run --rm --isolation vm busybox uname -r || echo "(vm mode unavailable here)"
else
  echo "(no guest kernel in /boot: vm mode unavailable)"
fi

say "Limits: a memory hog under -m 16m is OOM-killed (exit 137)"
set +e; $B run --rm -m 16m busybox sh -c 'x=a; while :; do x=$x$x; done'; echo "exit status: $?"; set -e

say "The OCI runtime alone: berth-runc on a bundle"
BUNDLE=$(mktemp -d)
mkdir -p "$BUNDLE/rootfs/bin"; cp /bin/busybox "$BUNDLE/rootfs/bin/"; ln -s busybox "$BUNDLE/rootfs/bin/sh"
./bin/berth-runc spec --bundle "$BUNDLE"
jq '.process.terminal = false | .process.args = ["sh", "-c", "echo hello from berth-runc in $(hostname)"]' \
  "$BUNDLE/config.json" > "$BUNDLE/c.json" && mv "$BUNDLE/c.json" "$BUNDLE/config.json"
run ./bin/berth-runc --root "$ROOT/runc" run --bundle "$BUNDLE" demo
rm -rf "$BUNDLE"
say "Done"
