#!/usr/bin/env bash
# Node-wide health, verified (issue 25 §1, the agent's side): processes
# report failing backends on <table>.sock; the agent probes each itself and
# ejects only those its own probe cannot reach, for every process on the
# node, through the table.
#  - web: of three pods one refuses: reported, it is ejected (the table
#    flags it, ldmeshctl shows it) and a new preloaded client never lands
#    on it in 30 connects.
#  - dark: a pod whose packets go nowhere (a neighbour that never answers):
#    the probe times out, it is ejected.
#  - a flood of reports against a healthy pod from one process: never
#    ejected, the agent's memory stays put, the inbox counts the drops.
#  - the refusing pod starts listening: re-admitted at the next re-check.
#  - two: two of three pods refuse: both fail the agent's probe, the
#    table orders out only one (50%).
#  - solo: its only pod refuses: the agent says ejected, the table keeps
#    using it (never all).
#  - a report naming no backend of the table is not acted on; an ejected
#    backend removed from the folder is forgotten.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

LIVE="10.244.1.5 10.244.3.5"
DEAD=10.244.2.5  # listed ready, refuses
DEAD2=10.244.4.5 # two more for "two"
DEAD3=10.244.6.5
SOLO=10.244.5.5
DARK=10.99.0.2   # behind a link whose neighbour never answers
e2e_add_ip $LIVE $DEAD $DEAD2 $DEAD3 $SOLO
for ip in $LIVE; do e2e_pod "$ip" 9100; done
ip link add dark0 type veth peer name dark1
ip addr add 10.99.0.1/24 dev dark0
ip link set dark0 up
ip link set dark1 up

e2e_put_web 10.244.1.5 $DEAD 10.244.3.5
svc() { e2e_svc_yaml "$@"; } # name clusterIP ip...
svc dark 10.96.0.99 $DARK 10.244.1.5 10.244.3.5 | e2e_put dark.yaml
svc two 10.96.0.98 $DEAD2 $DEAD3 10.244.1.5 | e2e_put two.yaml
svc solo 10.96.0.97 $SOLO | e2e_put solo.yaml
# (HEALTH_ARGS="" runs an agent older than these options, to see this fail)
# shellcheck disable=SC2086
e2e_agent ${HEALTH_ARGS---health-interval 1}
SOCK=$TABLE.sock
report() { "$PY" "$E2E_DIR/reporter.py" "$SOCK" "$@" >/dev/null; }
status() { cat "$TABLE/status"; }
# the endpoint line of ldmeshctl services for IP in Service NAME
ep_state() { # name ip
	"$CTL" -t "$TABLE" services | awk -v svc="$1" -v ip="$2:" '
		/^[^ ]/ { cur = $2 } cur == svc && $1 ~ "^" ip { print $2 }'
}
ejected_in_status() { status | grep -q "^ejected $1:9100	"; }
table_says() { [ "$(ep_state "$1" "$2")" = "$3" ]; }

check "the agent binds the report socket, writable by every pod" \
	test "$(stat -c "%F %a" "$SOCK")" = "socket 666"

# a report naming no backend of the table is not even probed (were it, its
# connect would fail: nothing has that address); datagrams are read in order
report 10.244.7.7 9100
# web: the refusing pod, reported once
report $DEAD 9100
check "a refusing backend reported: the agent's probe ejects it" e2e_wait ejected_in_status $DEAD
check "the table flags it (ldmeshctl services)" e2e_wait table_says web $DEAD ejected
check_match "and orders it out of the chosen ones" '2/3 ready' \
	"$("$CTL" -t "$TABLE" services | grep ' web ')"
check_match "describe service shows it" "$DEAD +ejected" "$("$CTL" -t "$TABLE" describe service web)"
check_match "get -o yaml says so in its conditions" "ejected: true" \
	"$("$CTL" -t "$TABLE" get svc web -o yaml)"
check_match "the log says so" "backend ejected for every process on the node: $DEAD:9100: the agent's probe failed: Connection refused" \
	"$(cat "$E2E_TMP/agent.log")"
out=$(pl "$PY" "$E2E_DIR/pyclient.py" connect web 9000 30 2>&1 || true)
check_eq "a new client's 30 connects all answered" 30 "$(printf '%s\n' "$out" | grep -cE '^10\.244\.(1|3)\.5$' || true)"
check_eq "none landed on the ejected pod" 0 "$(printf '%s\n' "$out" | grep -c 'ERR' || true)"

