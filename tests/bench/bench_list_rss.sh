#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench_list_rss.sh: the agent's peak RSS while parsing one 100,000-Service
# `kind: List` file (issue 26; results in tests/bench/results/list_rss.md).
# Run by hand after building:
#
#     cmake -S . -B build && cmake --build build -j2
#     tests/bench/bench_list_rss.sh            # ~1-2 minutes
#
# The file is generated on tmpfs (/dev/shm) as `kubectl get svc -A -o yaml`
# prints it (keys sorted: `kind: List` after `items`), ~32 MB, just under
# MANIFEST_MAX_FILE_BYTES. `ldmesh-agent --check` parses the folder and
# exits: its peak RSS (GNU time's "Maximum resident set size", VmHWM) is the
# parse's, with the parsed objects. `--once` publishes too (resolve, build,
# write): its peak is the whole first publish's. RUNS runs each; median and
# range. Environment: LDMESH_BUILD (default <repo>/build), N (100000), RUNS (3).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${LDMESH_BUILD:-$src/build}
n=${N:-100000}
runs=${RUNS:-3}
tmp=$(mktemp -d /dev/shm/ldmesh-listrss.XXXXXX)
trap 'chattr -R -i "$tmp" 2>/dev/null || true; rm -rf "$tmp"' EXIT
mkdir "$tmp/m"
python3 "$src/tests/bench/gen_list.py" "$n" >"$tmp/m/list.yaml"
peak() { # mode -> "kB seconds"
	/usr/bin/time -f '%M %e' -o "$tmp/time" "$build/agent/ldmesh-agent" --manifests "$tmp/m" \
		--table "$tmp/t$1" --state none "--$1" >/dev/null 2>&1 || true
	cat "$tmp/time"
}
row() { # mode
	local kb=() s=()
	for _ in $(seq "$runs"); do
		read -r k e < <(peak "$1")
		kb+=("$k"); s+=("$e")
	done
	mapfile -t kb < <(printf '%s\n' "${kb[@]}" | sort -n)
	mapfile -t s < <(printf '%s\n' "${s[@]}" | sort -n)
	echo "| --$1 | $n | $((kb[runs / 2] / 1024)) MB | $((kb[0] / 1024))-$((kb[runs - 1] / 1024)) MB | ${s[runs / 2]} s (${s[0]}-${s[runs - 1]}) |"
}
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs);" \
	"date: $(date -u +%F); commit: $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "command: tests/bench/bench_list_rss.sh (N=$n RUNS=$runs); file $(stat -c %s "$tmp/m/list.yaml") bytes on tmpfs"
echo
echo "| agent | Services in one List | peak RSS median | range | wall time median (range) |"
echo "|---|---|---|---|---|"
row check
row once
