#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench_start.sh: what libldmesh.so costs a process that never connects.
# The preload is loaded into every process on the node, so starting one is
# a hot path too. Run by hand after building (no root needed):
#
#     cmake -S . -B build -DLDMESH_WERROR=ON && cmake --build build -j2
#     tests/bench/bench_start.sh                   # ~30 seconds
#
# Environment knobs:
#     LDMESH_BUILD   build directory (default <repo>/build)
#     PROG=/bin/true the program started
#     N=300          starts per loop
#     ROUNDS=9       interleaved rounds (after one untimed warm-up round)
#
# What it measures, in ONE run, side by side:
#   1. callgrind: the user-space instructions of one $PROG run without and
#      with LD_PRELOAD=libldmesh.so, ld.so's own work included (mapping,
#      relocating and binding the library, its constructors). LD_PRELOAD is
#      set in valgrind's environment, which valgrind hands to the client;
#      the launcher itself is not counted. Target: <= 250,000 with the
#      preload (127,339 without, on Debian 12's glibc 2.36).
#   2. A bash loop starting $PROG N times, timed with $EPOCHREALTIME (no
#      fork for the clock), without and with the preload in the loop's
#      environment (the loop's bash then loads it too: once, against N
#      children). Each round runs both, without-first on even rounds and
#      with-first on odd ones, so drift and ordering cancel. The ratio is
#      of the medians; "per round" is the spread of the per-round ratios.
#      Kernel work (fork, exec, mmap of one more file) is in these figures,
#      not in callgrind's. Target: <= 1.10x in wall time. The "cpu" row
#      (the children's user+sys time) is the same comparison less exposed
#      to other load on a shared machine: waiting for a CPU is not in it.
#
# No network: nothing here opens a socket, and a program that never
# connects or resolves never makes the preload read its table or config.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${LDMESH_BUILD:-$root/build}
lib=$build/preload/libldmesh.so
PROG=${PROG:-/bin/true}
N=${N:-300}
ROUNDS=${ROUNDS:-9}

die() { echo "bench_start: $*" >&2; exit 1; }
[ -f "$lib" ] || die "build first: missing $lib (LDMESH_BUILD=$build)"
[ -x "$PROG" ] || die "not an executable: $PROG"
command -v valgrind >/dev/null || die "valgrind not found (apt-get install valgrind)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The environment of both sides differs only in LD_PRELOAD.
unset LD_PRELOAD LDMESH_TRACE LDMESH_TRACE_FILE

# cg_total [preload]: callgrind's total for one $PROG run
cg_total() {
	local out=$tmp/cg.out
	env ${1:+LD_PRELOAD=$1} valgrind --tool=callgrind --trace-children=no \
		--callgrind-out-file="$out" "$PROG" >/dev/null 2>&1 ||
		die "valgrind failed on $PROG${1:+ with LD_PRELOAD=$1}"
	sed -n 's/^summary: //p' "$out"
}

# loop_us [preload]: "wall cpu", microseconds for N starts of $PROG from one
# bash; cpu is the children's user+sys time (the second line of bash's
# `times`, run in that bash itself: a subshell would count its own)
loop_us() {
	# shellcheck disable=SC2016 # expanded by the inner bash, on purpose
	env ${1:+LD_PRELOAD=$1} N="$N" P="$PROG" bash -c '
		t0=${EPOCHREALTIME/./}
		for ((i = 0; i < N; i++)); do "$P"; done
		t1=${EPOCHREALTIME/./}
		echo $((t1 - t0))
		times' |
		awk 'NR == 1 { wall = $1 }
		     NR == 3 { for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); cpu += t[1] * 60 + t[2] } }
		     END { printf "%d %d\n", wall, cpu * 1e6 }'
}

# 1234567 -> 1,234,567
commas() { echo "$1" | sed ':a; s/\B[0-9]\{3\}\>/,&/; ta'; }

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

echo "bench_start: $PROG, preload $lib"
echo

cg_off=$(cg_total "")
cg_on=$(cg_total "$lib")
echo "callgrind, one $PROG (user-space instructions, ld.so included)"
printf '  %-16s %12s\n' "without preload" "$(commas "$cg_off")"
printf '  %-16s %12s   +%s, %.2fx   target <= 250,000: %s\n' "with preload" \
	"$(commas "$cg_on")" "$(commas $((cg_on - cg_off)))" \
	"$(echo "$cg_on $cg_off" | awk '{print $1 / $2}')" \
	"$([ "$cg_on" -le 250000 ] && echo met || echo MISSED)"
echo

loop_us "" >/dev/null # warm-up: page cache, both sides
loop_us "$lib" >/dev/null
for f in off on; do : >"$tmp/$f"; done
for ((r = 0; r < ROUNDS; r++)); do
	if ((r % 2 == 0)); then
		loop_us "" >>"$tmp/off"
		loop_us "$lib" >>"$tmp/on"
	else
		loop_us "$lib" >>"$tmp/on"
		loop_us "" >>"$tmp/off"
	fi
done

# row <label> <column>: medians, the ratio of the medians and the spread of
# the per-round ratios for one column (1 wall, 2 cpu)
row() {
	local m_off m_on ratio spread
	m_off=$(cut -d' ' -f"$2" "$tmp/off" | median)
	m_on=$(cut -d' ' -f"$2" "$tmp/on" | median)
	ratio=$(echo "$m_on $m_off" | awk '{printf "%.3f", $1 / $2}')
	spread=$(paste -d' ' "$tmp/on" "$tmp/off" | awk -v c="$2" -v n=$(( $(head -1 "$tmp/on" | wc -w) )) \
		'{ r = $c / $(n + c); if (NR == 1 || r < lo) lo = r; if (NR == 1 || r > hi) hi = r }
		 END { printf "%.3f..%.3f", lo, hi }')
	printf '  %-5s %9.1f ms without, %9.1f ms with   ratio %sx (per round %s)   target <= 1.10x: %s\n' \
		"$1" "$(echo "$m_off" | awk '{print $1 / 1000}')" "$(echo "$m_on" | awk '{print $1 / 1000}')" \
		"$ratio" "$spread" "$(awk -v r="$ratio" 'BEGIN {print (r <= 1.10) ? "met" : "MISSED"}')"
}
echo "${N}x $PROG from a bash loop, $ROUNDS rounds interleaved (medians)"
row wall 1
row cpu 2
