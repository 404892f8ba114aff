# shellcheck shell=bash
# Shared helpers for the end-to-end tests (tests/e2e/test_*.sh).
#
# A test script does:
#     . "$(dirname "$0")/lib.sh"
#     e2e_netns "$@"          # re-exec inside a private network namespace
#     e2e_setup               # temp dir, resolv.conf, cleanup trap
#     ...
#     e2e_done                # summary; exit 1 if any check failed
#
# Network safety: e2e_netns re-executes the script under `unshare --net`
# (falling back to an unprivileged user+net namespace) and refuses to go on
# unless the only interface in sight is `lo`. Pod IPs are added to `lo` as
# /32; ClusterIPs (10.96.0.0/12) stay unrouted, so only the preload reaches
# them and without it a connect fails with ENETUNREACH. If no namespace can
# be made the test is skipped (exit 77), never run outside one.
#
# Environment: LDMESH_BUILD (build dir), LDMESH_SRC (source dir); both
# default to ../../build and ../.. relative to this file.

set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LDMESH_SRC=${LDMESH_SRC:-$(cd "$E2E_DIR/../.." && pwd)}
LDMESH_BUILD=${LDMESH_BUILD:-$LDMESH_SRC/build}
AGENT=$LDMESH_BUILD/agent/ldmesh-agent
CTL=$LDMESH_BUILD/agent/ldmeshctl
LIB=$LDMESH_BUILD/preload/libldmesh.so
MUSL_LIB=$LDMESH_BUILD/preload/libldmesh-musl.so # built where musl-gcc is
EXEC=$LDMESH_BUILD/exec/ldmesh-exec
# An ASan build's preload needs the ASan runtime loaded before it (tests/run.sh
# sets LDMESH_ASAN_RUNTIME to gcc's libasan.so for that pass).
PRELOAD=${LDMESH_ASAN_RUNTIME:+$LDMESH_ASAN_RUNTIME:}$LIB

# Nothing here may reach a proxy: curl and urllib must dial what we say.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy \
	no_proxy NO_PROXY LD_PRELOAD LDMESH_TABLE LDMESH_TRACE LDMESH_TRACE_FILE \
	LDMESH_DISABLE LOCALDOMAIN RES_OPTIONS 2>/dev/null || true

E2E_NAME=$(basename "${0%.sh}")
E2E_FAILS=0
E2E_OKS=0
E2E_PIDS=()
E2E_T0=$(date +%s%N)

e2e_log() { printf '# %s\n' "$*"; }

# ---- waiting -----------------------------------------------------------------
# Every wait in the e2e tests goes through e2e_wait: it returns as soon as the
# state holds, so a quiet machine is fast, and gives up only after a deadline
# generous enough for a loaded one. A test asserts what happened, never how
# fast: a wait that times out fails the check that needed the state.
#
#   e2e_wait [-t SECONDS] CMD [ARGS...]
#
# Runs CMD until it succeeds: 0 as soon as it does, 1 once SECONDS have
# passed (default LDMESH_E2E_WAIT_S, 60) without it. CMD runs at least once,
# and once more after the deadline, so a slow poll cannot lose the state it
# was about to see. Use -t only for a grace period that is not about the
# state (cleanup's SIGTERM before SIGKILL), never to make a wait shorter.
E2E_WAIT_S=${LDMESH_E2E_WAIT_S:-60}
e2e_wait() {
	local limit=$E2E_WAIT_S end
	if [ "${1:-}" = -t ]; then limit=$2; shift 2; fi
	end=$((SECONDS + limit))
	while [ "$SECONDS" -lt "$end" ]; do
		"$@" && return 0
		sleep 0.05
	done
	"$@"
}
# Conditions to wait for, for e2e_wait: a process gone, a file's line count
# past a mark (`e2e_lines_past FILE N REGEX`: more than N lines match).
e2e_gone() { ! kill -0 "$1" 2>/dev/null; }
e2e_lines_past() { [ "$(grep -cE -- "$3" "$1" 2>/dev/null || true)" -gt "$2" ]; }

