#!/usr/bin/env bash
# Connect failover and outlier ejection under ldmesh-exec, by the preload's
# own rules: one of three ready backends refuses (its EndpointSlice not yet
# updated). 60 blocking connects under ldmesh-exec all succeed; the dead
# backend is tried at most twice, then ejected; each failure goes on to a
# live backend in the same call; the failures an event loop reads through
# SO_ERROR eject it too; and the trace lines have the preload's
# form (the same client under the preload writes the same lines, but for
# ldmesh-exec's "exec pid=T" naming the caller).
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup
e2e_need_exec

PODS="10.244.1.5 10.244.2.5 10.244.3.5"
DEAD=10.244.2.5
e2e_add_ip $PODS
for ip in 10.244.1.5 10.244.3.5; do e2e_pod "$ip" 9100; done
e2e_put_web $PODS # the dead one is still listed ready
# the process's own failover and outlier ejection: the agent's node-wide
# ejection (test_health_eject, test_mesh_goals) would take the dead backend
# out after its first report, before the process learns anything
e2e_agent --no-health
CLIENT=$(e2e_cc netclient)

out=$(env LDMESH_TABLE="$TABLE" LDMESH_TRACE=1 LDMESH_TRACE_FILE="$E2E_TMP/exec.trace" \
	"$EXEC" "$CLIENT" banner 10.96.0.80 9000 60 2>&1 || true)
check_eq "60 blocking connects under ldmesh-exec, none failed" 0 \
	"$(printf '%s\n' "$out" | grep -c '^error' || true)"
check_eq "every one answered by a live pod" 60 \
	"$(printf '%s\n' "$out" | grep -cE '^10\.244\.(1|3)\.5$' || true)"
tried=$(grep -c "$DEAD:9100 failed (Connection refused)" "$E2E_TMP/exec.trace" || true)
check "the dead backend was tried at most twice ($tried)" test "$tried" -le 2
check_eq "then ejected" 1 "$(grep -c "outlier $DEAD:9100 ejected for 30000 ms" "$E2E_TMP/exec.trace" || true)"
check_eq "each failure went on to a live backend in the same call" "$tried" \
	"$(grep -cE 'retry 2/3 -> 10\.244\.(1|3)\.5:9100' "$E2E_TMP/exec.trace" || true)"
after=$(sed -n "/outlier $DEAD:9100 ejected/,\$p" "$E2E_TMP/exec.trace" | grep -c -- "-> $DEAD:9100" || true)
check_eq "after its ejection the dead backend was not chosen again" 0 "$after"

# Non-blocking connects by an event loop (asyncio, 20 at a time): the
# failures it reads through SO_ERROR eject the dead backend, as under the
# preload (test_failover.sh: at most the first batch of 20 can fail before
# that; without ejection about a third of 200 would).
out=$(env LDMESH_TABLE="$TABLE" LDMESH_TRACE=1 LDMESH_TRACE_FILE="$E2E_TMP/async.trace" \
	"$EXEC" "$PY" "$E2E_DIR/aclient.py" 10.96.0.80 9000 200 2>&1 || true)
failed=$(printf '%s\n' "$out" | grep -c '^error' || true)
check_eq "200 non-blocking connects: all but the failed ones answered by a live pod" \
	"$((200 - failed))" "$(printf '%s\n' "$out" | grep -cE '^10\.244\.(1|3)\.5$' || true)"
check_eq "the event loop's failures (SO_ERROR) ejected the dead backend" 1 \
	"$(grep -c "outlier $DEAD:9100 ejected" "$E2E_TMP/async.trace" || true)"
check_match "traced as the preload traces them" \
	"exec pid=[0-9]+ connect fd=[0-9]+ $DEAD:9100 failed later \(Connection refused\)" \
	"$(cat "$E2E_TMP/async.trace")"
check "failures before the ejection: at most the first batch of 20 ($failed of 200)" \
	test "$failed" -le 20

# The preload's lines for the same client, and ldmesh-exec's, reduced to
# their form: numbers that differ run to run (pids, descriptors, which live
# backend) taken out, ldmesh-exec's naming of the caller taken out.
form() {
	grep -E 'failed|retry|outlier' "$1" |
		sed -E 's/^ldmesh\[[0-9]+\] //; s/^exec pid=[0-9]+ //; s/fd=[0-9]+/fd=N/;
			s/10\.244\.(1|3)\.5/LIVE/g' | sort -u
}
pl env LDMESH_TRACE=1 LDMESH_TRACE_FILE="$E2E_TMP/preload.trace" \
	"$CLIENT" banner 10.96.0.80 9000 60 >/dev/null 2>&1 || true
check_match "ldmesh-exec's failure lines name the caller as its other lines do" \
	"^ldmesh\[[0-9]+\] exec pid=[0-9]+ connect fd=[0-9]+ $DEAD:9100 failed \(Connection refused\)$" \
	"$(cat "$E2E_TMP/exec.trace")"
check_eq "the same lines as the preload's, in form" "$(form "$E2E_TMP/preload.trace")" \
	"$(form "$E2E_TMP/exec.trace")"
e2e_done
