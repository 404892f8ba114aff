#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench_first_connect.sh: what the FIRST connect to a ClusterIP costs a
# process, beyond its next one (issue 26, rows 1 and 2). Run by hand, as
# root, after building (never a timed CI test):
#
#     cmake -S . -B build -DLDMESH_WERROR=ON && cmake --build build -j2
#     sudo tests/bench/bench_first_connect.sh        # ~2 minutes
#
# Environment knobs:
#     LDMESH_BUILD  build directory (default <repo>/build)
#     LDMESH_LIB    the preload to measure (default its build; another
#                   build's, to compare before and after)
#     SVCS=100000   Services in the table (one endpoint each)
#     RUNS=9        processes (each: a fresh process, then a new generation)
#
# Method (issue 26's). The table lives on tmpfs, as /run/ldmesh does on a
# node. The real agent watches a folder of SVCS Services (10,000 a file). Each
# run starts a fresh process (tests/bench/first_client.c, LD_PRELOAD=
# libldmesh.so) that connects twice to a ClusterIP; 10.244.0.0/16 and
# 10.96.0.0/12 are local routes on lo, so the redirected connect is
# refused at once and only the preload's work is timed. Then the script
# writes a new file holding one Service; the agent publishes a delta; the
# process sees the control page's generation move and connects twice more.
# Rows: first minus second connect of the fresh process (and its VmRSS
# growth over the first connect), first minus second after the new
# generation; page faults of each connect (getrusage RUSAGE_THREAD). Each
# run looks up another Service, so no run reuses a key's pages from the last.
#
# Network safety: re-executes itself under `unshare --net --mount` and
# refuses to go on unless `lo` is the only interface; every address dialled
# is a local route on that namespace's lo. Exit 77 when the namespace
# cannot be made.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$BENCH_DIR/../.." && pwd)
LDMESH_BUILD=${LDMESH_BUILD:-$SRC/build}
AGENT=$LDMESH_BUILD/agent/ldmesh-agent
LIB=${LDMESH_LIB:-$LDMESH_BUILD/preload/libldmesh.so}
SVCS=${SVCS:-100000}
RUNS=${RUNS:-9}
# PRELOAD=0: the same runs without the preload (the floor: what a first
# connect costs a process, or one after a sleep, with no table at all)
PRELOAD=${PRELOAD:-1}
# WRAP="perf record -e page-faults -d -o /tmp/pf.data": a prefix to the
# client, to see where its faults are (then perf script -F ip,sym,addr)

die() { echo "bench_first_connect: $*" >&2; exit 1; }
skip() { echo "bench_first_connect: skipped: $*" >&2; exit 77; }

if [ "${LDMESH_BENCH_NS:-}" != 1 ]; then
	[ "$(id -u)" = 0 ] || skip "must run as root (unshare --net --mount, mount tmpfs)"
	command -v unshare >/dev/null || skip "unshare(1) not installed"
	if [ ! -x "$AGENT" ] || [ ! -f "$LIB" ]; then die "build first: $AGENT / $LIB missing"; fi
	if ! err=$(unshare --net --mount true 2>&1); then
		skip "cannot create a network+mount namespace: ${err:-unshare failed}"
	fi
	export LDMESH_BENCH_NS=1
	exec unshare --net --mount --propagation private -- bash "$0" "$@"
fi

ifs=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' ')
[ "$ifs" = "lo " ] || die "refusing to run: interfaces other than lo are visible ($ifs)"
ip link set lo up
ip route add local 10.244.0.0/16 dev lo table local
ip route add local 10.96.0.0/12 dev lo table local

