#!/usr/bin/env bash
# The table's filesystem full (issue 4; split out of test_agent_faults.sh by
# issue 21, item 17, so that it skips the way every test does: exit 77, or a
# failure under LDMESH_E2E_NO_SKIP=1, never a log line CI cannot see).
# The table on a 256 KiB tmpfs in the test's own mount namespace: once it
# is full the agent says "No space left on device ... stays in force", the
# last snapshot stays in force and readable, and publishing resumes, with
# the change made meanwhile, once space returns.
. "$(dirname "$0")/lib.sh"
e2e_mountns "$@"
e2e_netns "$@"
e2e_setup

SMALL=$E2E_TMP/small
T=$SMALL/table
mkdir -p "$SMALL"
mount -t tmpfs -o size=256k,mode=0755 tmpfs "$SMALL" 2>"$E2E_TMP/mount.err" ||
	e2e_skip "cannot mount a tmpfs: $(cat "$E2E_TMP/mount.err")"
# the agent first (it holds files there), then the tmpfs, then the rest
unmount_small() {
	kill "${E2E_AGENT_PID:-}" 2>/dev/null && wait "$E2E_AGENT_PID" 2>/dev/null
	umount "$SMALL" 2>/dev/null
	e2e_cleanup
}
trap unmount_small EXIT

gen() { "$CTL" -t "$T" -o json status 2>/dev/null | sed -n 's/.*"generation":\([0-9]*\).*/\1/p' | head -n1; }
gen_is_not() { local g; g=$(gen); [ -n "$g" ] && [ "$g" != "$1" ]; }
full_ip() { LDMESH_NAMESPACE=default "$CTL" -t "$T" resolve full 2>/dev/null | awk 'NR == 2 { print $1 }'; }

e2e_put stable.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: stable, namespace: default}
spec: {clusterIP: 10.96.0.95, ports: [{port: 80}]}
YAML
"$AGENT" -m "$MANIFESTS" -t "$T" >"$E2E_TMP/agent.log" 2>&1 &
E2E_AGENT_PID=$!
e2e_track "$E2E_AGENT_PID"
e2e_wait gen_is_not "" || e2e_die "the agent published nothing: $(tail -n 5 "$E2E_TMP/agent.log")"
g0=$(gen)

# fill the filesystem, then change the folder
dd if=/dev/zero of="$SMALL/filler" bs=4k 2>/dev/null || true
e2e_put full.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: full, namespace: default}
spec: {clusterIP: 10.96.0.97, ports: [{port: 80}]}
YAML
check "full fs: a clear error line from the agent" \
	e2e_wait grep -q "No space left on device; generation $g0 stays in force" "$E2E_TMP/agent.log"
check_eq "full fs: the last snapshot stays in force" "$g0" "$(gen)"
check "full fs: ldmeshctl status still works" "$CTL" -t "$T" status
check_eq "full fs: the change is not published yet" "" "$(full_ip)"

rm -f "$SMALL/filler"
check "full fs: publishing resumed when space returned" e2e_wait gen_is_not "$g0"
check_eq "full fs: the next generation is the one after" "$((g0 + 1))" "$(gen)"
check_eq "full fs: the change made while full is in the resumed table" 10.96.0.97 "$(full_ip)"
check_eq "full fs: and what was there before" 10.96.0.95 \
	"$(LDMESH_NAMESPACE=default "$CTL" -t "$T" resolve stable 2>/dev/null | awk 'NR == 2 { print $1 }')"
e2e_done
