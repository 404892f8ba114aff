#!/usr/bin/env bash
# ldmesh-sync's benchmark (tests/bench/bench_sync.sh) in its --smoke form:
# 200 Services and 200 EndpointSlices, 5 watch events, seconds, so the
# script cannot rot. Checks that it ran to the end and printed every
# figure; never asserts on a time or a size. Skips (77) where the
# benchmark does (no namespace, no C compiler).
#
# Environment: LDMESH_BUILD (build dir), LDMESH_SRC (source dir).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LDMESH_SRC=${LDMESH_SRC:-$(cd "$HERE/../.." && pwd)}
LDMESH_BUILD=${LDMESH_BUILD:-$LDMESH_SRC/build}
export LDMESH_SRC LDMESH_BUILD

OUT=$(mktemp "${TMPDIR:-/tmp}/ldmesh-bench-sync.XXXXXX")
trap 'rm -f "$OUT"' EXIT
fails=0
ok() { printf 'ok - %s\n' "$*"; }
not_ok() { fails=$((fails + 1)); printf 'not ok - %s\n' "$*"; }
row() { # the figure's row has a value: row "what" regex
	if grep -Eq -- "$2" "$OUT"; then ok "$1"; else not_ok "$1: no line matches /$2/"; fi
}

# a backstop for a hung run, not a budget (seconds on a quiet machine)
timeout -k 5 240 bash "$LDMESH_SRC/tests/bench/bench_sync.sh" --smoke >"$OUT" 2>&1
rc=$?
[ "$rc" -eq 77 ] && { grep -m1 '^SKIP' "$OUT"; exit 77; }
if [ "$rc" -ne 0 ]; then
	echo "not ok - bench_sync.sh --smoke exited $rc"
	tail -n 30 "$OUT" | sed 's/^/#   /'
	exit 1
fi
ok "bench_sync.sh --smoke ran to the end"
num='[0-9]+\.[0-9]+'
row "the fake's own time" "^\| fake alone: .* \| $num s \|$"
row "start -> marker" "^\| ldmesh-sync start -> marker written \| $num s \|$"
row "start -> complete table with every service and endpoint" \
	"^\| \*\*ldmesh-sync start -> complete table with all 200 services, 600 endpoints\*\* \| \*\*$num s\*\* \|$"
row "ldmesh-sync peak RSS and CPU" "^\| ldmesh-sync peak RSS \(VmHWM\) .* \| $num MB / $num s \($num user \+ $num sys\) \|$"
row "ldmesh-sync's time split" "^\| ldmesh-sync's time from its start .* \| on a CPU $num s, waiting for one $num s, of $num s \|$"
row "ldmesh-agent peak RSS and CPU" "^\| ldmesh-agent peak RSS \(VmHWM\) .* \| $num MB / $num s \($num user \+ $num sys\) \|$"
row "the folder holds one file per object" "^\| files in the folder \| 400 \|$"
row "ldmesh-sync steady state" "^\| steady state .*: ldmesh-sync .* \| $num MB \($num\) / $num s in $num s \|$"
row "ldmesh-agent steady state" "^\| steady state .*: ldmesh-agent .* \| $num MB \($num\) / $num s in $num s \|$"
row "watch latency over 5 events" "^\| watch event .* 5 events: median / p90 / max \| $num / $num / $num ms \|$"
echo "# test_bench_sync_smoke: $fails failed"
[ "$fails" -eq 0 ]