TMP=$(mktemp -d /tmp/ldmesh-first.XXXXXX)
mount -t tmpfs -o mode=0755 tmpfs "$TMP"
AGENT_PID=
cleanup() {
	if [ -n "$AGENT_PID" ]; then kill "$AGENT_PID" 2>/dev/null || true; wait "$AGENT_PID" 2>/dev/null || true; fi
	umount "$TMP" 2>/dev/null || true
	rmdir "$TMP" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cc -O2 -Wall -I "$SRC/include" -o "$TMP/first_client" "$BENCH_DIR/first_client.c"

# Service i: ClusterIP 10.96.0.0 + i + 1, one endpoint 10.244.x.y
svc_yaml() { # FIRST COUNT
	awk -v first="$1" -v n="$2" 'BEGIN {
	for (i = first; i < first + n; i++) {
		c = i + 1; p = i % 65534 + 1
		printf "---\napiVersion: v1\nkind: Service\nmetadata: {name: svc-%d, namespace: ns-%d}\n", i, i % 100
		printf "spec:\n  clusterIP: 10.%d.%d.%d\n  ports: [{name: http, port: 80, targetPort: 8080}]\n", 96 + int(c / 65536), int(c / 256) % 256, c % 256
		printf "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
		printf "metadata: {name: svc-%d-abcde, namespace: ns-%d, labels: {kubernetes.io/service-name: svc-%d}}\n", i, i % 100, i
		printf "addressType: IPv4\nports: [{name: http, port: 8080, protocol: TCP}]\nendpoints:\n"
		printf "- addresses: [\"10.244.%d.%d\"]\n  conditions: {ready: true}\n", int(p / 256), p % 256
	} }'
}
vip_of() { local c=$(($1 + 1)); echo "10.$((96 + c / 65536)).$((c / 256 % 256)).$((c % 256))"; }

mkdir -p "$TMP/manifests" "$TMP/table"
# 10,000 a file: a manifest may hold 32 MB at most
for ((f = 0; f < SVCS; f += 10000)); do
	svc_yaml "$f" $((SVCS - f < 10000 ? SVCS - f : 10000)) >"$TMP/manifests/services-$f.yaml"
done
"$AGENT" --state none --manifests "$TMP/manifests" --table "$TMP/table" >"$TMP/agent.log" 2>&1 &
AGENT_PID=$!
for ((k = 0; k < 1200; k++)); do
	grep -q "published generation .*: $SVCS services" "$TMP/agent.log" && break
	kill -0 "$AGENT_PID" 2>/dev/null || { cat "$TMP/agent.log" >&2; die "agent exited"; }
	sleep 0.1
done
grep -q "published generation .*: $SVCS services" "$TMP/agent.log" || die "agent did not publish $SVCS services in 120 s"
grep "published generation" "$TMP/agent.log" | tail -1
export LDMESH_TABLE=$TMP/table

echo "# first connect, $SVCS Services, $(nproc) CPUs, $(uname -r), $(date -u +%FT%TZ), $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "# run fresh_first fresh_second idle_first idle_second switch_first switch_second (us) rss_growth_kB of_it_file_kB faults(fresh 1,2 idle 1 switch 1,2) new_gen"
for ((r = 0; r < RUNS; r++)); do
	i=$(((r * 7919 + 12345) % SVCS))
	pre=$LIB
	[ "$PRELOAD" = 1 ] || pre=
	# shellcheck disable=SC2086 # WRAP: a command prefix to profile with
	coproc CL { LD_PRELOAD=$pre exec ${WRAP:-} "$TMP/first_client" "$TMP/table" "$(vip_of "$i")" 80; }
	read -r -t 30 ready <&"${CL[0]}" || die "client not ready"
	[ "$ready" = ready ] || die "client said: $ready"
	echo go >&"${CL[1]}"
	read -r -t 30 ready <&"${CL[0]}" || die "client not idle"
	[ "$ready" = idle ] || die "client said: $ready"
	svc_yaml $((SVCS + r)) 1 >"$TMP/manifests/.new-$r.yaml"
	mv "$TMP/manifests/.new-$r.yaml" "$TMP/manifests/new-$r.yaml"
	echo go >&"${CL[1]}"
	read -r -t 40 line <&"${CL[0]}" || die "client gave no result"
	wait "$CL_PID" || true
	echo "$r $line"
done
grep "published generation" "$TMP/agent.log" | tail -1
ls -l "$TMP"/table/snap.*
