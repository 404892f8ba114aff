#!/usr/bin/env bash
# Issue 25 §1: ldmesh-exec reports backend failures to the agent as the
# preload does (the same code, preload/redirect/counts.c). A Go client
# (its own non-blocking connects, the failure read through SO_ERROR, both
# handled by ldmesh-exec) dials a Service whose one backend refuses: a
# stand-in for the agent's socket (reportsink.py, at <table>.sock; the
# agent is stopped once the table is published) receives a REFUSED report
# naming the backend and the VIP. A blackholed backend (SYNs dropped)
# gives the Go client "connection timed out" after LDMESH_CONNECT_TIMEOUT
# (3 s, before its own 5 s), and a TIMEOUT report.
. "$(dirname "$0")/lib.sh"
command -v go >/dev/null || e2e_skip "go not installed (golang-go)"
e2e_netns "$@"
e2e_setup
e2e_need_exec

e2e_goclient pure 0

command -v iptables >/dev/null || e2e_skip "iptables not installed"
DEAD=10.244.2.5 BLACK=10.244.3.5
e2e_add_ip $DEAD $BLACK
iptables -A INPUT -d $BLACK -p tcp -j DROP || e2e_skip "iptables cannot filter here"
e2e_put_web $DEAD # listed ready, refuses
sed 's/web/hole/g; s/10\.96\.0\.80/10.96.0.92/' "$MANIFESTS/web.yaml" |
	sed "s/$DEAD/$BLACK/" | e2e_put hole.yaml
# --metrics: the control page asks processes to count
# (LDMESH_CONTROL_F_METRICS), and still does once the agent is stopped
e2e_agent --metrics 127.0.0.1:9153
e2e_wait e2e_metrics_up 9153 || e2e_die "no metrics on 127.0.0.1:9153"
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

out=$(env LDMESH_TABLE="$TABLE" "$EXEC" "$E2E_TMP/go-pure" http http://10.96.0.92:9000/ 1 2>&1 || true)
check_match "the Go client's connect to a blackholed backend times out at LDMESH_CONNECT_TIMEOUT" \
	'error: .*connection timed out' "$out"
re="^failure TIMEOUT 10\.96\.0\.92:9000 $BLACK:9100 6\$"
e2e_wait has || not_ok "no TIMEOUT report from ldmesh-exec: $(cat "$E2E_TMP/sink.log")"
check_match "ldmesh-exec reported the blackholed backend" "$re" "$(cat "$E2E_TMP/sink.log")"
# and counted both failures, by reason, in its counters (sent by the
# supervisor at the latest as it exits)
failed() { # vip backend: the failed= fields summed over count lines
	grep -E "^count default [^ ]+ $1:9000 $2:9100 " "$E2E_TMP/sink.log" |
		sed -n 's/.* failed=\([0-9,]*\) .*/\1/p' |
		awk -F, '{ for (i = 1; i <= 5; i++) s[i] += $i } END { printf "%d,%d,%d,%d,%d", s[1], s[2], s[3], s[4], s[5] }'
}
both() { [ "$(failed 10.96.0.80 $DEAD)" = 0,1,0,0,0 ] && [ "$(failed 10.96.0.92 $BLACK)" = 0,0,1,0,0 ]; }
e2e_wait both || true
check_eq "ldmesh-exec counted the refused connect" 0,1,0,0,0 "$(failed 10.96.0.80 $DEAD)"
check_eq "ldmesh-exec counted the timed-out connect" 0,0,1,0,0 "$(failed 10.96.0.92 $BLACK)"
e2e_done
