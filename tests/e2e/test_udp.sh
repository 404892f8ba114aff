#!/usr/bin/env bash
# Connected UDP through the preload: a datagram socket that connects to a
# ClusterIP's UDP port reaches a pod and getpeername answers the ClusterIP;
# the same socket type on the service's TCP-only port, and a TCP socket on
# its UDP-only port, pass through untouched (ENETUNREACH: no route). Also a
# socket the preload did not see being made (inherited across exec) is asked
# its type and still routed.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

e2e_add_ip 10.244.1.5 10.244.2.5
e2e_put dns.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: dns, namespace: default}
spec:
  clusterIP: 10.96.0.53
  selector: {app: dns}
  ports:
  - {name: dns-udp, protocol: UDP, port: 53, targetPort: 5353}
  - {name: http, protocol: TCP, port: 80, targetPort: 8080}
---
apiVersion: v1
kind: Pod
metadata: {name: dns-a, namespace: default, labels: {app: dns}}
status: {phase: Running, podIP: 10.244.1.5, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: dns-b, namespace: default, labels: {app: dns}}
status: {phase: Running, podIP: 10.244.2.5, conditions: [{type: Ready, status: "True"}]}
YAML

# A UDP echo on each pod IP that answers with its own address.
cat >"$E2E_TMP/udpecho.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
open(sys.argv[3], "w").close()
while True:
    data, peer = s.recvfrom(512)
    s.sendto(sys.argv[1].encode(), peer)
PY
for ip in 10.244.1.5 10.244.2.5; do
	"$PY" "$E2E_TMP/udpecho.py" "$ip" 5353 "$E2E_TMP/ready.$ip" >>"$E2E_TMP/pods.log" 2>&1 &
	e2e_track $!
	e2e_wait_file "$E2E_TMP/ready.$ip" || e2e_die "udp echo on $ip did not start"
done
e2e_agent

cat >"$E2E_TMP/udpclient.py" <<'PY'
import errno, os, socket, sys
mode, host, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
kind = socket.SOCK_STREAM if mode == "tcp" else socket.SOCK_DGRAM
for _ in range(n):
    if mode == "inherited":
        # the socket is made by the parent before exec; the exec'd child
        # only connects it
        fd = int(os.environ["UDP_FD"])
        s = socket.socket(fileno=fd)
    else:
        s = socket.socket(socket.AF_INET, kind)
    s.settimeout(2)
    try:
        s.connect((host, port))
    except OSError as e:
        print("ERR", errno.errorcode.get(e.errno, e.errno))
        s.close()
        continue
    if kind == socket.SOCK_STREAM and mode == "tcp":
        print("connected")
        s.close()
        continue
    s.send(b"q")
    try:
        answer = s.recv(512).decode()
    except OSError as e:
        answer = "ERR " + errno.errorcode.get(e.errno, str(e.errno))
    peer = "%s:%d" % s.getpeername()
    print(answer, peer)
    s.close()
PY
C="$PY $E2E_TMP/udpclient.py"

out=$(pl $C udp 10.96.0.53 53 40 2>&1 || true)
check_eq "40 UDP exchanges via the ClusterIP, all answered" 40 "$(printf '%s\n' "$out" | grep -c ' 10.96.0.53:53$')"
check_ge "pod a answered some" 5 "$(printf '%s\n' "$out" | grep -c '^10.244.1.5 ')"
check_ge "pod b answered some" 5 "$(printf '%s\n' "$out" | grep -c '^10.244.2.5 ')"
check_eq "by name too" "1" "$(pl $C udp dns 53 1 2>&1 | grep -c ' 10.96.0.53:53$' || true)"
check_eq "UDP to the TCP-only port passes through" "ERR ENETUNREACH" "$(pl $C udp 10.96.0.53 80 1 2>&1 || true)"
check_eq "TCP to the UDP-only port passes through" "ERR ENETUNREACH" "$(pl $C tcp 10.96.0.53 53 1 2>&1 || true)"
check_eq "without the preload the ClusterIP is unreachable" "ERR ENETUNREACH" "$($C udp 10.96.0.53 53 1 2>&1 || true)"

# A datagram socket made before exec: the preload in the new image never
# saw socket() for it and asks the kernel the type instead.
out=$("$PY" -c '
import os, socket, subprocess, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
os.set_inheritable(s.fileno(), True)
env = dict(os.environ, UDP_FD=str(s.fileno()))
subprocess.run(sys.argv[1:], env=env, close_fds=False, check=False)
' env LD_PRELOAD="$PRELOAD" LDMESH_TABLE="$TABLE" LDMESH_RESOLV_CONF="$RESOLV" LDMESH_NAMESPACE=default \
	$C inherited 10.96.0.53 53 1 2>&1 || true)
check_match "an inherited UDP socket is routed too" ' 10.96.0.53:53$' "$out"

e2e_done
