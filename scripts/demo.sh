#!/usr/bin/env bash
# Builds berth, makes a busybox bundle, and runs a real container from it with `berth run`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: run as root (containers need it)" >&2; exit 1; }
scripts/setup.sh
cargo build --release --quiet -p berth
berth=$PWD/target/release/berth
bundle=$(mktemp -d /tmp/berth-demo.XXXXXX)
trap 'rm -rf "$bundle"' EXIT
mkdir -p "$bundle/rootfs/bin"
cp "$(command -v busybox)" "$bundle/rootfs/bin/busybox"
for applet in $("$bundle/rootfs/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$bundle/rootfs/bin/$applet"
done
mkdir -p "$bundle/rootfs"/{proc,sys,dev,etc,tmp}
cd "$bundle"
"$berth" spec
# Non-interactive, with a command that shows where it runs.
sed -i -e 's/"terminal": true/"terminal": false/' \
  -e 's|"sh"$|"sh", "-c", "echo Hello from a berth container: hostname $(hostname), pid $$, uid $(id -u); ls /; cat /proc/self/cgroup \| head -3"|' config.json
sed -i 's|"namespaces": \[|"cgroupsPath": "/berth-demo",\n    "namespaces": [|' config.json
exec "$berth" --root /run/berth run "demo-$$"
