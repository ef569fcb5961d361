#!/usr/bin/env bash
# The integration suite again inside a QEMU guest whose kernel has a pure cgroup v2 hierarchy
# (this repository's copy of the workplace's cgv2vm runner). One VM runs every test binary.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --locked --quiet
mapfile -t bins < <(cargo test -p berth-tests --locked --no-run --message-format=json 2>/dev/null |
  sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | grep '/deps/' | grep -v '/berth_tests-' |
  # Container networking does not depend on the cgroup version, and the guest kernel has no
  # veth, bridge or VXLAN driver: network.rs and docker.rs (whose default network is a
  # bridge) run on the host only.
  grep -v -e '/network-' -e '/docker-')
[ ${#bins[@]} -gt 0 ] || { echo "test-v2: no test binaries" >&2; exit 1; }
script='fail=0
for b in "$@"; do
  echo "== ${b##*/} (cgroup v2 guest)"
  # The guest kernel has no veth driver: netDevices and the attacks through a bridge
  # (attacks.rs, bridge_*) are covered by the host run.
  # The shim start race is timed by gdb (30 s), which the emulated guest cannot keep; it
  # does not depend on the cgroup version, and the host run has it.
  # The fault tests run at a fifth of their size here (the host runs 1,000 cycles).
  BERTH_LOAD_CYCLES=200 BERTH_KILL_ROUNDS=3 \
    "$b" --test-threads=2 --skip net_devices_are_moved --skip bridge_ \
      --skip a_late_signal_cannot_hang_shim_start || fail=1
done
rm -rf /tmp/berth-tests
exit $fail'
exec scripts/cgv2vm/run.sh --timeout "${CGV2VM_TIMEOUT:-2400}" -- sh -c "$script" sh "${bins[@]}"
