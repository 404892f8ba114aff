#!/usr/bin/env bash
# Issue 25 §1: ldmesh-exec reports backend failures to the agent as the
# preload does (the same code, preload/redirect/counts.c). A Go client
# (its own non-blocking connects, the failure read through SO_ERROR, both
# handled by ldmesh-exec) dials a Service whose one backend refuses: a
# stand-in for the agent's socket (reportsink.py, at <table>.sock; the
# agent is stopped once the table is published) receives a REFUSED report
# naming the backend and the VIP.
. "$(dirname "$0")/lib.sh"
command -v go >/dev/null || e2e_skip "go not installed (golang-go)"
e2e_netns "$@"
e2e_setup
e2e_need_exec

e2e_goclient pure 0

DEAD=10.244.2.5
e2e_add_ip $DEAD
e2e_put_web $DEAD # listed ready, refuses
e2e_agent
kill "$E2E_AGENT_PID"
e2e_wait -t 10 e2e_gone "$E2E_AGENT_PID" || e2e_die "the agent did not stop"
SOCK=$TABLE.sock
rm -f "$SOCK"
"$PY" "$E2E_DIR/reportsink.py" "$SOCK" "$E2E_TMP/sink.ready" >"$E2E_TMP/sink.log" 2>&1 &
e2e_track $!
e2e_wait_file "$E2E_TMP/sink.ready" || e2e_die "reportsink did not start"

out=$(env LDMESH_TABLE="$TABLE" "$EXEC" "$E2E_TMP/go-pure" http http://10.96.0.80:9000/ 1 2>&1 || true)
check_match "the Go client's connect is refused, as before" 'error: .*connection refused' "$out"
re="^failure REFUSED 10\.96\.0\.80:9000 $DEAD:9100 6\$"
has() { grep -qE -- "$re" "$E2E_TMP/sink.log"; }
e2e_wait has || not_ok "no report from ldmesh-exec: $(cat "$E2E_TMP/sink.log")"
check_match "ldmesh-exec reported the refused backend and the VIP" "$re" "$(cat "$E2E_TMP/sink.log")"
e2e_done
