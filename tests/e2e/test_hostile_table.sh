#!/usr/bin/env bash
# Damaged tables end to end (issue 4): after the agent published a good
# table (and was stopped), the control page is bumped to a snapshot that is
# bit-flipped in its header / truncated / of another version. A preloaded process that
# already used the good table keeps reaching the service through it and
# prints "table gen=N refused: <reason>"; a fresh one passes through (a
# pod IP dialled directly works, the ClusterIP is simply unreachable, no
# crash) and prints the same line; `ldmeshctl status` on a table whose only
# snapshot is bad exits non-zero with a clear message.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

e2e_add_ip 10.244.8.1
e2e_pod 10.244.8.1 8080
e2e_put web.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: 10.96.0.91
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-a, namespace: default, labels: {app: web}}
status: {phase: Running, podIP: 10.244.8.1, conditions: [{type: Ready, status: "True"}]}
YAML
e2e_agent
G=$(e2e_gen)
kill "$E2E_AGENT_PID"; wait "$E2E_AGENT_PID" 2>/dev/null || true

# damage MODE SRC DST: write a damaged copy of snapshot SRC as DST
damage() {
	"$PY" - "$@" <<'PY'
import struct, sys
mode, src, dst = sys.argv[1:4]
b = bytearray(open(src, "rb").read())
if mode == "flip":  # in the header: the body is checked at each access
    b[100] ^= 0x20
elif mode == "truncate":
    b = b[: len(b) - 100]
elif mode == "version":
    b[4:6] = struct.pack("<H", 9)
elif mode == "short":
    b = b[:40]
open(dst, "wb").write(bytes(b))
PY
}
# set_gen TABLE GEN: store GEN into the control page, as the agent does
set_gen() {
	# the agent seals control on tmpfs (publish.c): root lifts that first
	chattr -i "$1/control" 2>/dev/null || true
	"$PY" - "$1/control" "$2" <<'PY'
import mmap, struct, sys
with open(sys.argv[1], "r+b") as f:
    m = mmap.mmap(f.fileno(), 4096)
    m[8:16] = struct.pack("<Q", int(sys.argv[2]))
    m.close()
PY
}

# A long-lived process: connects through gen G, waits for "go", connects
# again (the table moved on to damaged generations meanwhile).
cat >"$E2E_TMP/client.py" <<'PY'
import os, socket, sys, time
d = sys.argv[1]
def dial(addr):
    try:
        s = socket.create_connection(addr, timeout=5)
        r = s.recv(64).decode().strip()
        s.close()
        return r
    except OSError as e:
        return "error " + (os.strerror(e.errno) if e.errno else str(e))
print("before", dial(("web", 80)), flush=True)
open(d + "/phase1", "w").close()
for i in range(4):
    deadline = time.monotonic() + 900  # a backstop: the test says go
    while not os.path.exists(d + "/go%d" % i) and time.monotonic() < deadline:
        time.sleep(0.05)
    print("after%d" % i, dial(("10.96.0.91", 80)), dial(("web", 80)), flush=True)
    open(d + "/done%d" % i, "w").close()
PY
pl env LDMESH_TRACE=1 LDMESH_TRACE_FILE="$E2E_TMP/trace.long" \
	"$PY" "$E2E_TMP/client.py" "$E2E_TMP" >"$E2E_TMP/long.out" 2>&1 &
LONG=$!
e2e_track "$LONG"
e2e_wait_file "$E2E_TMP/phase1" || e2e_die "client did not start: $(cat "$E2E_TMP/long.out")"

i=0
for mode in flip truncate version short; do
	gen=$((G + 1 + i))
	damage "$mode" "$TABLE/snap.$G" "$TABLE/snap.$gen"
	set_gen "$TABLE" "$gen"
	touch "$E2E_TMP/go$i"
	e2e_wait_file "$E2E_TMP/done$i" || e2e_die "client stuck after damage $mode"
	i=$((i + 1))
