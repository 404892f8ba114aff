#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench_preload.sh: what libldmesh.so costs on the connect and name paths
# (issue 3, item 8). Run by hand, as root, after building:
#
#     cmake -S . -B build -DLDMESH_WERROR=ON && cmake --build build -j2
#     sudo tests/bench/bench_preload.sh            # ~1 minute
#
# Environment knobs:
#     LDMESH_BUILD   build directory (default <repo>/build)
#     ROUNDS=20      interleaved rounds
#     BATCH=2000     calls per series per round (ROUNDS*BATCH <= 100k/series)
#     CG_N=1000      calls measured under callgrind (0 skips callgrind)
#     EXTRA_SVCS=100 extra services in the table, so the indexes are not
#                    trivially tiny
#     BENCH_KEEP=1   keep the temp dir (callgrind outputs for
#                    callgrind_annotate --inclusive=yes FILE)
#
# What it measures, all in ONE run, side by side:
#   1. connect()+close() to a pod IP with no preload, vs. to the ClusterIP
#      with the preload (which redirects to that same pod IP and port):
#      same server, same port, same client binary. Target <= 1.05x.
#   2. connect()+close() to 127.0.0.1 (not a service) without and with the
#      preload loaded: the pass-through cost. Target <= 1.02x. (Row 2b, for
#      information: the pod IP dialled directly with the preload loaded.)
#   3. getaddrinfo("backend", "80", {AF_UNSPEC, SOCK_STREAM}) + freeaddrinfo:
#      from the preload's table, vs. without the preload from /etc/hosts (a
#      kubelet-style hosts file holding the name, bind-mounted over
#      /etc/hosts; nsswitch.conf bind-mounted with `hosts: files dns`, so it
#      is a files lookup; glibc re-checks /etc/resolv.conf and re-reads
#      /etc/hosts on every call, which is what an application without the
#      preload pays). Target: preload >= 5x faster.
#   4. callgrind: user-space instructions the preload adds to ONE connect()
#      to the ClusterIP (vs. a direct connect() to the pod IP), to one
#      pass-through connect(), to one close(), and the instructions of one
#      getaddrinfo+freeaddrinfo of a service name. Target <= 500 per connect.
#
# Method. The client (tests/bench/preload_client.c, compiled here with
# cc -O2) spawns two worker processes from the same binary, one plain and
# one with LD_PRELOAD=libldmesh.so, and alternates them in batches: every
# round runs every series once (forward on even rounds, backward on odd
# rounds), so drift and ordering cancel. Each call is timed alone with
# clock_gettime(CLOCK_MONOTONIC) around connect()+close() (socket() and a
# setsockopt(SO_LINGER {1,0}) precede it untimed; the linger makes close()
# send a RST, so no TIME_WAIT piles up on the 4-tuple). The client (driver
# and workers) is pinned to CPU 0, the accept-and-close server to CPU 1.
# Medians and p99 are over all ROUNDS*BATCH calls; the ratio is of the
# medians; "per-round" is the spread of the ratio of per-round medians.
# Under callgrind (--collect-atstart=no) collection is toggled on around the
# measured call only, after 50 warm-up calls (lazy binding, the first table
# map); callgrind counts guest user-space instructions only: kernel work
# (the syscalls themselves) is not in the figures. The cost of the toggles
# is measured (`cg nop`) and subtracted.
#
# Network safety: the script re-executes itself under `unshare --net
# --mount` (a private network and mount namespace) and refuses to go on
# unless `lo` is the only interface. The pod IP 10.244.1.5/32 is added to
# lo; the ClusterIP 10.96.0.10 stays unrouted (checked: without the
# preload a connect to it fails with ENETUNREACH). The only traffic is on
# that namespace's loopback. The table and manifests live in a temp dir
# (never /dev/shm/ldmesh); the agent runs with --once and exits; the server
# is killed by the EXIT trap and also exits on its own after 15 minutes.
# Exit 77 when the namespace cannot be made.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$BENCH_DIR/../.." && pwd)
LDMESH_BUILD=${LDMESH_BUILD:-$SRC/build}
AGENT=$LDMESH_BUILD/agent/ldmesh-agent
LIB=$LDMESH_BUILD/preload/libldmesh.so
ROUNDS=${ROUNDS:-20}
BATCH=${BATCH:-2000}
CG_N=${CG_N:-1000}
EXTRA_SVCS=${EXTRA_SVCS:-100}

VIP=10.96.0.10
VPORT=80
POD=10.244.1.5
PORT=8080
NAME=backend

unset LD_PRELOAD LDMESH_TABLE LDMESH_TRACE LDMESH_TRACE_FILE LDMESH_DISABLE \
	LDMESH_NAMESPACE LDMESH_RESOLV_CONF LOCALDOMAIN RES_OPTIONS \
	http_proxy https_proxy HTTP_PROXY HTTPS_PROXY 2>/dev/null || true

