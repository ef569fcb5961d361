#!/usr/bin/env bash
# Installs what building and testing berth needs on a fresh Debian machine (run as root).
set -euo pipefail
need=()
# The test rootfs needs a static busybox: it runs with no libraries around it.
bb=$(command -v busybox || true)
if [ -z "$bb" ] || ldd "$bb" >/dev/null 2>&1; then need+=(busybox-static); fi
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v ps >/dev/null 2>&1 || need+=(procps)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
# The seccomp tests compare berth with runc on the same bundle.
command -v runc >/dev/null 2>&1 || need+=(runc)
# The shim tests run a private containerd (1.6 in Debian 12) and drive it with ctr; `script`
# (bsdutils) gives ctr a terminal.
command -v containerd >/dev/null 2>&1 || need+=(containerd)
command -v script >/dev/null 2>&1 || need+=(bsdutils)
# A shim test lands a signal at one exact point of `start` with gdb.
command -v gdb >/dev/null 2>&1 || need+=(gdb)
# The client tests drive Debian's podman (4.3) and buildah (1.28) with --runtime berth, push
# with skopeo to a docker-registry of their own on loopback, and pull with containerd.
command -v podman >/dev/null 2>&1 || need+=(podman)
command -v buildah >/dev/null 2>&1 || need+=(buildah)
command -v skopeo >/dev/null 2>&1 || need+=(skopeo)
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
# Networks: NAT and published ports go through nft; the network tests and
# scripts/try-network.sh set up their namespaces with ip and nsenter, and edit JSON with jq.
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v nsenter >/dev/null 2>&1 || need+=(util-linux)
command -v jq >/dev/null 2>&1 || need+=(jq)
# The side-by-side benchmark (benches/benches/runtimes) runs crun next to berth and runc and
# counts syscalls with strace.
command -v crun >/dev/null 2>&1 || need+=(crun)
command -v strace >/dev/null 2>&1 || need+=(strace)
# youki, the fourth peer, is built from crates.io below; it links libseccomp.
if ! command -v youki >/dev/null 2>&1; then
  dpkg -s libseccomp-dev >/dev/null 2>&1 || need+=(libseccomp-dev)
  command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
fi
# The Docker tests (tests/tests/docker.rs) run a private dockerd from Debian's docker.io
# (20.10, with its own containerd and runc); iptables is what it writes its NAT with.
lean=()
command -v dockerd >/dev/null 2>&1 || lean+=(docker.io)
command -v iptables-save >/dev/null 2>&1 || lean+=(iptables)
if [ ${#need[@]} -gt 0 ] || [ ${#lean[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]} ${lean[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Packages install services (docker-registry's listens on :5000); none is started here:
  # the tests run their own daemons with their own configuration.
  guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    guard=/usr/sbin/policy-rc.d
    trap 'rm -f "$guard"' EXIT
  fi
  apt-get update -qq
  if [ ${#need[@]} -gt 0 ]; then apt-get install -y -qq "${need[@]}" >/dev/null; fi
  # Without recommends: docker.io would bring apparmor and friends to the host.
  if [ ${#lean[@]} -gt 0 ]; then
    apt-get install -y -qq --no-install-recommends "${lean[@]}" >/dev/null
  fi
fi
command -v cargo >/dev/null 2>&1 || { echo "setup: cargo (Rust 1.85 or newer) is required" >&2; exit 1; }
if ! command -v youki >/dev/null 2>&1; then
  # About two minutes on two cores; the benchmark measures it when it is there.
  echo "setup: building youki 0.7.0 into /usr/local/bin"
  # A peer only: if it does not build, the benchmark leaves it out and says so.
  cargo install youki --locked --version 0.7.0 --features v1,v2,seccomp,systemd \
    --root /usr/local --quiet || echo "setup: youki did not build; the benchmark runs without it"
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  # The fuzz targets' driver (scripts/fuzz.sh); about half a minute to build.
  echo "setup: installing cargo-fuzz 0.13.2"
  cargo install cargo-fuzz --locked --version 0.13.2 --quiet
fi
