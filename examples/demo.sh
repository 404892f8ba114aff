#!/usr/bin/env bash
# ldmesh in one script: build, publish the example manifests, then run a
# three-tier app (frontend -> backend, frontend -> redis) in a private
# network namespace where pods reach each other by service name through
# libldmesh.so alone.
#
#   examples/demo.sh          as root on Debian 12 (installs what is missing)
#   examples/demo.sh --deps-only   only the dependency step (and the build)
#
# How long (measured 2026-12-08 on this project's 2-core VM, shared with
# other builds, packages already installed): 10 s on a built tree, 2 min 23 s
# from an empty build folder (load average 7-9 meanwhile); installing the
# packages adds their download. It prints its own time at the end.
#
# Nothing leaves the machine: the namespace part runs under `unshare --net`,
# with the pod IPs on its own loopback, and is skipped if no namespace can be
# made.
set -euo pipefail

# Run from a source tree it builds ldmesh there; run from where it is
# installed (<prefix>/share/doc/ldmesh/examples/demo.sh, by `cmake --install`
# or the packages) it uses the installed programs and library.
here=$(cd "$(dirname "$0")" && pwd)
manifests=$here/manifests
if [ -f "$here/../CMakeLists.txt" ]; then
	src=$(cd "$here/.." && pwd)
	build=${LDMESH_BUILD:-$src/build}
	AGENT=$build/agent/ldmesh-agent
	CTL=$build/agent/ldmeshctl
	LIB=$build/preload/libldmesh.so
else
	src=$(cd "$here/../../../.." && pwd) # the prefix
	build=
	AGENT=$src/bin/ldmesh-agent
	CTL=$src/bin/ldmeshctl
	LIB=$(ls "$src"/lib/*/libldmesh.so.0 "$src"/lib*/libldmesh.so.0 2>/dev/null | head -n1 || true)
fi

# headers in bold on a terminal only: a log or a pipe gets plain text
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
run() { local c="$*"; printf '$ %s\n' "${c//$src\//}"; "$@"; }
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy no_proxy NO_PROXY LD_PRELOAD

