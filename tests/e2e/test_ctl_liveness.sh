#!/usr/bin/env bash
# ldmeshctl status tells a live agent from a dead one (issue 23): the
# agent keeps a heartbeat in the control page once a second, also when it
# has nothing to publish; `status` says "alive" or "not answering", and
# `status --probe live|ready` are the DaemonSet's exec probes: exit 0 or 1
# with one line saying why. Live fails once an agent killed with SIGKILL
# has been silent past the limit; ready fails while the table is
# incomplete (--require-sync without the marker) and passes once complete.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

cp "$LDMESH_SRC"/examples/manifests/* "$MANIFESTS/"
e2e_agent
PID=$E2E_AGENT_PID

run() {
	RC=0
	"$CTL" "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err" || RC=$?
	OUT=$(cat "$E2E_TMP/out")
	ERR=$(cat "$E2E_TMP/err")
}
field() { "$CTL" -t "$TABLE" -o json status | "$PY" -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }

# live after start
run -t "$TABLE" status --probe live
check_eq "probe live: exit 0, nothing on stderr" "0 " "$RC $ERR"
check_match "probe live: one line saying why" "^live: agent pid $PID, heartbeat [0-9]+\.[0-9] s ago$" "$OUT"
check_eq "probe live: one line" 1 "$(wc -l <<<"$OUT")"
run -t "$TABLE" status --probe ready
check_match "probe ready: exit 0, live and complete" \
	"^0 ready: agent pid $PID, heartbeat [0-9.]+ s ago, table generation 1 complete$" "$RC $OUT"
check_match "status: agent alive" "^agent: +alive \(pid $PID, heartbeat [0-9]+\.[0-9] s ago\)$" \
	"$("$CTL" -t "$TABLE" status)"
check_eq "status json: agentAlive" True "$(field agentAlive)"
check_match "status json: heartbeatAgeSeconds, a number" '^[0-9]+\.[0-9]+$' "$(field heartbeatAgeSeconds)"
check_eq "status json: heartbeatPid" "$PID" "$(field heartbeatPid)"

# an agent with nothing to publish stays live: past the limit since its
# last publish, on the heartbeat alone
published_s() { date -d "$(field publishedAt)" +%s; }
idle_past_limit() { [ $(($(date +%s) - $(published_s))) -gt 11 ]; }
check "the agent idle for longer than the limit" e2e_wait idle_past_limit
run -t "$TABLE" status --probe live
check_eq "probe live: still exit 0 on the heartbeat alone" 0 "$RC"
check_eq "... nothing published meanwhile" 1 "$(e2e_gen)"

# killed: not live once the heartbeat is older than the limit
kill -KILL "$PID"
e2e_wait e2e_gone "$PID" || e2e_die "agent $PID survived SIGKILL"
not_live() { ! "$CTL" -t "$TABLE" status --probe live >/dev/null 2>&1; }
check "probe live fails after SIGKILL (bounded poll)" e2e_wait not_live
run -t "$TABLE" status --probe live
check_match "probe live: exit 1 with why" \
	"^1 not live: agent not answering: last heartbeat [0-9]+\.[0-9] s ago \(pid $PID; the limit is 10 s\)$" \
	"$RC $OUT"
run -t "$TABLE" status --probe ready
check_match "probe ready: exit 1, not live" '^1 not ready: agent not answering' "$RC $OUT"
check_match "status: not answering" '^agent: +not answering \(last heartbeat [0-9]+\.[0-9] s ago' \
	"$("$CTL" -t "$TABLE" status)"
check_eq "status json: agentAlive false" False "$(field agentAlive)"
run -t "$TABLE" status
check_eq "status of a dead agent's table: still exit 0 (it is a report)" 0 "$RC"

# no table at all
run -t "$E2E_TMP/nope" status --probe live
check_match "probe live without a table: exit 1 with why" \
	"^1 not live: no control page at $E2E_TMP/nope" "$RC $OUT"

# ready: live, and the table complete
T2=$E2E_TMP/table2
"$AGENT" -m "$MANIFESTS" -t "$T2" --require-sync >>"$E2E_TMP/agent2.log" 2>&1 &
PID2=$!
e2e_track "$PID2"
published2() { "$CTL" -t "$T2" status >/dev/null 2>&1; }
e2e_wait published2 || e2e_die "agent 2 published nothing: $(tail -5 "$E2E_TMP/agent2.log")"
run -t "$T2" status --probe live
check_eq "incomplete: live all the same" 0 "$RC"
run -t "$T2" status --probe ready
check_match "incomplete: probe ready exit 1, saying so" \
	'^1 not ready: table generation [0-9]+ is incomplete \(the agent runs with --require-sync' "$RC $OUT"
date -u +%Y-%m-%dT%H:%M:%SZ >"$MANIFESTS/.ldmesh-synced"
ready2() { "$CTL" -t "$T2" status --probe ready >/dev/null 2>&1; }
check "the marker written: probe ready passes (bounded poll)" e2e_wait ready2
run -t "$T2" status --probe ready
check_match "probe ready: exit 0 with why" "^0 ready: agent pid $PID2, heartbeat" "$RC $OUT"
e2e_done
