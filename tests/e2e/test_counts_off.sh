#!/usr/bin/env bash
# Counting costs nothing while nobody serves the counts (issue 25 §2): an
# agent without --metrics leaves the control page's METRICS flag clear, and
# a process then closes a connected Service socket without reading
# TCP_INFO; with --metrics, each such close reads it once. Counted by a
# getsockopt interposer preloaded after libldmesh.so (tcpinfo_count.c).
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup
SO=$E2E_TMP/tcpinfo_count.so
cc -O1 -Wall -Werror -shared -fPIC -o "$SO" "$E2E_DIR/tcpinfo_count.c" -ldl ||
	e2e_die "cannot build tcpinfo_count.so"
e2e_web banner 10.244.1.5 # and the agent, without --metrics

N=5
closes() { # connects and closes N sockets to web; the TCP_INFO reads into $E2E_TMP/count
	rm -f "$E2E_TMP/count"
	LD_PRELOAD="$PRELOAD $SO" LDMESH_TABLE=$TABLE TCPINFO_COUNT_FILE=$E2E_TMP/count \
		$PY "$E2E_DIR/pyclient.py" connect 10.96.0.80 9000 $N >"$E2E_TMP/out" 2>&1
	check_eq "$N connects reached the pod" $N "$(grep -c '^10\.244\.1\.5$' "$E2E_TMP/out" || true)"
}
closes
check_eq "no metrics served: no TCP_INFO read at $N closes" 0 "$(cat "$E2E_TMP/count")"

kill "$E2E_AGENT_PID" || e2e_die "the agent died: $(tail -5 "$E2E_TMP/agent.log")"
e2e_wait e2e_gone "$E2E_AGENT_PID" || e2e_die "the agent did not exit"
e2e_agent --metrics 127.0.0.1:9153
closes
check_eq "metrics served: one TCP_INFO read per close" $N "$(cat "$E2E_TMP/count")"
e2e_done
