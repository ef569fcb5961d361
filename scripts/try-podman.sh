#!/usr/bin/env bash
# For podman users: one command that builds berth and runs a container on it with podman.
#   scripts/try-podman.sh                     # a busybox image built here, `echo` in it
#   scripts/try-podman.sh IMAGE [COMMAND…]    # an image of your own podman storage
# Without IMAGE, the image is built from Debian's busybox-static and podman works in a
# private storage under /tmp that is removed afterwards: nothing of your podman is touched.
# Run as root; podman must be installed (Debian: apt install podman).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "try-podman: run as root (berth has no rootless mode yet)" >&2; exit 1; }
command -v podman >/dev/null || { echo "try-podman: podman is not installed" >&2; exit 1; }
cargo build --release --quiet -p berth
berth=$PWD/target/release/berth
# berth writes cgroupfs itself; podman's systemd cgroup manager is refused by name.
flags=(--cgroup-manager cgroupfs --runtime "$berth")
if [ $# -gt 0 ]; then
  image=$1; shift
  exec podman "${flags[@]}" run --rm --network none "$image" "${@:-true}"
fi

command -v busybox >/dev/null || { echo "try-podman: busybox-static is needed (apt install busybox-static)" >&2; exit 1; }
work=$(mktemp -d /tmp/berth-try.XXXXXX)
store=(--root "$work/root" --runroot "$work/run" --tmpdir "$work/tmp")
# podman leaves conmon's cgroup under the parent: it goes with the rest.
parent=/berth-try-$$
cleanup() {
  podman "${store[@]}" "${flags[@]}" system reset --force >/dev/null 2>&1 || true
  rm -rf "$work"
  for d in /sys/fs/cgroup/*"$parent" /sys/fs/cgroup/*/"$parent"; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  true
}
trap cleanup EXIT
# Hosts without CAP_SYS_RESOURCE (some VMs) cannot raise podman's default rlimits.
printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n' >"$work/containers.conf"
export CONTAINERS_CONF=$work/containers.conf
tests/images/busybox-oci.sh "$work/busybox.tar" docker.io/library/berth-busybox:latest
podman "${store[@]}" load --quiet -i "$work/busybox.tar" >/dev/null
echo "try-podman: podman --runtime $berth run --rm docker.io/library/berth-busybox …" >&2
podman "${store[@]}" "${flags[@]}" run --rm --network none --cgroup-parent "$parent" \
  docker.io/library/berth-busybox sh -c 'echo "hello from a container on berth: host $(hostname), pid $$"'
