#!/bin/sh
# Instructions per NUT request, counted by callgrind (bench/README.md, "CPU cost per request").
# Runs host/netserver/examples/request_cost.rs twice per case with different request counts and
# divides the difference, so start-up cancels out. Release build in target/bench.
set -eu
cd "$(dirname "$0")/.."
CARGO_TARGET_DIR=target/bench cargo build -q --release -p hazel-netserver --example request_cost
binary=target/bench/release/examples/request_cost
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Instructions of the run's first thread (the server's, in loopback mode).
count() {
    valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out/cg.%p" "$binary" "$@" \
        2>"$out/log" || { cat "$out/log"; exit 1; }
    first=$(ls "$out"/cg.* | grep -- '-01$' | head -1)
    total=$(grep '^summary:\|^totals:' "$first" | head -1 | awk '{print $2}')
    rm -f "$out"/cg.*
    echo "$total"
}
low=${LOW:-2000}
high=${HIGH:-12000}
for mode in core loopback; do
    for kind in get list; do
        a=$(count "$mode" "$kind" "$low")
        b=$(count "$mode" "$kind" "$high")
        echo "$mode $kind: $(( (b - a) / (high - low) )) instructions per request"
    done
done
