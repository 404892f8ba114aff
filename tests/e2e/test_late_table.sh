#!/usr/bin/env bash
# A table that appears later: clients started before the agent has ever
# published pass through (ENETUNREACH for the ClusterIP, no name) and, in the
# same process, start reaching the service once the agent publishes (the
# preload rechecks a missing table every 250 ms). Then: an agent stopped with
# SIGTERM leaves its last table in place and clients keep working.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

e2e_add_ip 10.244.1.5 10.244.2.5
e2e_put_web 10.244.1.5 10.244.2.5
for ip in 10.244.1.5 10.244.2.5; do e2e_pod $ip 9100 banner; done
check "no table exists yet" test ! -e "$TABLE"

C="$PY $E2E_DIR/pyclient.py"
# two long-lived clients, one by ClusterIP and one by name: a connect every
# 100 ms, stopping after 5 successes in a row (or after 900 s: a backstop)
pl $C loop 10.96.0.80 9000 900 5 >"$E2E_TMP/byip.log" 2>&1 &
P1=$!; e2e_track $P1
pl $C loop web 9000 900 5 >"$E2E_TMP/byname.log" 2>&1 &
P2=$!; e2e_track $P2

# let them fail for a while: until each has made 5 attempts
attempted() { [ "$(wc -l <"$E2E_TMP/byip.log")" -ge 5 ] && [ "$(wc -l <"$E2E_TMP/byname.log")" -ge 5 ]; }
e2e_wait attempted || true
before_ip=$(cat "$E2E_TMP/byip.log"); before_name=$(cat "$E2E_TMP/byname.log")
check_ge "by ClusterIP: 5 attempts before the agent ran" 5 "$(printf '%s\n' "$before_ip" | grep -c . || true)"
check_eq "by ClusterIP: before the table, every attempt is ENETUNREACH (pass-through)" "" \
	"$(printf '%s\n' "$before_ip" | grep -v ' ERR ENETUNREACH$' || true)"
check_eq "by name: before the table, no attempt succeeds" "" \
	"$(printf '%s\n' "$before_name" | grep -v ' ERR ' || true)"

t_agent=$(date +%s%N)
e2e_agent
t_pub=$((($(date +%s%N) - t_agent) / 1000000))
e2e_log "agent published after ${t_pub} ms"

# both loops end by themselves, after 5 successes in a row
for p in $P1 $P2; do e2e_wait e2e_gone "$p" || true; done
t_done=$((($(date +%s%N) - t_agent) / 1000000))
after_ip=$(tail -n 5 "$E2E_TMP/byip.log"); after_name=$(tail -n 5 "$E2E_TMP/byname.log")
check_eq "by ClusterIP: the same process ends with 5 answered connects" 5 \
	"$(printf '%s\n' "$after_ip" | grep -cE ' 10\.244\.[12]\.5$' || true)"
check_eq "by name: the same process ends with 5 answered connects" 5 \
	"$(printf '%s\n' "$after_name" | grep -cE ' 10\.244\.[12]\.5$' || true)"
e2e_log "both clients picked the table up ${t_done} ms after the agent started"

# SIGTERM: the agent goes, its table stays, clients keep working
gen=$(e2e_gen)
kill "$E2E_AGENT_PID"
check "the agent exited on SIGTERM" e2e_wait e2e_gone "$E2E_AGENT_PID"
check_eq "the table stays at generation $gen" "$gen" "$(e2e_gen)"
out=$(pl $C connect web 9000 10 2>&1 || true)
check_eq "with the agent gone, 10 connects by name still answered" 10 \
	"$(printf '%s\n' "$out" | grep -cE '^10\.244\.[12]\.5$' || true)"

# a restarted agent publishes a newer generation over the old table
e2e_agent_gen_before=$gen
"$AGENT" -m "$MANIFESTS" -t "$TABLE" >>"$E2E_TMP/agent.log" 2>&1 &
e2e_track $!
new=$(e2e_wait_gen_after "$e2e_agent_gen_before") || new=
check "a restarted agent publishes generation > $gen (${new:-none})" test -n "$new"
out=$(pl $C connect web 9000 10 2>&1 || true)
check_eq "after the restart, 10 connects answered" 10 \
	"$(printf '%s\n' "$out" | grep -cE '^10\.244\.[12]\.5$' || true)"

e2e_done
