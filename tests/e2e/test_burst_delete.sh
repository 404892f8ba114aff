#!/usr/bin/env bash
# Removing the manifest folder of 4,000 files (issue 9, item 11; issue 21,
# item 16): the deletions arrive one file at a time, before the folder's
# own; the table must never lose a service on the way (the folder going
# away keeps the last good state), however fast or slow the removal runs,
# and a folder that comes back is published again.
#
# Rounds, each removing a folder the agent has read whole:
#   1. a folder of 8 subdirectories removed depth first as rm -rf does, with
#      a 0.6 s pause after every tenth of the files and after each
#      subdirectory: a removal that stalls on a loaded machine;
#   2. a flat folder removed one file every 3 ms (over 12 s), then itself:
#      a removal slower than any fixed cap on its length;
#   3.. `rm -rf` of a flat folder, as fast as it goes.
# Each pause (0.6 s) is shorter than the agent's settle period (2 s) by a
# wide margin: the only speed this test assumes.
#
# Every generation published while the folder goes is checked through the
# agent's log, which names each one with its service count, and the table
# itself through ldmeshctl's JSON afterwards.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup
N=${LDMESH_BURST_FILES:-4000}
ROUNDS=${LDMESH_BURST_ROUNDS:-10}
LOG=$E2E_TMP/agent.log

# the last file's Service: its address, and its port in round $1, which
# tells the agent has read the folder through that file
LAST=svc-$((N - 1))
# (file i has address offset i + 1: the CIDR's network address, 10.96.0.0,
# is no ClusterIP)
LAST_IP=10.$((96 + (N >> 16))).$(((N >> 8) & 255)).$((N & 255))
last_port() { echo $((1000 + $1)); }

fill() { # ROUND DIRS: write N one-Service files into $MANIFESTS (spread
	# over DIRS subdirectories when DIRS > 0), in order, the last one last
	"$PY" - "$MANIFESTS" "$N" "$(last_port "$1")" "$2" <<'PY'
import os, sys
d, n, last_port, dirs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
os.makedirs(d, exist_ok=True)
for i in range(n):
    sub = os.path.join(d, "d%d" % (i * dirs // n)) if dirs else d
    os.makedirs(sub, exist_ok=True)
    tmp = os.path.join(sub, ".svc-%d.tmp" % i)
    with open(tmp, "w") as f:
        f.write("apiVersion: v1\nkind: Service\nmetadata: {name: svc-%d}\n"
                "spec: {clusterIP: 10.%d.%d.%d, ports: [{port: %d}]}\n"
                % (i, 96 + ((i + 1) >> 16), ((i + 1) >> 8) & 255, (i + 1) & 255,
                   last_port if i == n - 1 else 80))
    os.rename(tmp, os.path.join(sub, "svc-%d.yaml" % i))
PY
}

slow_rm() { # PAUSE EVERY: remove $MANIFESTS depth first, as rm -rf does,
	# sleeping PAUSE s after every EVERY files and after each directory
	"$PY" - "$MANIFESTS" "$1" "$2" <<'PY'
import os, sys, time
root, pause, every = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
done = 0
for top, dirs, files in os.walk(root, topdown=False):
    for f in files:
        os.unlink(os.path.join(top, f))
        done += 1
        if done % every == 0:
            time.sleep(pause)
    os.rmdir(top)
    if top != root:
        time.sleep(pause)
PY
}

services() { "$CTL" -t "$TABLE" -o json status 2>/dev/null | sed -n 's/.*"services":\([0-9]*\).*/\1/p'; }
full() { [ "$(services)" = "$N" ]; }
last_read() { "$CTL" -t "$TABLE" route "$LAST_IP:$(last_port "$1")" >/dev/null 2>&1; }
MISSING="is missing; keeping the last good objects"

fill 0 8 # round 1's layout; the folder comes back flat
"$AGENT" -v -m "$MANIFESTS" -t "$TABLE" >>"$LOG" 2>&1 &
E2E_AGENT_PID=$!; e2e_track $E2E_AGENT_PID
check "the agent publishes all $N services" e2e_wait full
partial=0 unnoticed=0 unread=0
for r in $(seq "$ROUNDS"); do
	mark=$(wc -l <"$LOG")
	seen=$(grep -c "$MISSING" "$LOG" || true)
	case $r in
	1) slow_rm 0.6 $((N / 10)); how="removed slowly, with pauses" ;;
	2) slow_rm 0.003 1; how="removed one file every 3 ms" ;;
	*) rm -rf "$MANIFESTS"; how="rm -rf" ;;
	esac
	# the agent saw the folder go (its log says so)
	if ! e2e_wait e2e_lines_past "$LOG" "$seen" "$MISSING"; then
		unnoticed=$((unnoticed + 1))
		e2e_log "round $r ($how): the agent never said the folder was missing"
	fi
	# every generation published since the removal began, and the table now
	published=$(tail -n +"$((mark + 1))" "$LOG" | grep -E 'published generation|announced generation' || true)
	short=$(grep -E ': [0-9]+ services' <<<"$published" | grep -v ": $N services" || true)
	if [ -n "$short" ] || ! full; then
		partial=$((partial + 1))
		e2e_log "round $r ($how): the table holds $(services) services; published meanwhile:"
		head -n 5 <<<"$short" | sed 's/^/#   /'
	fi
	# the folder comes back: wait until the agent has read all of it (the last file, written last, carries this round's port:
	# events come in order, and a rescan reads the folder whole) so the
	# next round removes a folder the agent knows whole. While a folder is
	# refilled its content is published as it appears; that is
	# population, not the removal this test is about.
	fill "$r" 0
	if ! e2e_wait last_read "$r"; then
		unread=$((unread + 1))
		e2e_log "round $r: $LAST on port $(last_port "$r") never published"
	fi
	e2e_wait full || e2e_log "round $r: the folder's return was never published whole"
done
check_eq "$ROUNDS removals of $N files: the agent saw the folder go each time" 0 "$unnoticed"
check_eq "... and no generation published meanwhile lacked a service" 0 "$partial"
check_eq "... and each time the folder came back, the agent read it through its last file" \
	0 "$unread"
check "after the last return the table is whole" full
check "the agent said it held the table" grep -q "holding the table" "$LOG"
e2e_done
