#!/usr/bin/env bash
# Run every benchmark at full size, one after another (so they do not compete for the cores), writing each
# table to bench/results/<name>-<date>.txt. About an hour and a half on 2 cores.
set -u
cd "$(dirname "$0")/.."
stamp=$(date +%Y%m%d-%H%M)
mkdir -p bench/results
for name in time_to_accuracy cache_hit dashboard_start memory repeated_training memory_model hosted_soak; do
    echo "== $name" >&2
    python -m "bench.$name" "$@" > "bench/results/$name-$stamp.txt" 2> "bench/results/$name-$stamp.log" \
        || echo "$name failed: see bench/results/$name-$stamp.log" >&2
done
