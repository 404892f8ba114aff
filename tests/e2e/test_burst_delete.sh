#!/usr/bin/env bash
# rm -rf of a manifest folder of 4,000 files, ten times (issue 9, item 11):
# the deletions arrive one file at a time, before the folder's own; the
# table must never lose a service on the way (the folder going away keeps
# the last good state), and a folder that comes back is published again.
# Every generation published is checked through ldmeshctl's JSON.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup
N=${LDMESH_BURST_FILES:-4000}
ROUNDS=${LDMESH_BURST_ROUNDS:-10}

# the last file's Service: its address, and its port in round $1, which
# tells the agent has read the folder through that file
LAST=svc-$((N - 1))
# (file i has address offset i + 1: the CIDR's network address, 10.96.0.0,
# is no ClusterIP)
LAST_IP=10.$((96 + (N >> 16))).$(((N >> 8) & 255)).$((N & 255))
last_port() { echo $((1000 + $1)); }

fill() { # ROUND: write N one-Service files into $MANIFESTS, in order
	"$PY" - "$MANIFESTS" "$N" "$(last_port "$1")" <<'PY'
import os, sys
d, n, last_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(d, exist_ok=True)
for i in range(n):
    tmp = os.path.join(d, ".svc-%d.tmp" % i)
    with open(tmp, "w") as f:
        f.write("apiVersion: v1\nkind: Service\nmetadata: {name: svc-%d}\n"
                "spec: {clusterIP: 10.%d.%d.%d, ports: [{port: %d}]}\n"
                % (i, 96 + ((i + 1) >> 16), ((i + 1) >> 8) & 255, (i + 1) & 255,
                   last_port if i == n - 1 else 80))
    os.rename(tmp, os.path.join(d, "svc-%d.yaml" % i))
PY
}
services() { "$CTL" -t "$TABLE" -o json status 2>/dev/null | sed -n 's/.*"services":\([0-9]*\).*/\1/p'; }
# wait (bounded, 60 s) until the table holds N services
full() {
	for _ in $(seq 1200); do [ "$(services)" = "$N" ] && return 0; sleep 0.05; done
	return 1
}

fill 0
"$AGENT" -v -m "$MANIFESTS" -t "$TABLE" >>"$E2E_TMP/agent.log" 2>&1 &
E2E_AGENT_PID=$!; e2e_track $E2E_AGENT_PID
check "the agent publishes all $N services" full
partial=0 unread=0
for r in $(seq "$ROUNDS"); do
	g=$(e2e_gen)
	seen=$(grep -c "keeping the last good objects" "$E2E_TMP/agent.log" || true)
	rm -rf "$MANIFESTS"
	# the agent noticed the folder is gone (bounded wait on its log)
	for _ in $(seq 400); do
		[ "$(grep -c "keeping the last good objects" "$E2E_TMP/agent.log" || true)" -gt "$seen" ] && break
		sleep 0.05
	done
	if [ "$(services)" != "$N" ] || [ "$(e2e_gen)" != "$g" ]; then
		partial=$((partial + 1))
		e2e_log "round $r: generation $(e2e_gen) (was $g) holds $(services) services"
	fi
	# the folder comes back: wait until the agent has read all of it (the
	# last file, written last, carries this round's port: events come in
	# order, and a rescan reads the folder whole) so the next round
	# deletes a folder the agent knows whole. While a folder is being
	# refilled its content is published as it appears; that is
	# population, not the deletion this test is about.
	fill "$r"
	read_all=0
	for _ in $(seq 1200); do
		if "$CTL" -t "$TABLE" route "$LAST_IP:$(last_port "$r")" >/dev/null 2>&1; then
			read_all=1
			break
		fi
		sleep 0.05
	done
	if [ "$read_all" != 1 ]; then
		unread=$((unread + 1))
		e2e_log "round $r: $LAST on port $(last_port "$r") not published in 60 s"
	fi
	full || e2e_log "round $r: the folder's return was not published in 60 s"
done
check_eq "$ROUNDS rm -rf of $N files: no generation ever published a partial table" 0 "$partial"
check_eq "... and each time the folder came back, the agent read it through its last file" \
	0 "$unread"
check "after the last return the table is whole" full
check "the agent said it held the table" \
	grep -q "holding the table" "$E2E_TMP/agent.log"
e2e_done
