#!/usr/bin/env bash
# The Docker lane alone: Debian's dockerd (20.10), private to the test, runs every case of
# tests/tests/docker.rs with runc and with berth, then the docker run benchmark. As root.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test-docker: run as root (dockerd needs it)" >&2; exit 1; }
scripts/setup.sh
cargo build --workspace --locked
cargo test -p berth-tests --locked --test docker
scripts/build-release.sh
cargo bench -p berth-benches --locked --bench docker
