#!/usr/bin/env bash
# ldmesh-exec with programs the preload cannot reach: a statically linked C
# client reaches a service by name (names from a DNS server in the namespace
# that answers ClusterIPs, as cluster DNS does) and by ClusterIP, balanced;
# getpeername answers the VIP; unconnected UDP sendto and sendmsg reach a
# backend;
# pass-through is untouched; a blocking connect to a backend that does not
# answer holds up no other thread; a glibc program with the preload as well
# is redirected once; signals, exit status and a missing program behave as
# under a shell. Without ldmesh the same static client fails.
. "$(dirname "$0")/lib.sh"
e2e_mountns "$@"
e2e_netns "$@"
e2e_setup
e2e_need_exec

# cluster DNS: service names answer their ClusterIPs
e2e_cluster_dns --host-record=banner.default.svc.cluster.local,10.96.0.81 \
	--host-record=slow.default.svc.cluster.local,10.96.0.82

PODS="10.244.1.5 10.244.2.5 10.244.3.5"
SLOW=10.244.9.9
e2e_add_ip $PODS $SLOW
for ip in $PODS; do e2e_pod "$ip" 9300; done
e2e_pod 127.0.0.1 7100
# a UDP pod answering "pong <its IP>"
"$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 5353))
open(sys.argv[2], "w").close()
while True:
    d, a = s.recvfrom(512)
    s.sendto(b"pong " + sys.argv[1].encode(), a)' 10.244.1.5 "$E2E_TMP/udp.ready" &
e2e_track $!
e2e_wait_file "$E2E_TMP/udp.ready" || e2e_die "UDP pod did not start"
# a pod that never answers: a full accept queue drops every further SYN
"$PY" -c '
import socket, sys, time
s = socket.socket(); s.bind((sys.argv[1], 9400)); s.listen(0)
fill = []
for _ in range(4):
    c = socket.socket(); c.setblocking(False); c.connect_ex((sys.argv[1], 9400)); fill.append(c)
time.sleep(0.5)
open(sys.argv[2], "w").close()
time.sleep(300)' $SLOW "$E2E_TMP/slow.ready" &
e2e_track $!
e2e_wait_file "$E2E_TMP/slow.ready" || e2e_die "slow pod did not start"

slice() { # name service ip... : an EndpointSlice of ready endpoints
	printf 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: %s, namespace: default, labels: {kubernetes.io/service-name: %s}}\naddressType: IPv4\nports: [{name: p, port: %s, protocol: %s}]\nendpoints:\n' "$1" "$2" "$3" "$4"
	shift 4
	for ip in "$@"; do printf -- '- addresses: [%s]\n  conditions: {ready: true}\n' "$ip"; done
}
{
	cat <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: banner, namespace: default}
spec: {clusterIP: 10.96.0.81, ports: [{name: p, port: 9001, targetPort: 9300}]}
---
apiVersion: v1
kind: Service
metadata: {name: slow, namespace: default}
spec: {clusterIP: 10.96.0.82, ports: [{name: p, port: 9001, targetPort: 9400}]}
---
apiVersion: v1
kind: Service
metadata: {name: dns, namespace: default}
spec: {clusterIP: 10.96.0.53, ports: [{name: p, port: 53, targetPort: 5353, protocol: UDP}]}
---
YAML
	slice banner-1 banner 9300 TCP $PODS
	echo ---
	slice slow-1 slow 9400 TCP $SLOW
	echo ---
	slice dns-1 dns 5353 UDP 10.244.1.5
} | e2e_put services.yaml
e2e_agent

STATIC=$E2E_TMP/netclient-static
cc -static -O1 -o "$STATIC" "$E2E_DIR/netclient.c" 2>/dev/null || e2e_die "cannot link a static client"
check_match "the client is statically linked" 'statically linked' "$(file "$STATIC" 2>/dev/null || echo 'statically linked (file(1) missing)')"
x() { env LDMESH_TABLE="$TABLE" LDMESH_NAMESPACE=default "$EXEC" "$@"; }

check_match "without ldmesh: the static client cannot reach the ClusterIP" '^error: Network is unreachable' \
	"$("$STATIC" banner banner 9001 1 2>&1 || true)"