# CI sets LDMESH_E2E_NO_SKIP=1 (.ci/run): there a test that cannot run
# (no namespaces, a missing tool) is a failure, not a pass that ran nothing.
e2e_skip() {
	if [ "${LDMESH_E2E_NO_SKIP:-0}" = 1 ]; then
		echo "FATAL: would skip, and LDMESH_E2E_NO_SKIP=1 forbids it: $*"
		exit 1
	fi
	echo "SKIP: $*"
	exit 77
}

e2e_die() {
	echo "FATAL: $*" >&2
	exit 1
}

# Re-execute the calling script in a private mount namespace, so it can
# mount its own files over /etc (resolv.conf, hosts) or a /proc of its own
# without touching the host's. Call before e2e_netns.
e2e_mountns() {
	[ "${LDMESH_E2E_IN_MOUNTNS:-}" = 1 ] && return 0
	unshare --mount true 2>/dev/null || e2e_skip "cannot create a mount namespace"
	export LDMESH_E2E_IN_MOUNTNS=1
	exec unshare --mount -- bash "$0" "$@"
}

# Re-execute the calling script inside a fresh network namespace.
e2e_netns() {
	if [ "${LDMESH_E2E_IN_NETNS:-}" != 1 ]; then
		local err how=""
		command -v unshare >/dev/null || e2e_skip "cannot create a network namespace: unshare(1) not installed"
		command -v ip >/dev/null || e2e_skip "cannot create a network namespace: ip(8) not installed (iproute2)"
		# --pid --fork --kill-child: if the test dies (ctest timeout), the
		# kernel ends every server and client left in its namespace
		if err=$(unshare --net --pid --fork --kill-child true 2>&1); then
			how="unshare --net --pid --fork --kill-child"
		elif unshare --user --map-root-user --net --pid --fork --kill-child true 2>/dev/null; then
			how="unshare --user --map-root-user --net --pid --fork --kill-child"
		else
			e2e_skip "cannot create a network namespace: ${err:-unshare --net failed}"
		fi
		export LDMESH_E2E_IN_NETNS=1 LDMESH_SRC LDMESH_BUILD
		# shellcheck disable=SC2086
		exec $how -- bash "$0" "$@"
	fi
	# inside: make sure this really is a private namespace with only lo
	local ifs
	ifs=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' ')
	[ "$ifs" = "lo " ] || e2e_die "refusing to run: interfaces other than lo are visible ($ifs)"
	ip link set lo up
	if ip route get 10.96.0.10 >/dev/null 2>&1; then
		e2e_die "refusing to run: 10.96.0.0/12 is routable in this namespace"
	fi
}

e2e_cleanup() {
	local pid
	set +e
	for pid in "${E2E_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${E2E_PIDS[@]}"; do
		# bounded: SIGKILL whatever ignored SIGTERM for 2 s
		e2e_wait -t 2 e2e_gone "$pid"
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [ -n "${E2E_TMP:-}" ] && [ -d "$E2E_TMP" ]; then
		if [ "$E2E_FAILS" -gt 0 ] && [ -f "$E2E_TMP/agent.log" ]; then
			echo "--- agent log (last 20 lines)"; tail -n 20 "$E2E_TMP/agent.log"
		fi
		# published snapshots are immutable: lift that to remove them
		chattr -R -i "$E2E_TMP" 2>/dev/null
		rm -rf "$E2E_TMP"
	fi
}

# Temp dir ($E2E_TMP), table path ($TABLE), manifest dir ($MANIFESTS), a
# Kubernetes-style resolv.conf ($RESOLV), the python interpreter ($PY).
e2e_setup() {
	[ -x "$AGENT" ] && [ -x "$CTL" ] && [ -f "$LIB" ] ||
		e2e_die "build first: missing $AGENT, $CTL or $LIB (LDMESH_BUILD=$LDMESH_BUILD)"
	command -v python3 >/dev/null || e2e_skip "python3 not installed"
	PY=$(python3 -c 'import sys; print(sys.executable)')
	E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ldmesh-e2e.XXXXXX")
	trap e2e_cleanup EXIT
	trap 'exit 130' INT TERM
	TABLE=$E2E_TMP/table
	MANIFESTS=$E2E_TMP/manifests
	RESOLV=$E2E_TMP/resolv.conf
	mkdir -p "$MANIFESTS"
	cat >"$RESOLV" <<-EOF
	search default.svc.cluster.local svc.cluster.local cluster.local
	options ndots:5
	EOF
}

