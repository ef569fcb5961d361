#!/usr/bin/env bash
# Every test: formatting, lints, unit tests and the integration suite that runs real
# containers against this kernel; then a check that nothing was left behind.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test: run as root (the integration tests run real containers)" >&2; exit 1; }
scripts/setup.sh

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo build --workspace --locked
cargo test --workspace --locked
# The fuzz targets (their own workspace): lints, then a minute each from the corpus.
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
cargo clippy --manifest-path fuzz/Cargo.toml --locked -- -D warnings
scripts/fuzz.sh 60

# The same integration tests on a pure cgroup v2 kernel: natively when this host is one,
# otherwise in a QEMU guest (scripts/cgv2vm).
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  echo "test: this host is pure cgroup v2; the run above covered it"
else
  scripts/test-v2.sh
fi

# The release binaries as they are meant to be installed (the shim static), run for real by
# the shim benchmark next to containerd's runc shim; its report lands in the log.
scripts/build-release.sh
# berth next to crun and runc, side by side (fewer rounds than the README's table).
BERTH_BENCH_ROUNDS=10 cargo bench -p berth-benches --locked --bench runtimes
# The README's one command for podman users.
scripts/try-podman.sh | grep -q '^hello from a container on berth' ||
  { echo "test: scripts/try-podman.sh did not run its container" >&2; exit 1; }
scripts/try-network.sh | grep -q '^hello from a container on a berth network' ||
  { echo "test: scripts/try-network.sh did not fetch its page" >&2; exit 1; }
cargo bench -p berth-benches --locked --bench shim --bench seccomp_compile --bench network
# docker run --rm busybox true on berth next to runc, through a private dockerd.
BERTH_BENCH_ROUNDS=10 cargo bench -p berth-benches --locked --bench docker

# Nothing of the tests may remain: mounts, cgroups, state, processes.
left=0
if grep -qE 'berth-tests|/rootfs' /proc/self/mountinfo; then
  echo "test: mounts left behind:"; grep -E 'berth-tests|/rootfs' /proc/self/mountinfo; left=1
fi
if find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -type d -name 'berth-test-*' 2>/dev/null | grep -q .; then
  echo "test: cgroups left behind:"; find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -type d -name 'berth-test-*'; left=1
fi
for p in /proc/[0-9]*; do
  root=$(readlink "$p/root" 2>/dev/null || true)
  case "$root" in
    /tmp/berth-tests/*)
      if ! grep -q '^State:.*Z' "$p/status" 2>/dev/null; then
        echo "test: a container process is still running: ${p#/proc/} ($root)"; left=1
      fi ;;
  esac
done
if ip netns list 2>/dev/null | grep -qE '^(bt-|berth-)'; then
  echo "test: network namespaces left behind:"; ip netns list | grep -E '^(bt-|berth-)'; left=1
fi
if pgrep -f '(dockerd|containerd|docker-registry).*/tmp/berth-tests/' >/dev/null; then
  echo "test: daemons of the tests still running:"; pgrep -af '(dockerd|containerd|docker-registry).*/tmp/berth-tests/'; left=1
fi
# The Docker tests' bridges, veths and iptables chains (tests/src/docker.rs puts them back).
if ip -o link show | grep -qE ': (bt-|br-|docker0)'; then
  echo "test: network links left behind:"; ip -o link show | grep -E ': (bt-|br-|docker0)'; left=1
fi
if iptables-save 2>/dev/null | grep -q -- '-j DOCKER'; then
  echo "test: Docker's iptables chains left behind"; left=1
fi
# buildah's RUN containers live in berth's default root (buildah passes no --root).
if target/debug/berth list --quiet 2>/dev/null | grep -q '^buildah'; then
  echo "test: build containers left behind:"; target/debug/berth list; left=1
fi
# @seccomp is berth's cache of compiled filters, not a container.
if [ -d /tmp/berth-tests/root ] && ls -A /tmp/berth-tests/root | grep -qv '^@seccomp$'; then
  echo "test: container state left behind:"; ls /tmp/berth-tests/root; left=1
fi
rm -rf /tmp/berth-tests
exit $left
