#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench_refcount.sh: the snapshot pin's cost on a connect (issue 26, "paper
# check for large nodes"); results and the 64-core model in
# tests/bench/results/refcount.md. Run by hand after building:
#
#     cmake -S . -B build && cmake --build build -j2
#     tests/bench/bench_refcount.sh            # ~1 minute
#
# The agent publishes the example manifests once into a temp table on
# tmpfs (/dev/shm), then build/tests/bench_refcount (refcount_bench.c) runs
# its rows there: the model (one shared count vs a count per thread), the
# real ldmesh_table_acquire+release, and the floor (a refused loopback
# connect). Only 127.0.0.1 is dialled: no namespace needed.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${LDMESH_BUILD:-$src/build}
iters=${ITERS:-2000000}
tmp=$(mktemp -d /dev/shm/ldmesh-refcount.XXXXXX)
trap 'chattr -R -i "$tmp" 2>/dev/null || true; rm -rf "$tmp"' EXIT
"$build/agent/ldmesh-agent" --manifests "$src/examples/manifests" --table "$tmp/table" \
	--state none --once >/dev/null 2>&1
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs);" \
	"date: $(date -u +%F); commit: $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "command: tests/bench/bench_refcount.sh (ITERS=$iters)"
echo
"$build/tests/bench_refcount" "$tmp/table" "$iters"