# Cluster DNS, as a pod sees it: a Kubernetes resolv.conf ($RESOLV: search
# <ns>.svc.cluster.local svc.cluster.local cluster.local, ndots:5) mounted
# over /etc/resolv.conf, and dnsmasq on 127.0.0.1:53 answering cluster.local
# itself (NXDOMAIN unless an argument says otherwise, as CoreDNS) and
# logging every query to $E2E_TMP/dns.log. Arguments go to dnsmasq
# (--address=..., --host-record=...). Needs e2e_mountns; returns once the
# server has started.
e2e_cluster_dns() {
	command -v dnsmasq >/dev/null || e2e_skip "dnsmasq not installed (dnsmasq-base)"
	printf 'search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 127.0.0.1\noptions ndots:5 attempts:1 timeout:1\n' >"$RESOLV"
	mount --bind "$RESOLV" /etc/resolv.conf
	dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
		--listen-address=127.0.0.1 --bind-interfaces --port=53 --local=/cluster.local/ \
		--log-queries --log-facility="$E2E_TMP/dns.log" "$@" >/dev/null 2>&1 &
	e2e_track $!
	# its first log lines are written once it listens
	e2e_wait test -s "$E2E_TMP/dns.log" || e2e_die "dnsmasq did not start"
}

# ldmesh-exec built and able to supervise here (seccomp user notification);
# skipped with its own reason otherwise. After e2e_setup.
e2e_need_exec() {
	[ -x "$EXEC" ] || e2e_die "build first: missing $EXEC"
	"$EXEC" true 2>"$E2E_TMP/probe.err" ||
		e2e_skip "ldmesh-exec cannot run here: $(cat "$E2E_TMP/probe.err")"
}

# Track a background process for cleanup: `cmd & e2e_track $!`
e2e_track() { E2E_PIDS+=("$1"); }

e2e_add_ip() {
	local ip
	for ip in "$@"; do ip addr add "$ip/32" dev lo; done
}

# Run a command under the preload, pod-style environment.
pl() {
	env LD_PRELOAD="$PRELOAD" LDMESH_TABLE="$TABLE" LDMESH_RESOLV_CONF="$RESOLV" \
		LDMESH_NAMESPACE=default "$@"
}

# Wait (e2e_wait) until a file exists.
e2e_wait_file() { e2e_wait test -e "$1"; }

# A pod: a server bound to IP:PORT answering with its own IP.
#   e2e_pod IP PORT [banner|http]
e2e_pod() {
	local ip=$1 port=$2 mode=${3:-banner} ready=$E2E_TMP/ready.$1.$2
	"$PY" "$E2E_DIR/podserver.py" "$mode" "$ip" "$port" "$ready" \
		>>"$E2E_TMP/pods.log" 2>&1 &
	e2e_track $!
	e2e_wait_file "$ready" || e2e_die "pod server $ip:$port did not start"
}

# The table's generation, or 0 when there is none yet.
e2e_gen() {
	"$CTL" -t "$TABLE" -o json status 2>/dev/null |
		sed -n 's/.*"generation":\([0-9]*\).*/\1/p' | head -n1 | grep . || echo 0
}

# Wait (e2e_wait) until the published generation is > $1; prints it.
e2e_gen_after() { E2E_GEN=$(e2e_gen); [ "$E2E_GEN" -gt "$1" ]; }
e2e_wait_gen_after() { e2e_wait e2e_gen_after "$1" && echo "$E2E_GEN"; }

# Start the agent watching $MANIFESTS into $TABLE; wait for generation 1.
e2e_agent() {
	"$AGENT" -m "$MANIFESTS" -t "$TABLE" "$@" >>"$E2E_TMP/agent.log" 2>&1 &
	E2E_AGENT_PID=$!
	e2e_track "$E2E_AGENT_PID"
	e2e_wait_gen_after 0 >/dev/null || e2e_die "agent published nothing: $(tail -5 "$E2E_TMP/agent.log")"
}

