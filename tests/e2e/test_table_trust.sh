#!/usr/bin/env bash
# The table as a trust boundary, end to end (format 2):
#  - squat: a table directory made by another user (her own agent --once)
#    is refused by root's processes, with a trace line naming the path and
#    the reason, and they pass through; the same table is trusted by her
#    own processes (owner = their uid). A root table made group-writable is
#    refused too.
#  - in-place rewrite: root lifts the immutable flag and rewrites thousands
#    of bytes of the snapshot a long-lived client has mapped: the client
#    lives on (format 1 died of SIGSEGV) and follows the next good table.
#  - truncation: the live snapshot cannot be truncated (immutable), so the
#    client never meets SIGBUS.
#  - replaced directory: agent stopped, table removed, agent restarted with
#    another backend: the running client follows the new directory within
#    a second or so (format 1 followed the old one for its whole life).
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup
command -v setpriv >/dev/null || e2e_skip "setpriv (util-linux) not installed"
command -v chattr >/dev/null || e2e_skip "chattr (e2fsprogs) not installed"

e2e_add_ip 10.244.1.5 10.244.2.5
e2e_put_web 10.244.1.5
for ip in 10.244.1.5 10.244.2.5; do e2e_pod $ip 9100 banner; done
C="$PY $E2E_DIR/pyclient.py"

# ---- squat ----------------------------------------------------------------
chmod 755 "$E2E_TMP" "$MANIFESTS"
# her copies of the agent, the library and the client: a clone made with
# mktemp -d is private (0700), and she could reach nothing in it
HER=$E2E_TMP/her
mkdir -p "$HER"
cp "$AGENT" "$LIB" "$E2E_DIR/pyclient.py" "$HER/"
chmod -R a+rX "$HER"
SQ=$E2E_TMP/squat
mkdir -p "$SQ" && chown nobody "$SQ"
setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$HER/ldmesh-agent" --once -m "$MANIFESTS" -t "$SQ/table" >>"$E2E_TMP/agent.log" 2>&1
check "another user's agent made a table of her own" test -O "$SQ/table" -o "$(stat -c %U "$SQ/table")" = nobody
out=$(pl env LDMESH_TABLE="$SQ/table" LDMESH_TRACE=1 $C connect 10.96.0.80 9000 1 2>&1 || true)
check_match "root's process refuses her table, naming path and reason" \
	"table missing: $SQ/table: owned by another user" "$out"
