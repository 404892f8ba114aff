#!/usr/bin/env bash
# The comparison benchmark (tests/bench/compare/run.sh) in its --smoke form:
# N <= 1,000, a few seconds, so the suite cannot rot. Checks that it ran and
# wrote its table, CSVs, machine line and plots; never asserts on timings.
# Skips (77) where the suite cannot run: not root, no network namespace,
# packages missing (iptables, nftables, dnsmasq-base, gnuplot-nox).
#
# Environment: LDMESH_BUILD (build dir), LDMESH_SRC (source dir).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LDMESH_SRC=${LDMESH_SRC:-$(cd "$HERE/../.." && pwd)}
LDMESH_BUILD=${LDMESH_BUILD:-$LDMESH_SRC/build}
export LDMESH_SRC LDMESH_BUILD

skip() { # CI (LDMESH_E2E_NO_SKIP=1) counts a skip as a failure
	if [ "${LDMESH_E2E_NO_SKIP:-0}" = 1 ]; then
		echo "FATAL: would skip, and LDMESH_E2E_NO_SKIP=1 forbids it: $*"
		exit 1
	fi
	echo "SKIP: $*"
	exit 77
}
[ "$(id -u)" -eq 0 ] || skip "the comparison benchmark needs root"

OUT=$(mktemp -d "${TMPDIR:-/tmp}/ldmesh-bench-smoke.XXXXXX")
trap 'chattr -R -i "$OUT" 2>/dev/null; rm -rf "$OUT"' EXIT

fails=0
ok() { printf 'ok - %s\n' "$*"; }
not_ok() { fails=$((fails + 1)); printf 'not ok - %s\n' "$*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

t0=$(date +%s)
# a backstop for a run that hangs, not a budget: ~15 s on a quiet 2-core
# machine, several times that beside busy loops (it hit a 120 s limit there)
timeout -k 5 "${LDMESH_BENCH_SMOKE_S:-960}" bash "$LDMESH_SRC/tests/bench/compare/run.sh" --smoke --out "$OUT" >"$OUT/log" 2>&1
rc=$?
if [ "$rc" -eq 77 ]; then
	grep -E '^(SKIP|bench-compare)|apt-get' "$OUT/log" | sed 's/^/# /'
	skip "$(grep -m1 '^SKIP:' "$OUT/log" | sed 's/^SKIP: //' || echo 'missing packages')"
fi
if [ "$rc" -ne 0 ]; then
	echo "not ok - run.sh --smoke exited $rc"
	tail -n 30 "$OUT/log" | sed 's/^# */# /; s/^/#   /'
	exit 1
fi
ok "run.sh --smoke finished in $(( $(date +%s) - t0 )) s"

md=$OUT/results.md csv=$OUT/results.csv
check "results.md written" test -s "$md"
check "results.csv written" test -s "$csv"
check "raw.csv written" test -s "$OUT/raw.csv"
check "machine.txt has the machine line" grep -q 'CPUs' "$OUT/machine.txt"
for s in "## 1. Connect" "## 2. Programming" "## 3. Bulk" "## 4. getaddrinfo" "## 5. Footprint" "## Targets"; do
	check "results.md has section '$s'" grep -qF "$s" "$md"
done
for n in 1 1000; do
	check "connect table has a row for N=$n" grep -qE "^\| $n \| [0-9.]+ / [0-9.]+ \| [0-9.]+ / [0-9.]+ \| [0-9.]+ / [0-9.]+ \| [0-9.]+ / [0-9.]+ \|" "$md"
done
for path in direct ldmesh nftables iptables; do
	for n in 1 1000; do
		check "results.csv: connect p50 for $path at N=$n" grep -qE "^connect,$path,$n,p50_us,[0-9.]+" "$csv"
		check "results.csv: requests/s for $path at N=$n" grep -qE "^rps,$path,$n,req_per_s,[0-9.]+" "$csv"
	done
	check "results.csv: bulk throughput for $path" grep -qE "^bulk,$path,1000,gbit_per_s,[0-9.]+" "$csv"
done
for path in ldmesh nftables iptables; do
	check "results.csv: programming latency for $path at N=1000" grep -qE "^program,$path,1000,ms,[0-9.]+" "$csv"
done
for path in ldmesh hosts dnsmasq; do
	check "results.csv: getaddrinfo for $path at N=1000" grep -qE "^resolve,$path,1000,p50_us,[0-9.]+" "$csv"
done
check "results.csv: DNS query counts" grep -qE "^dnsq,(plain|ldmesh),1000,external_queries," "$csv"
check "results.csv: snapshot bytes" grep -qE "^footprint,ldmesh,1000,snapshot_bytes,[0-9]+" "$csv"
check "a MET/MISSED verdict per target" test "$(grep -cE '\| (MET|MISSED) \|$' "$md")" -ge 8
for p in connect_latency requests_per_second programming_latency name_resolution bulk_throughput; do
	check "$p.png is a PNG" bash -c "head -c 8 '$OUT/$p.png' | od -An -tx1 | grep -q '89 50 4e 47'"
done
# nothing of ours may outlive the run
left=$(pgrep -f "$OUT/bin/" || true)
check "no benchmark process left behind" test -z "$left"

echo "# test_bench_smoke: $fails failed"
[ "$fails" -eq 0 ]
