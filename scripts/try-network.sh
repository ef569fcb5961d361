#!/usr/bin/env bash
# A web server in a container on a berth bridge network, its port published, fetched from the
# host. It all happens in a throwaway network namespace standing in for the host, so the
# machine's own interfaces and firewall are left alone: the bridge, the veths, the nftables
# table and the forwarding switch vanish with it.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "try-network: run as root (containers need it)" >&2; exit 1; }
scripts/setup.sh >/dev/null
cargo build --release --quiet -p berth
berth=$PWD/target/release/berth
work=$(mktemp -d /tmp/berth-try-network.XXXXXX)
ns=berth-try-$$
cleanup() {
  ip netns exec "$ns" true 2>/dev/null && nsenter --net=/run/netns/"$ns" \
    "$berth" --root "$work/root" delete --force web 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
host() { nsenter --net=/run/netns/"$ns" "$@"; }

bundle=$work/web
mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs/www"
cp "$(command -v busybox)" "$bundle/rootfs/bin/busybox"
for applet in $("$bundle/rootfs/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$bundle/rootfs/bin/$applet"
done
mkdir -p "$bundle/rootfs"/{proc,sys,dev,etc,tmp}
echo "hello from a container on a berth network" > "$bundle/rootfs/www/index.html"
(cd "$bundle" && "$berth" spec)
jq '.annotations = {"berth.network": "front", "berth.network.ports": "8080:80"}
    | .process.args = ["httpd", "-f", "-p", "80", "-h", "/www"]
    | .process.terminal = false
    | .linux.cgroupsPath = "/berth-try-network"' \
  "$bundle/config.json" > "$bundle/c" && mv "$bundle/c" "$bundle/config.json"

b() { host "$berth" --root "$work/root" "$@"; }
b network create front --subnet 10.80.0.0/24
b run -d --bundle "$bundle" web
echo "--- berth network inspect front"
b network inspect front
echo "--- the published port, from the host (127.0.0.1:8080)"
for _ in $(seq 50); do
  if host busybox wget -qO- http://127.0.0.1:8080/ 2>/dev/null; then ok=1; break; fi
  sleep 0.1
done
[ "${ok:-}" = 1 ] || { echo "try-network: the published port did not answer" >&2; exit 1; }
b delete --force web
b network rm front