done
wait "$LONG" 2>/dev/null; rc=$?
out=$(cat "$E2E_TMP/long.out")
trace=$(cat "$E2E_TMP/trace.long" 2>/dev/null || true)
check_eq "long-lived client exited normally" 0 "$rc"
check_match "long-lived client reached the pod before" '^before 10\.244\.8\.1$' "$out"
for i in 0 1 2 3; do
	check_match "damage $i: still reaches the pod through gen $G (by IP and name)" \
		"^after$i 10\\.244\\.8\\.1 10\\.244\\.8\\.1\$" "$out"
done
check_match "bit flip refused with a trace line" "table gen=$((G + 1)) refused: .*checksum" "$trace"
check_match "truncation refused with a trace line" "table gen=$((G + 2)) refused: .*size" "$trace"
check_match "wrong version refused with a trace line" "table gen=$((G + 3)) refused: .*format version differs" "$trace"
check_match "file shorter than a header refused" "table gen=$((G + 4)) refused: .*shorter than a snapshot header" "$trace"

# A fresh process on a table whose current snapshot is bad: pass-through.
fresh=$(pl env LDMESH_TRACE=1 "$PY" - <<'PY' 2>&1
import socket
s = socket.create_connection(("10.244.8.1", 8080), timeout=5)
print("direct", s.recv(64).decode().strip())
s.close()
try:
    socket.create_connection(("10.96.0.91", 80), timeout=5)
    print("clusterip connected")
except OSError as e:
    print("clusterip", e.strerror)
PY
) || true
check_match "fresh process prints the refused line" "table gen=$((G + 4)) refused: " "$fresh"
check_match "fresh process: a pod IP dialled directly works" '^direct 10\.244\.8\.1$' "$fresh"
check_match "fresh process: the ClusterIP passes through (unroutable here)" \
	'^clusterip (Network is unreachable|No route to host)' "$fresh"
if command -v curl >/dev/null; then
	c=$(pl env LDMESH_TRACE=1 curl -s --max-time 5 http://10.244.8.1:8080/ 2>&1 || true)
	check_match "preloaded curl prints the refused line" "table gen=$((G + 4)) refused: " "$c"
fi

# ldmeshctl: no usable snapshot -> non-zero with the reason
err=$("$CTL" -t "$TABLE" status 2>&1 >/dev/null) && rc=0 || rc=$?
check "ldmeshctl status exits non-zero on a table with a bad current snapshot" test "$rc" -ne 0
check_match "ldmeshctl says why" "no usable table at .*refused: .*shorter than a snapshot header" "$err"
# a table with only a bad snapshot at all
BAD=$E2E_TMP/badtable
mkdir -p "$BAD"
cp "$TABLE/control" "$BAD/control"
damage flip "$TABLE/snap.$G" "$BAD/snap.1"
set_gen "$BAD" 1
# the copied control page's record of generation 1 names the agent's
# snap.1, another inode than this copy: refused before its bytes are read
err=$("$CTL" -t "$BAD" status 2>&1 >/dev/null) && rc=0 || rc=$?
check "ldmeshctl status exits non-zero on a table whose snapshot is not the published file" \
	test "$rc" -ne 0
check_match "ldmeshctl says it is not the file the control page published" \
	"no usable table at .*generation 1 refused: .*snap\.1: not the file the control page published" "$err"
# without records (a 3.0 control page) the damaged header itself is refused
"$PY" - "$BAD/control" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(64)
    f.write(bytes(2 * 392))  # records[2] (snapshot.h)
PY
err=$("$CTL" -t "$BAD" status 2>&1 >/dev/null) && rc=0 || rc=$?
check "ldmeshctl status exits non-zero on a table with only a bad snapshot" test "$rc" -ne 0
check_match "ldmeshctl names the refused generation" "no usable table at .*generation 1 refused: .*bad header checksum" "$err"
e2e_done