# Whether the agent's metrics answer on 127.0.0.1:$1 (for e2e_wait).
e2e_metrics_up() {
	$PY -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$1/metrics', timeout=2)" \
		2>/dev/null
}

# A service's ClusterIP as ldmeshctl reports it (independent of the preload).
e2e_cluster_ip() {
	LDMESH_NAMESPACE=default "$CTL" -t "$TABLE" resolve "$1" | awk 'NR == 2 { print $1 }'
}

# Replace a manifest atomically (write elsewhere, rename into place).
e2e_put() {
	local name=$1
	cat >"$E2E_TMP/put.tmp"
	mv "$E2E_TMP/put.tmp" "$MANIFESTS/$name"
}

# Service default/web (10.96.0.80:9000 -> 9100/tcp, or the port in
# E2E_WEB_PORT) with one EndpointSlice listing the given pod IPs, ready,
# on stdout: e2e_web_yaml IP...
e2e_web_yaml() {
	local ip port=${E2E_WEB_PORT:-9100}
	cat <<YAML
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: 10.96.0.80
  ports: [{name: tcp, port: 9000, targetPort: $port}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-x1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: tcp, port: $port, protocol: TCP}]
endpoints:
YAML
	for ip in "$@"; do
		printf -- '- addresses: [%s]\n  conditions: {ready: true}\n' "$ip"
	done
}

