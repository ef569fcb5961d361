#!/usr/bin/env bash
# Release binaries in target/release: berth, and containerd-shim-berth-v2 built the way it is
# meant to run, static, position-dependent and optimised for size. A shim stays resident next
# to every idle container, so its resident set is what counts: statically linked it maps no
# libc.so (1.5 MiB resident in every process), position-dependent its read-only data is never
# relocated into private memory, and size-optimised its start-up touches fewer code pages.
# benches/shim.rs measures the result.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace --locked
target=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
  cargo build --release --locked -p berth-shim --target "$target" \
  --config 'profile.release.opt-level="z"'
install -m 0755 "target/$target/release/containerd-shim-berth-v2" target/release/containerd-shim-berth-v2
# berth static too: every command starts without the dynamic loader resolving libc (about
# 0.4 ms of each start-up here), and nothing outside the binary is mapped into the runtime.
# Position-dependent and size-optimised for the same reason as the shim: as a static PIE the
# loader applies ~11,500 relocations at every start, reading 277 KiB of them and dirtying
# 227 KiB of read-only data, and -O3 code is a quarter larger than -Os, all of it brought in
# by fault-around. Peak RSS of `create`: 3.6 MiB (PIE, -O3) against 2.9 MiB (this build);
# the time of every benchmark scenario is the same within noise, since syscalls dominate.
# Only the binary's own image sits at a fixed address; stack, heap and mappings stay
# randomised, and the code that reads untrusted bundles is safe Rust.
# The functions its common commands run come first and together in the text
# (runc-compat/hot-functions.txt, made by scripts/gen-hot-order.sh, which says why): peak RSS
# of `create` 3.3 -> 2.4 MiB here, from cold page cache.
order=$PWD/runc-compat/hot-functions.txt
RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static \
  -C link-arg=-Wl,--symbol-ordering-file=$order -C link-arg=-Wl,--no-warn-symbol-ordering" \
  cargo build --release --locked -p berth --target "$target" \
  --config 'profile.release.opt-level="s"'
install -m 0755 "target/$target/release/berth" target/release/berth
found=$(nm "target/$target/release/berth" | awk '{print $NF}' | sort -u |
  comm -12 - <(sort -u "$order") | wc -l)
echo "build-release: $found of $(wc -l <"$order") functions of $order found in berth" \
  "(scripts/gen-hot-order.sh renews the list)"
echo "build-release: target/release/berth, target/release/containerd-shim-berth-v2 (both static)"
