#!/usr/bin/env bash
# No number of slow connects under ldmesh-exec holds up another call:
#  - 300 threads block in connect to a service whose backend never answers
#    (a full accept queue drops every SYN), each with a 60 s SO_SNDTIMEO
#    (the issue's 15 s, with room for a slow machine: the program exits
#    without waiting for them);
#    meanwhile a connect to a pod address (passed through) and one to
#    another service's VIP complete before any of the 300 returns;
#  - ldmesh-exec does not hold a thread for each waiting connect;
#  - a blocking connect past its SO_SNDTIMEO returns EINPROGRESS, as the
#    kernel's own does, and one to a live backend succeeds.
. "$(dirname "$0")/lib.sh"
e2e_mountns "$@"
e2e_netns "$@"
# this pid namespace's own /proc: the program reads ldmesh-exec's there
mount -t proc proc /proc || e2e_skip "cannot mount /proc for this pid namespace"
e2e_setup
e2e_need_exec

POD=10.244.1.5
SLOW=10.244.9.9
e2e_add_ip $POD $SLOW
e2e_pod $POD 9300
"$PY" -c '
import socket, sys, time
s = socket.socket(); s.bind((sys.argv[1], 9400)); s.listen(0)
fill = []
for _ in range(4):
    c = socket.socket(); c.setblocking(False); c.connect_ex((sys.argv[1], 9400)); fill.append(c)
time.sleep(0.5)
open(sys.argv[2], "w").close()
time.sleep(600)' $SLOW "$E2E_TMP/slow.ready" &
e2e_track $!
e2e_wait_file "$E2E_TMP/slow.ready" 200 || e2e_die "slow pod did not start"

slice() { # name service port ip
	printf 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: %s, namespace: default, labels: {kubernetes.io/service-name: %s}}\naddressType: IPv4\nports: [{name: p, port: %s, protocol: TCP}]\nendpoints:\n- addresses: [%s]\n  conditions: {ready: true}\n' "$@"
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
YAML
	slice banner-1 banner 9300 $POD
	echo ---
	slice slow-1 slow 9400 $SLOW
} | e2e_put services.yaml
e2e_agent

# The program: 300 blocked connects, seen routed in the trace (bounded
# wait: a supervisor that stalls never routes them all), then the two
# unrelated connects; it says which finished first.
out=$(env LDMESH_TABLE="$TABLE" LDMESH_TRACE=1 LDMESH_TRACE_FILE="$E2E_TMP/trace" \
	"$EXEC" "$PY" -c '
import os, socket, struct, sys, threading, time
N, trace = 300, sys.argv[1]
returned = []
lock = threading.Lock()
def blocked():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 60, 0))
    try:
        s.connect(("10.96.0.82", 9001))
        what = "connected"
    except OSError as e:
        what = e.errno
    with lock:
        returned.append(what)
threads = [threading.Thread(target=blocked, daemon=True) for _ in range(N)]
for t in threads:
    t.start()
deadline = time.monotonic() + 45
routed = 0
while time.monotonic() < deadline and not returned:
    with open(trace) as f:
        routed = f.read().count("10.96.0.82:9001 -> ")
    if routed >= N:
        break
    time.sleep(0.05)
print("routed %d" % routed)
def threads_of(pid):
    with open("/proc/%d/status" % pid) as f:
        return int([l for l in f if l.startswith("Threads:")][0].split()[1])
print("supervisor threads %d" % threads_of(os.getppid()))
a = socket.create_connection(("10.244.1.5", 9300))
b = socket.create_connection(("10.96.0.81", 9001))
print("unrelated %s %s" % (a.recv(64).decode().strip(), b.recv(64).decode().strip()))
with lock:
    print("blocked returned before them: %d" % len(returned))
sys.stdout.flush()
os._exit(0)' "$E2E_TMP/trace" 2>&1)
printf '%s\n' "$out" | sed 's/^/# /'
check_eq "all 300 blocked connects were routed" "routed 300" "$(printf '%s\n' "$out" | grep '^routed')"
check_eq "a pass-through connect and a VIP connect completed" "unrelated 10.244.1.5 10.244.1.5" \
	"$(printf '%s\n' "$out" | grep '^unrelated')"
check_eq "before any of the 300 blocked connects returned" "blocked returned before them: 0" \
	"$(printf '%s\n' "$out" | grep '^blocked returned')"
threads=$(printf '%s\n' "$out" | sed -n 's/^supervisor threads //p')
# (a thread each would be 300 and more; the receivers and the one waiter
# are a handful)
check "ldmesh-exec holds no thread per waiting connect (${threads:-?} threads)" \
	test "${threads:-999}" -lt 32

out=$(env LDMESH_TABLE="$TABLE" "$EXEC" "$PY" -c '
import errno, socket, struct, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 1, 0))
try:
    s.connect(("10.96.0.82", 9001))
    print("slow connected")
except OSError as e:
    print("slow " + errno.errorcode.get(e.errno, str(e.errno)))
s = socket.socket()
s.connect(("10.96.0.81", 9001))
print("live " + s.recv(64).decode().strip())' 2>&1)
check_match "a blocking connect past its SO_SNDTIMEO returns EINPROGRESS, as the kernel's" \
	'^slow EINPROGRESS$' "$out"
check_match "a blocking connect to a live backend succeeds" '^live 10\.244\.1\.5$' "$out"
e2e_done
