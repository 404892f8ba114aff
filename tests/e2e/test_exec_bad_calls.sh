#!/usr/bin/env bash
# The kernel's answer under ldmesh-exec, whatever the program hands over
# (issue 21, items 3 and 4): badcalls.c (test_bad_calls.sh's, which checks
# the preload) runs every socket call in a malformed shape against the pods
# without ldmesh and against the services under ldmesh-exec; each call's
# return value, errno and signal must be the same line for line (a
# connect with addrlen 200, 4096 or (socklen_t)-1 is EINVAL; getpeername
# with *len (socklen_t)-1 is EINVAL; an address whose tail is unmapped is
# EFAULT). getpeername answers the ClusterIP's port, and TCP Fast Open
# (sendto/sendmsg with MSG_FASTOPEN to a ClusterIP) reaches the pod like a
# connect. (Replies to an unconnected UDP send come from the backend under
# ldmesh-exec, a documented limit: the receive cases' ports are not
# compared.)
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup
e2e_need_exec
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
direct=$("$BC" $POD 9100 $POD 5300)
check_eq "without ldmesh every case ran (none crashed or failed to set up)" 0 \
	"$(printf '%s\n' "$direct" | grep -c 'sig=[1-9]' || true)"
kernel=$(printf '%s\n' "$direct" | grep -v '^info')
out=$(env LDMESH_TABLE="$TABLE" LDMESH_NAMESPACE=default LDMESH_TRACE=1 \
	LDMESH_TRACE_FILE="$E2E_TMP/trace" "$EXEC" "$BC" 10.96.0.80 9000 10.96.0.54 53)
got=$(printf '%s\n' "$out" | grep -v '^info')
while read -r want; do
	name=${want%% *}
	check_eq "ldmesh-exec: $name as without ldmesh" "$want" \
		"$(printf '%s\n' "$got" | grep -m1 "^$name " || echo "$name missing")"
done <<<"$kernel"
check_eq "ldmesh-exec: getpeername with room for 4 bytes answers the ClusterIP's port" \
	"info getpeername_short port=9000" "$(printf '%s\n' "$out" | grep '^info getpeername_short')"
for c in sendto_fastopen sendmsg_fastopen; do
	check_eq "ldmesh-exec: $c to the ClusterIP reaches the pod, getpeername the ClusterIP" \
		"info $c port=9000" "$(printf '%s\n' "$out" | grep "^info $c ")"
done
check_match "the trace names a Fast Open send's redirect like a connect's" \
	'exec pid=[0-9]+ sendto MSG_FASTOPEN fd=[0-9]+ 10\.96\.0\.80:9000 -> 10\.244\.1\.5:9100 svc=default/web' \
	"$(cat "$E2E_TMP/trace")"
e2e_done
