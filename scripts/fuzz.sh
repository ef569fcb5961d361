#!/bin/sh
# Runs every cargo-fuzz target for SECONDS (default 60) from the corpus in fuzz/corpus.
# New inputs go to a scratch directory, so the tree stays as it is; a crash, a leak, a
# timeout or an allocation over the limit fails the run and leaves the input under
# fuzz/artifacts/TARGET/ for `cargo fuzz run TARGET FILE` to replay.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -eu
cd "$(dirname "$0")/../fuzz"
seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-$(cargo fuzz list)}
scratch=$(mktemp -d /tmp/berth-fuzz-corpus.XXXXXX)
trap 'rm -rf "$scratch" /tmp/berth-fuzz-[0-9]*' EXIT
# Stable Rust: no sanitizer (cargo-fuzz's default, ASan, needs nightly); libFuzzer's own
# checks still catch panics, unbounded allocation (-malloc_limit_mb) and hangs (-timeout).
cargo fuzz build -s none
for t in $targets; do
    echo "== fuzz $t for ${seconds}s"
    mkdir -p "$scratch/$t"
    cargo fuzz run -s none "$t" "$scratch/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=1024 -malloc_limit_mb=256 \
        -max_len=65536 -timeout=10 -print_final_stats=1 2>&1 |
        grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::new_units_added|==|SUMMARY|thread|panicked|Test unit written)' || true
    # grep swallows the exit status of the pipe: a finding leaves an artifact.
    if [ -n "$(ls -A "artifacts/$t" 2>/dev/null)" ]; then
        echo "fuzz: $t found a failing input: fuzz/artifacts/$t/" >&2
        exit 1
    fi
done