skip() { echo "SKIP: $*" >&2; exit 77; }
die() { echo "bench_preload: $*" >&2; exit 1; }

# ---------------------------------------------------------------- namespace
if [ "${LDMESH_BENCH_IN_NETNS:-}" != 1 ]; then
	[ "$(id -u)" = 0 ] || skip "must run as root (unshare --net --mount, mount --bind)"
	command -v unshare >/dev/null || skip "unshare(1) not installed"
	command -v ip >/dev/null || skip "ip(8) not installed (iproute2)"
	if [ ! -x "$AGENT" ] || [ ! -f "$LIB" ]; then die "build first: $AGENT / $LIB missing"; fi
	if ! err=$(unshare --net --mount true 2>&1); then
		skip "cannot create a network+mount namespace: ${err:-unshare failed}"
	fi
	export LDMESH_BENCH_IN_NETNS=1 LDMESH_BUILD
	exec unshare --net --mount --propagation private -- bash "$0" "$@"
fi

ifs=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' ')
[ "$ifs" = "lo " ] || die "refusing to run: interfaces other than lo are visible ($ifs)"
ip link set lo up
ip addr add "$POD/32" dev lo
if ip route get "$VIP" >/dev/null 2>&1; then
	die "refusing to run: $VIP is routable in this namespace"
fi
# per network namespace; RSTs already avoid TIME_WAIT, this is a backstop
sysctl -qw net.ipv4.tcp_tw_reuse=1 || true
sysctl -qw net.core.somaxconn=4096 || true