# ---------------------------------------------------------------------------
# Part 2, inside the network namespace (the script re-runs itself here).
# ---------------------------------------------------------------------------
netns_part() {
	local tmp=$1 p
	pids=() # global: the EXIT trap runs after this function has returned
	stop() { # every pod and the agent: TERM, then KILL after 2 s
		local p
		for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
		for p in "${pids[@]}"; do
			for _ in $(seq 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
			kill -9 "$p" 2>/dev/null || true
		done
	}
	trap stop EXIT
	local table=$tmp/netns-table
	local py
	py=$(command -v python3)

	ip link set lo up
	for p in 10.244.1.5 10.244.2.5 10.244.3.5 10.244.1.10; do ip addr add $p/32 dev lo; done
	echo "pod IPs on lo: 10.244.1.5, 10.244.2.5 (backend), 10.244.3.5 (redis), 10.244.1.10 (frontend)"
	cat >"$tmp/resolv.conf" <<-EOF
	search default.svc.cluster.local svc.cluster.local cluster.local
	options ndots:5
	EOF

	# the pods: two backends on port 80, redis on 6379
	"$py" "$tmp/pods.py" backend 10.244.1.5 80 backend-7d9f8-abcde "$tmp/ready.b1" >"$tmp/b1.log" 2>&1 & pids+=($!)
	"$py" "$tmp/pods.py" backend 10.244.2.5 80 backend-7d9f8-fghij "$tmp/ready.b2" >"$tmp/b2.log" 2>&1 & pids+=($!)
	if command -v redis-server >/dev/null; then
		redis-server --bind 10.244.3.5 --port 6379 --save '' --appendonly no \
			--protected-mode no --dir "$tmp" >/dev/null 2>&1 & pids+=($!)
		for _ in $(seq 100); do
			redis-cli -h 10.244.3.5 PING 2>/dev/null | grep -q PONG && break
			sleep 0.05
		done
	else
		echo "(redis-server not installed: the redis tier will answer 'unavailable')"
	fi
	# the node agent, watching the example manifests
	"$AGENT" -m "$manifests" -t "$table" >"$tmp/agent.log" 2>&1 & pids+=($!)
	for _ in $(seq 100); do
		[ -e "$table/control" ] && [ -e "$tmp/ready.b1" ] && [ -e "$tmp/ready.b2" ] && break
		sleep 0.05
	done

	local pod_env=(LD_PRELOAD="$LIB" LDMESH_TABLE="$table" LDMESH_RESOLV_CONF="$tmp/resolv.conf"
		LDMESH_NAMESPACE=default)
	# the frontend pod: python3 under the preload, tracing its decisions
	env "${pod_env[@]}" LDMESH_TRACE=1 LDMESH_TRACE_FILE="$tmp/frontend.trace" \
		"$py" "$tmp/pods.py" frontend 10.244.1.10 8080 frontend-5c6b7-klmno "$tmp/ready.f" \
		>"$tmp/frontend.out" 2>&1 & pids+=($!)
	for _ in $(seq 200); do [ -e "$tmp/ready.f" ] && break; sleep 0.05; done

	say "the frontend pod at startup: http://backend/ three times, redis SET/GET by name"
	sed 's/^/  /' "$tmp/frontend.out"
	echo "its trace (LDMESH_TRACE=1):"
	grep -E 'getaddrinfo|connect' "$tmp/frontend.trace" | sed 's/^/  /' || true

	say "a client pod: curl http://frontend/ (Service port 80 -> the frontend's named port http, 8080)"
	: >"$tmp/frontend.trace"
	printf '$ curl -s http://frontend/\n'
	env "${pod_env[@]}" LDMESH_TRACE=1 LDMESH_TRACE_FILE="$tmp/client.trace" \
		curl -sS --max-time 5 http://frontend/ 2>&1 | sed 's/^/  /' || true
	echo "the client's trace:"
	grep -E 'getaddrinfo|connect' "$tmp/client.trace" | sed 's/^/  /' || true
	echo "the frontend's trace for that request:"
	grep -E 'getaddrinfo|connect' "$tmp/frontend.trace" | sed 's/^/  /' || true

	say "without the preload the same ClusterIP is unreachable (no proxy, no iptables)"
	printf '$ curl -s http://%s/\n' "$(LDMESH_NAMESPACE=default "$CTL" -t "$table" resolve frontend | awk 'NR==2{print $1}')"
	curl -sS --max-time 2 "http://$(LDMESH_NAMESPACE=default "$CTL" -t "$table" resolve frontend | awk 'NR==2{print $1}')/" 2>&1 | sed 's/^/  /' || true
}

write_pods_py() {
	cat >"$1" <<-'EOF'
	# The demo's pods: `backend IP PORT NAME` answers which pod it is;
	# `frontend IP PORT NAME` calls backend and redis by name for each request.
	import http.server, socket, sys, urllib.request

	mode, ip, port, name, ready = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]

	def redis(*args):
	    """One command to the redis Service, by name, in RESP."""
	    cmd = b"*%d\r\n" % len(args) + b"".join(
	        b"$%d\r\n%s\r\n" % (len(a), a.encode()) for a in args)
	    try:
	        with socket.create_connection(("redis", 6379), timeout=3) as s:
	            s.sendall(cmd)
	            reply = s.recv(4096).split(b"\r\n")
	    except OSError as e:
	        return "unavailable (%s)" % e.strerror
	    return reply[1].decode() if reply[0].startswith(b"$") else reply[0][1:].decode()

	def work(n):
	    out = []
	    for _ in range(n):
	        try:
	            with urllib.request.urlopen("http://backend/", timeout=3) as r:
	                out.append("GET http://backend/ -> " + r.read().decode().strip())
	        except OSError as e:
	            out.append("GET http://backend/ -> failed: %s" % e)
	    out.append("redis SET greeting -> " + redis("SET", "greeting", "hello from " + name))
	    out.append("redis GET greeting -> " + redis("GET", "greeting"))
	    return "\n".join(out) + "\n"

	class H(http.server.BaseHTTPRequestHandler):
	    def do_GET(self):
	        if mode == "backend":
	            body = "hello from pod %s (%s)\n" % (name, ip)
	        else:
	            body = "frontend pod %s (%s) asked:\n%s" % (name, ip, work(1))
	        self.send_response(200)
	        self.send_header("Content-Length", str(len(body.encode())))
	        self.end_headers()
	        self.wfile.write(body.encode())
	    def log_message(self, *a):
	        pass

	srv = http.server.ThreadingHTTPServer((ip, port), H)
	if mode == "frontend":
	    try:
	        print(work(3), end="", flush=True)
	    except OSError as e:
	        print("backend call failed:", e, flush=True)
	open(ready, "w").close()
	srv.serve_forever()
	EOF
}

