#!/usr/bin/env bash
# The agent's --state directory under faults (issue 21, item 12):
#  1. hostile state files: a FIFO, a character device (/dev/zero's) and a
#     300 MB file planted as the allocations file; `--once` neither hangs
#     nor reads them (peak RSS stays small), and says which file it
#     refused;
#  2. a damaged last good copy is logged by its path;
#  3. `--state none` keeps no state (no directory "none" appears);
#  4. a read-only state filesystem: the agent still publishes, and says
#     it runs without state (log, and `ldmeshctl status`);
#  5. a full state filesystem: the failed write is logged and shown by
#     `ldmeshctl status`, and a restart with the file broken does not
#     publish the copy older than what was published.
. "$(dirname "$0")/lib.sh"
e2e_mountns "$@"
e2e_netns "$@"
e2e_setup
# the tmpfs mounts go before the directory does
trap 'umount -l "$E2E_TMP/ro" "$E2E_TMP/small" 2>/dev/null || true; e2e_cleanup' EXIT

STATE=$E2E_TMP/state
svc() {
	printf 'apiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: default}\nspec: {clusterIP: %s, ports: [{port: 80}]}\n' "$1" "$2"
}
bad() { svc "$1" 10.96.0.99 | sed 's/port: 80/port: 99999/'; }
# the agent once; a hang is cut by timeout (exit 124)
once() {
	timeout 60 "$AGENT" -m "$MANIFESTS" -t "$TABLE" "$@" --once >"$E2E_TMP/once.log" 2>&1
}
once_rc() { local rc=0; once "$@" || rc=$?; echo "$rc"; }
copy_of() { grep -l -F -x "# ldmesh last good copy of $MANIFESTS/$1" "$2"/*.yaml 2>/dev/null | head -n1; }
log_has() { grep -Eq -- "$2" "$1"; }

# ---- 1. hostile state files ---------------------------------------------------
svc a 10.96.0.11 | e2e_put a.yaml
check_eq "a first run saves state" 0 "$(once_rc --state "$STATE")"
g=$(e2e_gen)
rm -f "$STATE/allocations"
mkfifo "$STATE/allocations"
rc=$(once_rc --state "$STATE")
check_eq "a FIFO as the allocations file: --once does not hang" 0 "$rc"
check_match "and names it" "state file $STATE/allocations: not a regular file" "$(cat "$E2E_TMP/once.log")"
check "and publishes" test "$(e2e_gen)" -gt "$g"
rm -f "$STATE/allocations"
if mknod "$STATE/allocations" c 1 5 2>/dev/null; then
	g=$(e2e_gen)
	check_eq "a character device (1,5: /dev/zero) as the allocations file: no hang" 0 \
		"$(once_rc --state "$STATE")"
	check "and publishes" test "$(e2e_gen)" -gt "$g"
	rm -f "$STATE/allocations"
else
	e2e_skip "cannot mknod a device here"
fi
truncate -s 300M "$STATE/allocations"
g=$(e2e_gen)
rss=$("$PY" - "$AGENT" "$MANIFESTS" "$TABLE" "$STATE" "$E2E_TMP/once.log" <<'PY'
import resource, subprocess, sys
agent, m, t, s, log = sys.argv[1:]
with open(log, "w") as out:
    subprocess.run(["timeout", "60", agent, "-m", m, "-t", t, "--state", s, "--once"],
                   stdout=out, stderr=out)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
PY
)
check "a 300 MB allocations file is not read: peak RSS ${rss} MB < 64 MB" test "$rss" -lt 64
check_match "and is named" "state file $STATE/allocations: .*more than" "$(cat "$E2E_TMP/once.log")"
check "and the table is published" test "$(e2e_gen)" -gt "$g"
rm -f "$STATE/allocations"

# ---- 2. a damaged last good copy ---------------------------------------------
c=$(copy_of a.yaml "$STATE")
check "a.yaml has a last good copy" test -n "$c"
{ head -n1 "$c"; printf 'kind: Service\nmetadata: [unclosed\n'; } >"$c.new" && mv "$c.new" "$c"
bad a | e2e_put a.yaml
once --state "$STATE" || true
check_match "a damaged copy is logged by its path" \
	"last good copy of $MANIFESTS/a.yaml \\($c\\) is damaged" "$(cat "$E2E_TMP/once.log")"

# ---- 3. --state none ----------------------------------------------------------
svc a 10.96.0.11 | e2e_put a.yaml
mkdir "$E2E_TMP/cwd"
g=$(e2e_gen)
rc=0; (cd "$E2E_TMP/cwd" && once --state none) || rc=$?
check_eq "--state none publishes" 0 "$rc"
check "and publishes" test "$(e2e_gen)" -gt "$g"
check "--state none keeps no state (no directory 'none')" test ! -e "$E2E_TMP/cwd/none"

# ---- 4. a read-only state filesystem ----------------------------------------
RO=$E2E_TMP/ro
mkdir "$RO"
mount -t tmpfs -o ro,size=64k tmpfs "$RO" || e2e_skip "cannot mount a tmpfs"
g=$(e2e_gen)
rc=$(once_rc --state "$RO/state")
check_eq "a read-only state filesystem: --once still succeeds" 0 "$rc"
check "and publishes" test "$(e2e_gen)" -gt "$g"
check_match "and says it runs without state" "$RO/state: Read-only file system; running without --state" \
	"$(cat "$E2E_TMP/once.log")"
check_match "ldmeshctl status shows it" "running without --state" "$("$CTL" -t "$TABLE" status)"
umount "$RO"

# ---- 5. a full state filesystem -------------------------------------------------
SMALL=$E2E_TMP/small
mkdir "$SMALL"
mount -t tmpfs -o size=256k,mode=0755 tmpfs "$SMALL" || e2e_skip "cannot mount a tmpfs"
svc a 10.96.0.11 | e2e_put a.yaml
e2e_agent --state "$SMALL/state"
has_copy() { [ -n "$(copy_of a.yaml "$SMALL/state")" ]; }
e2e_wait has_copy || true
check_match "the copy of a.yaml says 10.96.0.11" "10.96.0.11" "$(cat "$(copy_of a.yaml "$SMALL/state")")"
dd if=/dev/zero of="$SMALL/filler" bs=4k 2>/dev/null || true
svc a 10.96.0.12 | e2e_put a.yaml
ip_is() { [ "$(e2e_cluster_ip a 2>/dev/null)" = "$1" ]; }
e2e_wait ip_is 10.96.0.12 || true
check_eq "the edit made while the state filesystem is full is published" 10.96.0.12 "$(e2e_cluster_ip a)"
check "the failed write is logged" e2e_wait log_has "$E2E_TMP/agent.log" \
	"saving the last good copy of $MANIFESTS/a.yaml in $SMALL/state: No space left on device"
check "ldmeshctl status shows it" e2e_wait \
	bash -c '"$1" -t "$2" status | grep -q "write(s) to the state directory failed"' _ "$CTL" "$TABLE"
bad a | e2e_put a.yaml
e2e_wait log_has "$E2E_TMP/agent.log" "a.yaml:.*99999" || true
g=$(e2e_gen)
kill "$E2E_AGENT_PID"; wait "$E2E_AGENT_PID" 2>/dev/null || true
"$AGENT" -m "$MANIFESTS" -t "$TABLE" --state "$SMALL/state" >>"$E2E_TMP/agent.log" 2>&1 &
E2E_AGENT_PID=$!; e2e_track "$E2E_AGENT_PID"
e2e_wait_gen_after "$g" >/dev/null || not_ok "the restarted agent published nothing"
ip=$(e2e_cluster_ip a 2>/dev/null || true)
check "the restart does not publish the older copy (10.96.0.11; got '${ip}')" test "$ip" != 10.96.0.11
kill "$E2E_AGENT_PID"; wait "$E2E_AGENT_PID" 2>/dev/null || true
umount "$SMALL"
e2e_done