check_match "and passes through (ENETUNREACH, no redirect)" "^ERR ENETUNREACH$" "$out"
out=$(pl env LDMESH_TABLE="$SQ/table" \
	LD_PRELOAD="${LDMESH_ASAN_RUNTIME:+$LDMESH_ASAN_RUNTIME:}$HER/libldmesh.so" \
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$PY" "$HER/pyclient.py" connect 10.96.0.80 9000 1 2>&1 || true)
check_eq "her own process trusts her table" "10.244.1.5" "$out"
err=$("$CTL" -t "$SQ/table" status 2>&1 >/dev/null) && rc=0 || rc=$?
check "ldmeshctl (root) refuses it: exit $rc" test "$rc" -ne 0
check_match "ldmeshctl says why" "owned by another user" "$err"

# ---- root's table -----------------------------------------------------------
e2e_agent
G=$(e2e_gen)
snap=$TABLE/snap.$G
check_eq "snapshots are read-only" "444" "$(stat -c %a "$snap")"
check_match "snapshots are immutable" "^[^ ]*i[^ ]* " "$(lsattr "$snap" 2>/dev/null || echo 'no-lsattr x')"
check_match "and keep no access time" "^[^ ]*A[^ ]* " "$(lsattr "$snap" 2>/dev/null || echo 'no-lsattr x')"
chmod 775 "$TABLE"
out=$(pl env LDMESH_TRACE=1 $C connect 10.96.0.80 9000 1 2>&1 || true)
chmod 755 "$TABLE"
check_match "a group-writable table directory is refused" "writable by group or others" "$out"
check_match "and the process passes through" "^ERR ENETUNREACH$" "$out"

# a long-lived client: rounds of 20 connects on demand
e2e_rounds 10.96.0.80 9000 20
R=$E2E_ROUNDS P=$E2E_ROUNDS_PID
e2e_round 1
check_eq "round 1: 20 connects reach the pod" 20 "$(grep -c '^10\.244\.1\.5$' "$R/out.1" || true)"

# ---- in-place rewrite of the live snapshot ----------------------------------
chattr -i "$snap"
"$PY" - "$snap" <<'PY'
import os, struct, sys
fd = os.open(sys.argv[1], os.O_RDWR)
# every VIP slot's service index and every service's endpoint range made
# huge (the issue's SIGSEGV), through the section table at offset 64 (24
# bytes a section: offset, size, count, entry size; see snapshot.h); random
# bytes elsewhere are the fuzz and mutation tests' business
def section(i):
    return struct.unpack("<QQII", os.pread(fd, 24, 64 + 24 * i))
voff, _, vcount, vsize = section(5)
for k in range(vcount):  # the slot's key is left as it was: lookups hit
    os.pwrite(fd, struct.pack("<I", 0x7FFFFFF0), voff + k * vsize + 20)
soff, _, scount, ssize = section(1)
for k in range(scount):
    os.pwrite(fd, struct.pack("<II", 0xFFFFFF00, 0xFFFF), soff + k * ssize + 64)
os.close(fd)
PY
e2e_round 2
check "the client survived indexes and ranges rewritten in its mapped table" kill -0 $P
check_eq "round 2 ran all 20 connects (answers may be wrong)" 20 "$(wc -l <"$R/out.2")"
# the agent's next publish is a good table again
e2e_put_web 10.244.1.5
touch "$MANIFESTS/web.yaml"
e2e_put extra.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: extra, namespace: default}
spec: {clusterIP: 10.96.0.81, ports: [{port: 1}]}
YAML
G2=$(e2e_wait_gen_after "$G") || G2=$G
# a delta over the damaged base would keep the damage: the agent saw the
# file changed and wrote a new base (found by the publish that the edit
# makes, or first by the once-a-second look at what was published: which
# one comes first is a matter of timing, the outcome is the same)
check_match "the agent noticed its base rewritten and wrote a new one" \
	"snap\.$G (changed or went since it was written; writing a new base|changed since it was published .*; publishing a new base)" \
	"$(cat "$E2E_TMP/agent.log")"
e2e_round 3
check_eq "round 3 (generation $G2): 20 connects reach the pod again" 20 \
	"$(grep -c '^10\.244\.1\.5$' "$R/out.3" || true)"

# ---- truncation -----------------------------------------------------------------
snap=$TABLE/snap.$G2
err=$(truncate -s 0 "$snap" 2>&1) && rc=0 || rc=$?
check "root cannot truncate the live snapshot (immutable): exit $rc" test "$rc" -ne 0
check_match "truncate says why" "Operation not permitted" "$err"
e2e_round 4
check "the client is alive after the truncation attempt" kill -0 $P
check_eq "round 4: 20 connects reach the pod" 20 "$(grep -c '^10\.244\.1\.5$' "$R/out.4" || true)"
touch "$R/stop"
e2e_wait e2e_gone "$P" || true
wait $P; rc=$?
check_eq "the long-lived client exited normally (no SIGSEGV/SIGBUS)" 0 "$rc"

# ---- replaced directory ---------------------------------------------------------
pl $C until 10.96.0.80 9000 900 10.244.2.5 >"$E2E_TMP/until.log" 2>&1 &
P=$!; e2e_track $P
e2e_wait grep -q '10\.244\.1\.5' "$E2E_TMP/until.log" || true
kill "$E2E_AGENT_PID"; wait "$E2E_AGENT_PID" 2>/dev/null
chattr -R -i "$TABLE"; rm -rf "$TABLE"
e2e_put_web 10.244.2.5
e2e_agent
t0=$(date +%s%N)
e2e_wait e2e_gone "$P" || true
ms=$((($(date +%s%N) - t0) / 1000000))
check_match "the running client reaches the new directory's backend" " 10\.244\.2\.5$" \
	"$(tail -n 1 "$E2E_TMP/until.log")"
e2e_log "followed the replaced directory ${ms} ms after its first publish"
e2e_done