if [ "${1:-}" = --netns-part ]; then
	netns_part "$2"
	exit 0
fi

# ---------------------------------------------------------------------------
# Part 1: dependencies, build, the agent and ldmeshctl on examples/manifests.
# ---------------------------------------------------------------------------
if [ -n "$build" ]; then
	say "dependencies and build"
	# shellcheck source=../tests/deps.sh
	. "$src/tests/deps.sh"
	ldmesh_deps
	cmake -S "$src" -B "$build" -DLDMESH_WERROR=ON >/dev/null
	cmake --build "$build" -j"$(nproc)" >"$build/demo-build.log" 2>&1 ||
		{ tail -n 30 "$build/demo-build.log"; exit 1; }
	echo "built $AGENT, $CTL and $LIB"
else
	say "dependencies"
	# installed beside this script: tests/deps.sh of the source tree
	# shellcheck source=../tests/deps.sh
	. "$here/deps.sh"
	ldmesh_install_missing "${LDMESH_DEMO_PACKAGES[@]}"
	for f in "$AGENT" "$CTL" "$LIB"; do
		[ -e "$f" ] || { echo "demo: $f not installed (the ldmesh and libldmesh packages)" >&2; exit 1; }
	done
	echo "using the installed $AGENT, $CTL and $LIB"
fi
[ "${1:-}" = --deps-only ] && exit 0

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ldmesh-demo.XXXXXX")
trap 'chattr -R -i "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT

say "validate and publish examples/manifests once"
run "$AGENT" --check -m "$manifests"
run "$AGENT" --once -m "$manifests" -t "$tmp/table"
run "$CTL" -t "$tmp/table" services
echo
printf '$ LDMESH_NAMESPACE=default ldmeshctl resolve backend\n'
LDMESH_NAMESPACE=default "$CTL" -t "$tmp/table" resolve backend

# ---------------------------------------------------------------------------
# Part 2: the three-tier app inside a private network namespace.
# ---------------------------------------------------------------------------
say "three tiers in a private network namespace"
# --pid --fork --kill-child: should this script die, the kernel ends every
# process left in the namespace
ns=(unshare --net --pid --fork --kill-child)
if ! err=$("${ns[@]}" true 2>&1); then
	echo "skipped: cannot create a network namespace (${err:-unshare --net failed});"
	echo "run as root, or where unprivileged user namespaces are allowed."
	exit 0
fi
if ! command -v ip >/dev/null; then
	echo "skipped: ip(8) (iproute2) is not installed"
	exit 0
fi
write_pods_py "$tmp/pods.py"
LDMESH_BUILD=$build "${ns[@]}" -- bash "$0" --netns-part "$tmp"
say "done in ${SECONDS} s: everything stopped, temp files removed"
