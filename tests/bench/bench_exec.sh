#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench_exec.sh: what ldmesh-exec costs a connect (issue 10). Run by hand, as
# root, after building:
#
#     cmake -S . -B build && cmake --build build -j2
#     tests/bench/bench_exec.sh            # ~1 minute
#
# Knobs: LDMESH_BUILD (default <repo>/build), ROUNDS=10, BATCH=2000.
#
# Four series, interleaved round by round in one run, same client binary
# (exec_client.c), same accept-and-close server:
#   direct       connect+close to the pod IP, no ldmesh
#   redirected   connect+close to the ClusterIP under ldmesh-exec (the
#                supervisor picks that same pod and port)
#   lo           connect+close to 127.0.0.1, no ldmesh
#   lo-exec      the same under ldmesh-exec: the pass-through cost
# Goals: redirected <= 1.5x direct, pass-through <= 1.3x. The breakdown:
# lo-exec - lo is the notification round trip (the kernel stops the call,
# the supervisor reads the address, looks it up, answers CONTINUE);
# redirected - direct - (lo-exec - lo) is the redirect's own work (a copy of
# the program's descriptor, its type, the pick, the connect made for it).
#
# Network safety: everything runs inside a private network namespace made
# here (unshare --net); the pod IP lives on its loopback.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${LDMESH_BUILD:-$src/build}
ROUNDS=${ROUNDS:-10}
BATCH=${BATCH:-2000}

if [ "${BENCH_IN_NETNS:-}" != 1 ]; then
	[ "$(id -u)" = 0 ] || { echo "bench_exec: run as root (unshare --net)"; exit 77; }
	export BENCH_IN_NETNS=1
	exec unshare --net -- bash "$0" "$@"
fi
ip link set lo up
ip addr add 10.244.1.5/32 dev lo

tmp=$(mktemp -d /tmp/ldmesh-bench-exec.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	chattr -R -i "$tmp" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

cc -O2 -o "$tmp/exec_client" "$src/tests/bench/exec_client.c"
cc -O2 -o "$tmp/preload_client" "$src/tests/bench/preload_client.c"
taskset -c 1 "$tmp/preload_client" server 9100 "$tmp/ready" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -e "$tmp/ready" ] && break; sleep 0.05; done

mkdir -p "$tmp/m"
cat >"$tmp/m/web.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {clusterIP: 10.96.0.80, ports: [{name: tcp, port: 9000, targetPort: 9100}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: tcp, port: 9100, protocol: TCP}]
endpoints:
- addresses: [10.244.1.5]
  conditions: {ready: true}
YAML
"$build/agent/ldmesh-agent" --once -m "$tmp/m" -t "$tmp/table" >/dev/null 2>&1
export LDMESH_TABLE=$tmp/table
exec_=$build/exec/ldmesh-exec
run() { # series -> "median mean"
	case $1 in
	direct) taskset -c 0 "$tmp/exec_client" 10.244.1.5 9100 "$BATCH" ;;
	redirected) taskset -c 0 "$exec_" "$tmp/exec_client" 10.96.0.80 9000 "$BATCH" ;;
	lo) taskset -c 0 "$tmp/exec_client" 127.0.0.1 9100 "$BATCH" ;;
	lo-exec) taskset -c 0 "$exec_" "$tmp/exec_client" 127.0.0.1 9100 "$BATCH" ;;
	esac
}
series=(direct redirected lo lo-exec)
declare -A med
for r in $(seq "$ROUNDS"); do
	order=("${series[@]}")
	[ $((r % 2)) = 0 ] && order=(lo-exec lo redirected direct)
	for s in "${order[@]}"; do
		med[$s]+="$(run "$s" | awk '{print $1}') "
	done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
d=$(echo "${med[direct]}" | median); x=$(echo "${med[redirected]}" | median)
l=$(echo "${med[lo]}" | median); le=$(echo "${med[lo-exec]}" | median)
echo "| series | median us per connect+close (median of $ROUNDS rounds x $BATCH) | ratio |"
echo "|---|---|---|"
echo "| direct to the pod | $d | 1.00 |"
echo "| ClusterIP under ldmesh-exec | $x | $(awk -v a="$x" -v b="$d" 'BEGIN{printf "%.2f", a/b}') |"
echo "| 127.0.0.1 | $l | 1.00 |"
echo "| 127.0.0.1 under ldmesh-exec (pass-through) | $le | $(awk -v a="$le" -v b="$l" 'BEGIN{printf "%.2f", a/b}') |"
echo
echo "breakdown: notification round trip $(awk -v a="$le" -v b="$l" 'BEGIN{printf "%.2f", a-b}') us;" \
	"redirect work beyond it $(awk -v x="$x" -v d="$d" -v le="$le" -v l="$l" 'BEGIN{printf "%.2f", x-d-(le-l)}') us"
