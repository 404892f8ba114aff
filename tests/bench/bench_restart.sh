#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench_restart.sh: an agent restart with a changed folder, at 100,000
# Services (issue 26; results in tests/bench/results/restart.md). Run by hand
# after building:
#
#     cmake -S . -B build && cmake --build build -j2
#     tests/bench/bench_restart.sh            # ~2 minutes
#
# Each run, on tmpfs: the agent publishes a 100,000-Service List
# (tests/bench/gen_list.py) once; a long-lived reader
# (build/tests/bench_restart_lookup, restart_lookup.c) maps the table and
# looks svc-0's ClusterIP up; one Service file is added; the agent is run
# again (`--once`: a restart) and the reader times its first lookup after
# the new generation and its second. Printed: what the restart published
# (its size, delta or base) and the reader's first-minus-second lookup,
# median and range over RUNS. Only tables are touched: no network.
# Environment: LDMESH_BUILD (default <repo>/build), AGENT (default the
# build's ldmesh-agent: point it at an older build to compare), N (100000),
# RUNS (5).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${LDMESH_BUILD:-$src/build}
agent=${AGENT:-$build/agent/ldmesh-agent}
n=${N:-100000}
runs=${RUNS:-5}
tmp=$(mktemp -d /dev/shm/ldmesh-restart.XXXXXX)
trap 'chattr -R -i "$tmp" 2>/dev/null || true; rm -rf "$tmp"' EXIT
mkdir "$tmp/m"
python3 "$src/tests/bench/gen_list.py" "$n" >"$tmp/m/list.yaml"
firsts=() kinds=()
for r in $(seq "$runs"); do
	chattr -R -i "$tmp/t" 2>/dev/null || true
	rm -rf "$tmp/t" "$tmp/m/extra.yaml"
	"$agent" -m "$tmp/m" -t "$tmp/t" --state none --once >/dev/null 2>&1
	"$build/tests/bench_restart_lookup" "$tmp/t" 10.96.0.1 80 >"$tmp/reader" 2>&1 &
	reader=$!
	for _ in $(seq 600); do grep -q ready "$tmp/reader" && break; sleep 0.05; done
	grep -q ready "$tmp/reader" || { cat "$tmp/reader" >&2; exit 1; }
	printf 'apiVersion: v1\nkind: Service\nmetadata: {name: extra-%s, namespace: default}\nspec:\n  clusterIP: 10.99.0.9\n  ports: [{port: 80}]\n' \
		"$r" >"$tmp/m/extra.yaml"
	"$agent" -m "$tmp/m" -t "$tmp/t" --state none --once >"$tmp/log" 2>&1
	wait "$reader" || { cat "$tmp/reader" >&2; exit 1; }
	read -r first second gen base < <(tail -n1 "$tmp/reader")
	size=$(stat -c %s "$tmp/t/snap.$gen")
	kind=$([ "$base" = 0 ] && echo "base" || echo "delta over $base")
	echo "# run $r: generation $gen ($kind, $size bytes); first lookup $first ns, second $second ns"
	firsts+=($((first - second)))
	kinds+=("$kind, $size bytes")
done
mapfile -t sorted < <(printf '%s\n' "${firsts[@]}" | sort -n)
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs);" \
	"date: $(date -u +%F); commit: $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "command: tests/bench/bench_restart.sh (N=$n RUNS=$runs AGENT=$agent)"
echo
echo "| restart publishes | first lookup minus second, median | range |"
echo "|---|---|---|"
echo "| ${kinds[0]} | $((sorted[runs / 2] / 1000)) us | $((sorted[0] / 1000))-$((sorted[runs - 1] / 1000)) us |"