out=$(x "$STATIC" banner banner 9001 90 2>&1 || true)
for ip in $PODS; do
	check_ge "static C by name reaches pod $ip (of 90)" 10 "$(count_of "$ip" "$out")"
done
check_eq "every connect was answered by a pod" 90 "$(printf '%s\n' "$out" | grep -c '^10\.244\.[123]\.5$' || true)"
check_match "by ClusterIP too" '^10\.244\.[123]\.5$' "$(x "$STATIC" banner 10.96.0.81 9001 1 2>&1)"
check_eq "pass-through is untouched" 127.0.0.1 "$(x "$STATIC" banner 127.0.0.1 7100 1 2>&1)"

check_match "getpeername answers the ClusterIP" "^\('10\.96\.0\.81', 9001\) 10\.244\.[123]\.5$" \
	"$(x "$PY" -c '
import socket
s = socket.create_connection(("10.96.0.81", 9001))
print(s.getpeername(), s.recv(64).decode().strip())' 2>&1)"

check_eq "unconnected UDP sendto reaches the backend" "pong 10.244.1.5" \
	"$(x "$PY" -c '
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(5)
u.sendto(b"ping", ("10.96.0.53", 53))
print(u.recvfrom(64)[0].decode())' 2>&1)"

check_eq "and sendmsg (a named, gathered datagram)" "pong 10.244.1.5" \
	"$(x "$PY" -c '
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(5)
u.sendmsg([b"pi", b"ng"], [], 0, ("10.96.0.53", 53))
print(u.recvfrom(64)[0].decode())' 2>&1)"
check_eq "sendmsg without a name, and descriptors passed over a unix socket, are untouched" "hi 1" \
	"$(x "$PY" -c '
import array, socket
a, b = socket.socketpair()
a.sendmsg([b"hi"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [1]))])
msg, anc, _, _ = b.recvmsg(16, socket.CMSG_SPACE(4))
print(msg.decode(), len(anc))' 2>&1)"

# A blocking connect to a backend that never answers, on one thread, while
# another connects to a good one: the good one must not wait for it.
check_match "a connect that hangs holds up no other thread" \
	'^fast [0-9.]+ 10\.244\.[123]\.5, the hanging one still connecting$' \
	"$(x "$PY" -c '
import socket, threading, time
def hang():
    s = socket.socket()
    s.connect(("10.96.0.82", 9001))
t = threading.Thread(target=hang, daemon=True)
t.start()
time.sleep(0.3)
t0 = time.monotonic()
s = socket.create_connection(("10.96.0.81", 9001))
print("fast %.3f %s, the hanging one %s" % (time.monotonic() - t0, s.recv(64).decode().strip(),
      "still connecting" if t.is_alive() else "returned"))' 2>&1 | grep '^fast')"

# The preload and ldmesh-exec together: the preload redirects, the
# supervisor sees a backend address and lets it pass.
trace=$(LDMESH_TRACE=1 x env LD_PRELOAD="$PRELOAD" "$PY" -c '
import socket
print(socket.create_connection(("10.96.0.81", 9001)).recv(64).decode().strip())' 2>&1)
check_eq "with the preload too: one redirect" 1 \
	"$(printf '%s\n' "$trace" | grep -c -- '10\.96\.0\.81:9001 -> ' || true)"
check_match "and the supervisor passes the backend address" 'exec pid=[0-9]+ connect fd=[0-9]+ 10\.244\.[123]\.5:9300 pass' "$trace"

rc=0; x sh -c 'exit 7' || rc=$?
check_eq "the program's exit status" 7 "$rc"
# the program says it runs (this namespace's /proc is the host's: no pgrep)
x sh -c 'touch "$1"; exec sleep 60' sh "$E2E_TMP/sleeping" & pid=$!
e2e_wait_file "$E2E_TMP/sleeping" || e2e_log "the supervised program never started"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
check_eq "SIGTERM is forwarded; the status says so (128 + 15)" 143 "$rc"
rc=0; out=$(x /nonexistent/program 2>&1) || rc=$?
check_eq "a missing program: 127" 127 "$rc"
check_match "with a message naming it" 'ldmesh-exec: /nonexistent/program: No such file' "$out"
check_match "--version" '^ldmesh-exec [0-9]+\.[0-9]+\.[0-9]+ ' "$("$EXEC" --version)"
e2e_done