# dark: no answer at all
report $DARK 9100
check "a backend whose packets go nowhere: the probe times out, ejected" e2e_wait ejected_in_status $DARK
check "the table flags it" e2e_wait table_says dark $DARK ejected
check_match "the log says why" "$DARK:9100: the agent's probe failed: no answer in time" "$(cat "$E2E_TMP/agent.log")"

# a backend removed from the folder is forgotten
svc dark 10.96.0.99 10.244.1.5 10.244.3.5 | e2e_put dark.yaml
forgotten() { ! ejected_in_status $DARK; }
check "a backend removed from the folder is forgotten" e2e_wait forgotten

# a flood of lies about a healthy pod, from one process
# the agent's pid as /proc knows it (a namespace of pids of our own may
# sit over the host's /proc): the process whose command line is ours
agent_proc() {
	local f
	for f in /proc/[0-9]*/cmdline; do
		if [[ "$(tr '\0' ' ' <"$f" 2>/dev/null)" == "$AGENT -m $MANIFESTS -t $TABLE "* ]]; then
			echo "${f%/cmdline}"
			return 0
		fi
	done
	return 1
}
AGENT_PROC=$(agent_proc) || not_ok "cannot find the agent in /proc"
rss() { awk '/^VmRSS/ { print $2 }' "$AGENT_PROC/status"; }
rss0=$(rss)
sent=$("$PY" "$E2E_DIR/reporter.py" "$SOCK" 10.244.1.5 9100 20000)
limited() { status | sed -n 's/.* rate-limited=\([0-9]*\).*/\1/p' | awk '$1 > 0 { f = 1 } END { exit !f }'; }
# the status is written after each publish and each folder batch: touch one
touch_folder() { e2e_put web.yaml < "$MANIFESTS/web.yaml"; limited; }
check "a flood ($sent datagrams taken by the socket): the inbox drops and counts most" \
	e2e_wait touch_folder
check "the healthy pod is never ejected" bash -c "! grep -q '^ejected 10.244.1.5' '$TABLE/status'"
check_eq "and stays chosen" ready "$(ep_state web 10.244.1.5)"
check_nomatch "no ejection of it in the log" "ejected.*10\.244\.1\.5:9100" "$(cat "$E2E_TMP/agent.log")"
rss1=$(rss)
check "the agent did not grow with the flood (${rss0} kB -> ${rss1} kB)" test "$rss1" -le $((rss0 + 4096))

# the refusing pod comes back: re-admitted at its next re-check, at most
# two re-check intervals later (they back off to 8 x 1 s while it fails)
t0=$(date +%s%N)
e2e_pod $DEAD 9100
readmitted() { ! ejected_in_status $DEAD && table_says web $DEAD ready; }
check "a backend that answers again is re-admitted" e2e_wait readmitted
ms=$((($(date +%s%N) - t0) / 1000000))
check "within two re-check intervals (${ms} ms, the longest interval is 8000 ms)" test "$ms" -le 16000
check_match "the log says so" "backend re-admitted: $DEAD:9100: the agent's probe connected" "$(cat "$E2E_TMP/agent.log")"

# two of three refusing: only one ejected (50%)
report $DEAD2 9100
report $DEAD3 9100
check "the agent's probes find both refusing pods of two" \
	e2e_wait bash -c "grep -q '^ejected $DEAD2:9100' '$TABLE/status' && grep -q '^ejected $DEAD3:9100' '$TABLE/status'"
both=$(for ip in $DEAD2 $DEAD3; do ep_state two "$ip"; done | sort | tr '\n' ' ')
check_eq "the table orders out one of them, not both (max 50%)" "ejected ready " "$both"
check_match "two of two's three pods stay chosen" '2/3 ready' "$("$CTL" -t "$TABLE" services | grep ' two ')"

# solo: its only pod refuses: all ejected means all used
report $SOLO 9100
check "the agent's probe finds solo's only pod refusing" e2e_wait ejected_in_status $SOLO
check_eq "the table keeps it chosen: never all ejected" ready "$(ep_state solo $SOLO)"
check_match "solo still has its one chosen pod" '1/1 ready' "$("$CTL" -t "$TABLE" services | grep ' solo ')"
check_nomatch "a report naming no backend of the table was ignored" "10\.244\.7\.7" \
	"$(cat "$E2E_TMP/agent.log" "$TABLE/status")"
e2e_done