# Service default/NAME (CLUSTERIP:9000 -> 9100/tcp) with one EndpointSlice
# listing the given pod IPs, ready, as one more YAML document on stdout
# (several concatenate into one manifest): e2e_svc_yaml NAME CLUSTERIP IP...
e2e_svc_yaml() {
	local name=$1 vip=$2 ip
	shift 2
	cat <<YAML
---
apiVersion: v1
kind: Service
metadata: {name: $name, namespace: default}
spec: {clusterIP: $vip, ports: [{name: tcp, port: 9000, targetPort: 9100}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: $name-1, namespace: default, labels: {kubernetes.io/service-name: $name}}
addressType: IPv4
ports: [{name: tcp, port: 9100, protocol: TCP}]
endpoints:
YAML
	for ip in "$@"; do printf -- '- addresses: [%s]\n  conditions: {ready: true}\n' "$ip"; done
}

# The same as the manifest web.yaml: e2e_put_web IP...
e2e_put_web() { e2e_web_yaml "$@" | e2e_put web.yaml; }

# Service kube-system/kube-dns (ClusterIP 10.96.0.10, 53 UDP and TCP) with
# the given pod IPs as its ready endpoints (none: no endpoint): the cluster
# DNS as a pod's resolv.conf names it. e2e_put_kube_dns IP...
e2e_put_kube_dns() {
	{
		printf 'apiVersion: v1\nkind: Service\nmetadata: {name: kube-dns, namespace: kube-system}\n'
		printf 'spec:\n  clusterIP: 10.96.0.10\n  ports:\n'
		printf '  - {name: dns, port: 53, targetPort: 53, protocol: UDP}\n'
		printf '  - {name: dns-tcp, port: 53, targetPort: 53, protocol: TCP}\n---\n'
		printf 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n'
		printf 'metadata: {name: kube-dns-1, namespace: kube-system, labels: {kubernetes.io/service-name: kube-dns}}\n'
		printf 'addressType: IPv4\nports: [{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53, protocol: TCP}]\nendpoints:\n'
		for ip in "$@"; do printf -- '- addresses: [%s]\n  conditions: {ready: true}\n' "$ip"; done
	} | e2e_put dns.yaml
}

# Pods answering on IP:9100 (banner or http servers) behind Service
# default/web (e2e_put_web), and the agent publishing it: e2e_web MODE IP...
e2e_web() {
	local mode=$1 ip
	shift
	e2e_add_ip "$@"
	for ip in "$@"; do e2e_pod "$ip" 9100 "$mode"; done
	e2e_put_web "$@"
	e2e_agent
}

# A long-lived client under the preload (pyclient.py rounds): started with
# e2e_rounds HOST PORT N, it makes N connects each time e2e_round K asks
# and writes the answers to $E2E_ROUNDS/out.K; $E2E_ROUNDS_PID is its pid.
e2e_rounds() {
	E2E_ROUNDS=$E2E_TMP/rounds
	mkdir -p "$E2E_ROUNDS"
	pl "$PY" "$E2E_DIR/pyclient.py" rounds "$1" "$2" "$3" "$E2E_ROUNDS" 900 \
		>"$E2E_TMP/rounds.log" 2>&1 &
	E2E_ROUNDS_PID=$!
	e2e_track "$E2E_ROUNDS_PID"
}
e2e_round() { # k: run round k, wait for its output (e2e_wait)
	touch "$E2E_ROUNDS/go.$1"
	e2e_wait_file "$E2E_ROUNDS/out.$1" || { not_ok "round $1 produced nothing"; return 1; }
}

# Compile a C helper from tests/e2e into $E2E_TMP (`e2e_cc NAME [LINKER ARGS]`);
# prints the binary path.
e2e_cc() {
	local src=$E2E_DIR/$1.c out=$E2E_TMP/$1
	command -v cc >/dev/null || e2e_skip "no C compiler for $1.c"
	cc -O1 -Wall -Wextra -Werror -pthread -o "$out" "$src" "${@:2}" || e2e_die "cannot compile $src"
	echo "$out"
}

# Build tests/e2e/goclient into $E2E_TMP/go-KIND: e2e_goclient KIND
# CGO_ENABLED [go build flags...] (the build cache lives in the build
# folder, so a second run takes seconds).
e2e_goclient() {
	local kind=$1 cgo=$2
	shift 2
	export GOCACHE=$LDMESH_BUILD/go-cache GOPATH=$LDMESH_BUILD/go-path GO111MODULE=off GOFLAGS=
	export HOME=${HOME:-$E2E_TMP}
	mkdir -p "$GOCACHE" "$GOPATH"
	CGO_ENABLED=$cgo go build "$@" -o "$E2E_TMP/go-$kind" "$E2E_DIR/goclient/main.go" ||
		e2e_die "cannot build the $kind Go client"
}

# ---- checks ----------------------------------------------------------------

ok() { E2E_OKS=$((E2E_OKS + 1)); printf 'ok - %s\n' "$*"; }
not_ok() { E2E_FAILS=$((E2E_FAILS + 1)); printf 'not ok - %s\n' "$*"; }

# check "what" cmd...   -- passes when the command succeeds
check() {
	local what=$1; shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# check_eq "what" expected actual
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1: expected '$2', got '$3'"; fi
}

# check_match "what" regex text   (grep -E over every line of text; a here
# string, not a pipe: with pipefail, grep -q leaving early could fail the
# writer with SIGPIPE and turn a match into a failure)
check_match() {
	if grep -Eq -- "$2" <<<"$3"; then ok "$1"
	else not_ok "$1: no line matches /$2/ in:"; printf '%s\n' "$3" | head -n 20 | sed 's/^/#   /'; fi
}

check_nomatch() {
	if ! grep -Eq -- "$2" <<<"$3"; then ok "$1"
	else not_ok "$1: a line matches /$2/:"; printf '%s\n' "$3" | grep -E -- "$2" | head -n 5 | sed 's/^/#   /'; fi
}

# check_ge "what" min actual
check_ge() {
	if [ "$3" -ge "$2" ]; then ok "$1 ($3 >= $2)"; else not_ok "$1: $3 < $2"; fi
}

# count lines equal to $1 in text $2
count_of() { printf '%s\n' "$2" | grep -cxF -- "$1" || true; }

e2e_done() {
	local ms=$((($(date +%s%N) - E2E_T0) / 1000000))
	echo "# $E2E_NAME: $E2E_OKS passed, $E2E_FAILS failed, ${ms} ms"
	[ "$E2E_FAILS" -eq 0 ]
}