TMP=$(mktemp -d /tmp/ldmesh-bench.XXXXXX)
SERVER_PID=
AGENT_PID=
cleanup() {
	local p
	for p in $SERVER_PID $AGENT_PID; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	umount /etc/hosts /etc/resolv.conf /etc/nsswitch.conf 2>/dev/null || true
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench_preload: kept $TMP (callgrind.out files: callgrind_annotate)" >&2
	else
		chattr -R -i "$TMP" 2>/dev/null || true
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- client
CFLAGS_CG=
if [ -f /usr/include/valgrind/callgrind.h ]; then
	CFLAGS_CG=-DHAVE_CALLGRIND
fi
cc -O2 -Wall $CFLAGS_CG -o "$TMP/preload_client" "$BENCH_DIR/preload_client.c"
CLIENT=$TMP/preload_client

# ---------------------------------------------------------------- table
mkdir -p "$TMP/manifests" "$TMP/table"
cat >"$TMP/manifests/backend.yaml" <<EOF
apiVersion: v1
kind: Service
metadata: {name: $NAME, namespace: default}
spec:
  clusterIP: $VIP
  selector: {app: bench}
  ports:
  - {name: http, protocol: TCP, port: $VPORT, targetPort: $PORT}
---
apiVersion: v1
kind: Pod
metadata:
  name: backend-0
  namespace: default
  labels: {app: bench}
spec:
  nodeName: node-a
  containers:
  - {name: web, image: bench, ports: [{name: http, containerPort: $PORT}]}
status:
  phase: Running
  podIP: $POD
  podIPs: [{ip: $POD}]
  conditions:
  - {type: Ready, status: "True"}
EOF
for ((i = 0; i < EXTRA_SVCS; i++)); do
	cat <<EOF
---
apiVersion: v1
kind: Service
metadata: {name: other-$i, namespace: ns$((i % 7))}
spec:
  selector: {app: other-$i}
  ports:
  - {protocol: TCP, port: 80, targetPort: 8080}
EOF
done >"$TMP/manifests/others.yaml"
"$AGENT" --once --manifests "$TMP/manifests" --table "$TMP/table" >"$TMP/agent.log" 2>&1 ||
	{ cat "$TMP/agent.log" >&2; die "ldmesh-agent --once failed"; }
export LDMESH_TABLE=$TMP/table LDMESH_NAMESPACE=default

# ------------------------------------------------ resolver files (private mount ns)
cat >"$TMP/hosts" <<EOF
# Kubernetes-managed hosts file.
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
fe00::0	ip6-localnet
fe00::0	ip6-mcastprefix
fe00::1	ip6-allnodes
fe00::2	ip6-allrouters
10.244.9.9	client-7d9f8-xyz12
$VIP	$NAME $NAME.default.svc.cluster.local
EOF
cat >"$TMP/resolv.conf" <<EOF
search default.svc.cluster.local svc.cluster.local cluster.local
nameserver 127.0.0.1
options ndots:5
EOF
if [ -f /etc/nsswitch.conf ]; then
	sed 's/^hosts:.*/hosts:          files dns/' /etc/nsswitch.conf >"$TMP/nsswitch.conf"
	grep -q '^hosts:' "$TMP/nsswitch.conf" || echo 'hosts:          files dns' >>"$TMP/nsswitch.conf"
else
	echo 'hosts:          files dns' >"$TMP/nsswitch.conf"
	touch /etc/nsswitch.conf 2>/dev/null || die "no /etc/nsswitch.conf to mount over"
fi
mount --bind "$TMP/hosts" /etc/hosts
mount --bind "$TMP/resolv.conf" /etc/resolv.conf
mount --bind "$TMP/nsswitch.conf" /etc/nsswitch.conf
[ "$(grep '^hosts:' /etc/nsswitch.conf)" = "hosts:          files dns" ] || die "nsswitch.conf mount failed"

# ---------------------------------------------------------------- server
NCPU=$(nproc)
if [ "$NCPU" -ge 2 ]; then
	PIN_CLIENT="taskset -c 0"
	PIN_SERVER="taskset -c 1"
	PIN_NOTE="client pinned to CPU 0, server to CPU 1"
else
	PIN_CLIENT=
	PIN_SERVER=
	PIN_NOTE="one CPU: client and server share it (no pinning)"
fi
$PIN_SERVER "$CLIENT" server "$PORT" "$TMP/server.ready" &
SERVER_PID=$!
for ((i = 0; i < 100; i++)); do
	[ -e "$TMP/server.ready" ] && break
	sleep 0.05
done
[ -e "$TMP/server.ready" ] || die "server did not start"

# ---------------------------------------------------------------- output
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo "## libldmesh.so microbenchmark (tests/bench/bench_preload.sh)"
echo
echo "Machine: nproc=$NCPU, CPU \"$cpu\", kernel $(uname -r) ($(uname -m)), glibc $(getconf GNU_LIBC_VERSION | awk '{print $2}'), clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null || echo '?'); load average before the run $(cut -d" " -f1-3 /proc/loadavg); $PIN_NOTE; $ROUNDS rounds x $BATCH calls per series, interleaved; table: 1 + $EXTRA_SVCS services."
echo
# shellcheck disable=SC2086
$PIN_CLIENT "$CLIENT" bench "$LIB" "$ROUNDS" "$BATCH" "$VIP" "$POD" 127.0.0.1 \
	"$PORT" "$VPORT" "$NAME"

# ---------------------------------------------------------------- callgrind
if [ "$CG_N" -le 0 ]; then
	exit 0
fi
if ! command -v valgrind >/dev/null || [ -z "$CFLAGS_CG" ]; then
	echo
	echo "callgrind: skipped (valgrind or /usr/include/valgrind/callgrind.h missing; Debian package valgrind)"
	exit 0
fi

# cg TAG PRELOAD(0|1) ARGS...: total Ir collected, on stdout
cg() {
	local tag=$1 pre=$2 out
	shift 2
	out=$TMP/cg.$tag.out
	if [ "$pre" = 1 ]; then
		# shellcheck disable=SC2086
		LD_PRELOAD=$LIB $PIN_CLIENT valgrind --tool=callgrind --collect-atstart=no \
			--callgrind-out-file="$out" "$CLIENT" cg "$@" >"$TMP/cg.$tag.log" 2>&1
	else
		# shellcheck disable=SC2086
		$PIN_CLIENT valgrind --tool=callgrind --collect-atstart=no \
			--callgrind-out-file="$out" "$CLIENT" cg "$@" >"$TMP/cg.$tag.log" 2>&1
	fi || { cat "$TMP/cg.$tag.log" >&2; die "callgrind run $tag failed"; }
	awk '/^(summary|totals):/ {print $2; exit}' "$out"
}

N=$CG_N
ir_nop=$(cg nop 0 nop "$N")
ir_conn_direct=$(cg conn_direct 0 connect "$POD" "$PORT" "$N")
ir_conn_vip=$(cg conn_vip 1 connect "$VIP" "$VPORT" "$N")
ir_conn_lo=$(cg conn_lo 0 connect 127.0.0.1 "$PORT" "$N")
ir_conn_lo_pre=$(cg conn_lo_pre 1 connect 127.0.0.1 "$PORT" "$N")
ir_close_direct=$(cg close_direct 0 close "$POD" "$PORT" "$N")
ir_close_vip=$(cg close_vip 1 close "$VIP" "$VPORT" "$N")
ir_gai_files=$(cg gai_files 0 gai "$NAME" "$VPORT" "$N")
ir_gai_pre=$(cg gai_pre 1 gai "$NAME" "$VPORT" "$N")

# per call, toggles subtracted (a difference of two runs cancels them anyway)
per() { awk -v a="$1" -v b="$2" -v t="$ir_nop" -v n="$N" \
	'BEGIN { printf "%.1f", ((a - t) - (b - t)) / n }'; }
abs() { awk -v a="$1" -v t="$ir_nop" -v n="$N" 'BEGIN { printf "%.1f", (a - t) / n }'; }
verdict() { awk -v x="$1" -v lim="$2" 'BEGIN { print (x <= lim) ? "**MET**" : "**MISSED**" }'; }

add_vip=$(per "$ir_conn_vip" "$ir_conn_direct")
add_lo=$(per "$ir_conn_lo_pre" "$ir_conn_lo")
add_close=$(per "$ir_close_vip" "$ir_close_direct")
echo
echo "### callgrind: user-space instructions per call (N=$N measured calls after 50 warm-up calls; kernel work, i.e. the syscalls, is not counted by callgrind)"
echo
echo "| # | call | without preload | with preload | added by the preload | target | result |"
echo "|---|---|---|---|---|---|---|"
echo "| 4 | connect() to ClusterIP via preload vs. pod IP direct | $(abs "$ir_conn_direct") | $(abs "$ir_conn_vip") | **$add_vip** | <= 500 | $(verdict "$add_vip" 500) |"
echo "| 4a | connect() to 127.0.0.1 (pass-through) | $(abs "$ir_conn_lo") | $(abs "$ir_conn_lo_pre") | $add_lo | | |"
echo "| 4b | close() of that connected socket (VIP vs. direct) | $(abs "$ir_close_direct") | $(abs "$ir_close_vip") | $add_close | | |"
echo "| 4c | getaddrinfo(\"$NAME\")+freeaddrinfo: /etc/hosts vs. preload table (whole call, malloc/free included) | $(abs "$ir_gai_files") | $(abs "$ir_gai_pre") | $(awk -v a="$ir_gai_files" -v b="$ir_gai_pre" -v t="$ir_nop" 'BEGIN { printf "%.1fx fewer", (a - t) / (b - t) }') | | |"

# 4d/4e: the same connect when the current snapshot is a delta over a base
# (a running agent publishing an edit): first with the service still in the
# base (the delta holds another service: the lookup probes the delta's index
# first), then with the service itself in the delta.
CTL=$LDMESH_BUILD/agent/ldmeshctl
gen() { "$CTL" -t "$TMP/table" status 2>/dev/null | sed -n 's/^generation: *\([0-9]*\).*/\1/p'; }
# wait_delta GEN: until the current generation is > GEN and a delta (bounded, 10 s)
wait_delta() {
	local g
	for _ in $(seq 200); do
		g=$(gen)
		if [ "${g:-0}" -gt "$1" ] && "$CTL" -t "$TMP/table" status | grep -q "delta, base"; then
			echo "$g"
			return 0
		fi
		sleep 0.05
	done
	die "no delta published after generation $1: $(tail -3 "$TMP/agent.log")"
}
g0=$(gen)
"$AGENT" --manifests "$TMP/manifests" --table "$TMP/table" >>"$TMP/agent.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 200); do [ "$(gen)" -gt "$g0" ] && break; sleep 0.05; done
g1=$(gen)
sed -i '0,/targetPort: 8080}/s//targetPort: 8081}/' "$TMP/manifests/others.yaml"
g2=$(wait_delta "$g1")
ir_conn_vip_db=$(cg conn_vip_db 1 connect "$VIP" "$VPORT" "$N")
sed -i "s/  - {name: http, protocol: TCP, port: $VPORT, targetPort: $PORT}/&\n  - {name: extra, protocol: TCP, port: 81, targetPort: 8081}/" \
	"$TMP/manifests/backend.yaml"
wait_delta "$g2" >/dev/null
ir_conn_vip_dd=$(cg conn_vip_dd 1 connect "$VIP" "$VPORT" "$N")
echo "| 4d | connect() to ClusterIP, table a delta, service in the base | $(abs "$ir_conn_direct") | $(abs "$ir_conn_vip_db") | **$(per "$ir_conn_vip_db" "$ir_conn_direct")** | <= 500 | $(verdict "$(per "$ir_conn_vip_db" "$ir_conn_direct")" 500) |"
echo "| 4e | connect() to ClusterIP, table a delta, service in the delta | $(abs "$ir_conn_direct") | $(abs "$ir_conn_vip_dd") | **$(per "$ir_conn_vip_dd" "$ir_conn_direct")** | <= 500 | $(verdict "$(per "$ir_conn_vip_dd" "$ir_conn_direct")" 500) |"
echo
echo "(callgrind client-request toggles: $(awk -v t="$ir_nop" -v n="$N" 'BEGIN { printf "%.1f", t / n }') instructions per call pair, subtracted.)"
