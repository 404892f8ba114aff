#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench_exec.sh: what ldmesh-exec costs a connect (issue 10). Run by hand, as
# root, after building:
#
#     cmake -S . -B build && cmake --build build -j2
#     tests/bench/bench_exec.sh            # ~1 minute
#
# Knobs: LDMESH_BUILD (default <repo>/build), LDMESH_EXEC (default
# $LDMESH_BUILD/exec/ldmesh-exec: another build to compare), ROUNDS=9, BATCH=2000.
#
# Four series, interleaved round by round in one run (the order reversed
# every other round), client on CPU 0 and server on CPU 1 (taskset), same
# client binary (exec_client.c), same accept-and-close server:
#   direct       connect+close to the pod IP, no ldmesh
#   redirected   connect+close to the ClusterIP under ldmesh-exec (the
#                supervisor picks that same pod and port)
#   pod-exec     connect+close to the pod IP under ldmesh-exec: no VIP, the
#                pass-through cost
#   floor        the pod IP under exec_floor.c, a supervisor that answers
#                every connect CONTINUE reading nothing: the notification
#                round trip alone, under anything ldmesh-exec can do
#   floor2       the same with two receivers waiting, as ldmesh-exec keeps
#                (every notification wakes both; one goes back to sleep)
# Goals (issue 26): redirected <= 1.5x direct, pass-through <= 1.3x.
# Printed: the median over rounds of each round's median, and the range.
#
# Network safety: everything runs inside a private network namespace made
# here (unshare --net); the pod IP lives on its loopback.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${LDMESH_BUILD:-$src/build}
ROUNDS=${ROUNDS:-9}
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
cc -O2 -o "$tmp/exec_floor" "$src/tests/bench/exec_floor.c" -lpthread
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
exec_=${LDMESH_EXEC:-$build/exec/ldmesh-exec}
run() { # series -> "median mean"
	case $1 in
	direct) taskset -c 0 "$tmp/exec_client" 10.244.1.5 9100 "$BATCH" ;;
	redirected) taskset -c 0 "$exec_" "$tmp/exec_client" 10.96.0.80 9000 "$BATCH" ;;
	pod-exec) taskset -c 0 "$exec_" "$tmp/exec_client" 10.244.1.5 9100 "$BATCH" ;;
	floor) taskset -c 0 "$tmp/exec_floor" "$tmp/exec_client" 10.244.1.5 9100 "$BATCH" ;;
	floor2) EXEC_FLOOR_RECEIVERS=2 taskset -c 0 "$tmp/exec_floor" "$tmp/exec_client" 10.244.1.5 9100 "$BATCH" ;;
	esac
}
series=(direct redirected pod-exec floor floor2)
declare -A med
for r in $(seq "$ROUNDS"); do
	order=("${series[@]}")
	[ $((r % 2)) = 0 ] && order=(floor2 floor pod-exec redirected direct)
	for s in "${order[@]}"; do
		med[$s]+="$(run "$s" | awk '{print $1}') "
	done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
range() { tr ' ' '\n' | grep . | sort -g | awk 'NR==1{lo=$1} {hi=$1} END {print lo "-" hi}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
d=$(echo "${med[direct]}" | median); x=$(echo "${med[redirected]}" | median)
p=$(echo "${med[pod-exec]}" | median); f=$(echo "${med[floor]}" | median)
f2=$(echo "${med[floor2]}" | median)
echo "| series | us per connect+close: median of $ROUNDS rounds x $BATCH (range of the rounds) | ratio to direct |"
echo "|---|---|---|"
echo "| direct to the pod | $d ($(echo "${med[direct]}" | range)) | 1.00 |"
echo "| ClusterIP under ldmesh-exec | $x ($(echo "${med[redirected]}" | range)) | $(ratio "$x" "$d") |"
echo "| pod address under ldmesh-exec (pass-through) | $p ($(echo "${med[pod-exec]}" | range)) | $(ratio "$p" "$d") |"
echo "| pod address under exec_floor (round trip alone) | $f ($(echo "${med[floor]}" | range)) | $(ratio "$f" "$d") |"
echo "| the same, two receivers waiting | $f2 ($(echo "${med[floor2]}" | range)) | $(ratio "$f2" "$d") |"
echo
echo "beyond the floor: redirect $(awk -v x="$x" -v f="$f" 'BEGIN{printf "%.2f", x-f}') us," \
	"pass-through $(awk -v p="$p" -v f="$f" 'BEGIN{printf "%.2f", p-f}') us" \
	"($(awk -v p="$p" -v f="$f2" 'BEGIN{printf "%.2f", p-f}') beyond two receivers);" \
	"round trip $(awk -v f="$f" -v d="$d" 'BEGIN{printf "%.2f", f-d}') us"
