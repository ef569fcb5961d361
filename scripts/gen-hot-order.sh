#!/usr/bin/env bash
# Writes runc-compat/hot-functions.txt: the functions the release `berth` runs for its common
# commands, in the order they first run, traced with gdb (scripts/hot-order/trace.py).
# scripts/build-release.sh hands the list to the linker, which puts those functions first and
# together. Why: the kernel maps a program's pages in whole page-cache folios (up to 128 KiB
# after readahead), so a short-lived process that runs 0.7 MiB of code scattered through
# 3 MiB of text has most of the 3 MiB resident; gathered, the same code needs a few folios.
# Run it again after large changes; a stale list costs memory, never correctness
# (build-release.sh prints how much of the list it still finds).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "gen-hot-order: run as root (containers need it)" >&2; exit 1; }
command -v gdb >/dev/null 2>&1 || { apt-get install -y -qq gdb >/dev/null; }
scripts/build-release.sh >/dev/null
berth=$PWD/target/release/berth
work=$(mktemp -d /tmp/berth-hot.XXXXXX)
root=$work/root
cleanup() {
  for id in $("$berth" --root "$root" list --quiet 2>/dev/null); do
    "$berth" --root "$root" delete --force "$id" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/sleep/rootfs/bin" "$work/true"
cp "$(command -v busybox)" "$work/sleep/rootfs/bin/busybox"
for applet in sh sleep true; do ln -s busybox "$work/sleep/rootfs/bin/$applet"; done
mkdir -p "$work/sleep/rootfs"/{proc,sys,dev,etc,tmp}
(cd "$work/sleep" && "$berth" spec)
jq '.process.args = ["sleep", "60"] | .process.terminal = false
    | .linux.cgroupsPath = "/berth-hot-order"' \
  "$work/sleep/config.json" > "$work/c" && mv "$work/c" "$work/sleep/config.json"
ln -s ../sleep/rootfs "$work/true/rootfs"
jq '.process.args = ["true"]' "$work/sleep/config.json" > "$work/true/config.json"

out=$work/hits
# One command under the tracer, its own process only (gdb loses the container's init and the
# exec'd child once they enter the container's namespaces). gdb itself can fail on a fork it
# did not expect, so a command gets three tries; each appends only when it finishes.
trace() {
  for _ in 1 2 3; do
    if HOT_OUT=$out.one timeout 300 gdb -q -batch \
      -x scripts/hot-order/trace.py --args "$berth" --root "$root" "$@" \
      </dev/null >"$work/gdb.log" 2>&1 && [ -s "$out.one" ]; then
      cat "$out.one" >>"$out"; rm -f "$out.one"; return 0
    fi
    rm -f "$out.one"
    case $1 in create|run) "$berth" --root "$root" delete --force "${@: -1}" >/dev/null 2>&1 || true ;; esac
  done
  echo "gen-hot-order: could not trace: $*" >&2; tail -5 "$work/gdb.log" >&2; exit 1
}

trace create --bundle "$work/sleep" hot1
trace start hot1
trace state hot1
trace list
trace exec hot1 true
trace kill hot1 KILL
trace delete --force hot1
trace run --bundle "$work/true" hot2
trace --version

dest=runc-compat/hot-functions.txt
awk '!seen[$0]++' "$out" >"$dest"
echo "gen-hot-order: $(wc -l <"$dest") functions in $dest"
