#!/usr/bin/env bash
# The kernel's answer, whatever the program hands over (issue 21, items
# 1-4): every socket call in a malformed shape (a bad pointer, a sockaddr
# whose tail is unmapped, a length the kernel refuses, a name buffer
# shorter than the address) returns under the preload (glibc and musl) and
# under ldmesh-exec exactly what it returns without them: the same return
# value, errno and signal (none), never a crash. badcalls.c runs each call
# in a child of its own and prints the outcome; without ldmesh it dials the
# pods, with ldmesh the services in front of them, so the outcomes must be
# identical line for line, and where a call answers an address the port in
# it must be the service's. TCP Fast Open (sendto/sendmsg with
# MSG_FASTOPEN to a ClusterIP) must reach a pod like a connect. (Under
# ldmesh-exec replies to an unconnected UDP send come from the backend, a
# documented limit: the receive cases' ports are compared for the preload
# only.)
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

POD=10.244.1.5
e2e_add_ip $POD
e2e_pod $POD 9100 http
"$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
open(sys.argv[3], "w").close()
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(data, peer)
' $POD 5300 "$E2E_TMP/echo.ready" >>"$E2E_TMP/pods.log" 2>&1 &
e2e_track $!
e2e_wait_file "$E2E_TMP/echo.ready" 200 || e2e_die "UDP echo server did not start"
{
	e2e_web_yaml $POD
	printf -- '---\napiVersion: v1\nkind: Service\nmetadata: {name: echo, namespace: default}\n'
	printf 'spec: {clusterIP: 10.96.0.54, ports: [{name: echo, port: 53, targetPort: 5300, protocol: UDP}]}\n---\n'
	printf 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n'
	printf 'metadata: {name: echo-1, namespace: default, labels: {kubernetes.io/service-name: echo}}\n'
	printf 'addressType: IPv4\nports: [{name: echo, port: 5300, protocol: UDP}]\n'
	printf 'endpoints:\n- addresses: [%s]\n  conditions: {ready: true}\n' $POD
} | e2e_put services.yaml
e2e_agent

BC=$(e2e_cc badcalls)
# Under the ASan pass the preload's column runs with the ASan runtime
# preloaded, whose own interceptors read some arguments first (a bad
# getpeername length aborts inside ASan): the kernel's column gets the
# same runtime, so a difference is still ldmesh's alone.
direct=$("$BC" $POD 9100 $POD 5300)
printf '%s\n' "$direct" | sed 's/^/# without ldmesh: /'
check_eq "without ldmesh every case ran (none crashed or failed to set up)" 0 \
	"$(printf '%s\n' "$direct" | grep -c 'sig=[1-9]' || true)"
kernel_plain=$(printf '%s\n' "$direct" | grep -v '^info')
kernel=$kernel_plain
[ -z "${LDMESH_ASAN_RUNTIME:-}" ] ||
	kernel=$(LD_PRELOAD=$LDMESH_ASAN_RUNTIME "$BC" $POD 9100 $POD 5300 | grep -v '^info')

# compare MODE OUTPUT [RECV]: the kernel's outcome line for line; the ports
# the calls answered are the services' (9000 TCP, and 53 UDP unless RECV is
# "no")
compare() {
	local mode=$1 out=$2 recv=${3:-yes} got
	got=$(printf '%s\n' "$out" | grep -v '^info')
	while read -r want; do
		local name=${want%% *}
		check_eq "$mode: $name as without ldmesh" "$want" \
			"$(printf '%s\n' "$got" | grep -m1 "^$name " || echo "$name missing")"
	done <<<"$kernel"
	check_eq "$mode: getpeername with room for 4 bytes answers the ClusterIP's port" \
		"info getpeername_short port=9000" "$(printf '%s\n' "$out" | grep '^info getpeername_short')"
	for c in recvfrom_short recvmsg_short recvmmsg_short; do
		[ "$recv" = yes ] || break
		check_eq "$mode: $c answers the UDP service's port in the 4 bytes it has" \
			"info $c port=53" "$(printf '%s\n' "$out" | grep "^info $c ")"
	done
	for c in sendto_fastopen sendmsg_fastopen; do
		check_eq "$mode: $c to the ClusterIP reaches the pod, getpeername the ClusterIP" \
			"info $c port=9000" "$(printf '%s\n' "$out" | grep "^info $c ")"
	done
}
out=$(LDMESH_TRACE=1 LDMESH_TRACE_FILE="$E2E_TMP/trace" pl "$BC" 10.96.0.80 9000 10.96.0.54 53)
compare preload "$out"
check_match "the trace names a Fast Open send's redirect like a connect's" \
	'sendto MSG_FASTOPEN fd=[0-9]+ 10\.96\.0\.80:9000 -> 10\.244\.1\.5:9100 svc=default/web' \
	"$(cat "$E2E_TMP/trace")"

e2e_need_exec
kernel=$kernel_plain
out=$(env LDMESH_TABLE="$TABLE" LDMESH_NAMESPACE=default LDMESH_TRACE=1 \
	LDMESH_TRACE_FILE="$E2E_TMP/exec.trace" "$EXEC" "$BC" 10.96.0.80 9000 10.96.0.54 53)
compare ldmesh-exec "$out" no
check_match "ldmesh-exec traces a Fast Open send's redirect like a connect's" \
	'exec pid=[0-9]+ sendto MSG_FASTOPEN fd=[0-9]+ 10\.96\.0\.80:9000 -> 10\.244\.1\.5:9100 svc=default/web' \
	"$(cat "$E2E_TMP/exec.trace")"

if [ -n "${LDMESH_ASAN_RUNTIME:-}" ]; then
	e2e_log "musl: no column in the ASan pass (musl has no ASan runtime; tests/run.sh builds no musl library there)"
elif command -v musl-gcc >/dev/null && [ -f "$MUSL_LIB" ]; then
	musl-gcc -O1 -Wall -Wextra -Werror -o "$E2E_TMP/badcalls-musl" "$E2E_DIR/badcalls.c" ||
		e2e_die "cannot compile badcalls.c with musl-gcc"
	kernel=$("$E2E_TMP/badcalls-musl" $POD 9100 $POD 5300 | grep -v '^info')
	compare musl "$(env LD_PRELOAD="$MUSL_LIB" LDMESH_TABLE="$TABLE" LDMESH_NAMESPACE=default \
		"$E2E_TMP/badcalls-musl" 10.96.0.80 9000 10.96.0.54 53)"
else
	e2e_skip "musl-gcc or $MUSL_LIB missing"
fi
e2e_done
