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

fill() { # write N one-Service files into $MANIFESTS
	"$PY" - "$MANIFESTS" "$N" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
for i in range(n):
    tmp = os.path.join(d, ".svc-%d.tmp" % i)
    with open(tmp, "w") as f:
        f.write("apiVersion: v1\nkind: Service\nmetadata: {name: svc-%d}\n"
                "spec: {clusterIP: 10.%d.%d.%d, ports: [{port: 80}]}\n"
                % (i, 96 + (i >> 16), (i >> 8) & 255, i & 255))
    os.rename(tmp, os.path.join(d, "svc-%d.yaml" % i))
PY
}
services() { "$CTL" -t "$TABLE" -o json status 2>/dev/null | sed -n 's/.*"services":\([0-9]*\).*/\1/p'; }
# wait (bounded, 60 s) until the table holds N services
full() {
	for _ in $(seq 1200); do [ "$(services)" = "$N" ] && return 0; sleep 0.05; done
	return 1
}

fill
"$AGENT" -v -m "$MANIFESTS" -t "$TABLE" >>"$E2E_TMP/agent.log" 2>&1 &
E2E_AGENT_PID=$!; e2e_track $E2E_AGENT_PID
check "the agent publishes all $N services" full
partial=0
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
	# the folder comes back: wait until the agent has read all of it (a
	# publish, or "no change" for identical content, after the last file)
	# so the next round deletes a folder the agent knows whole. While a
	# folder is being refilled its content is published as it appears;
	# that is population, not the deletion this test is about.
	last="svc-$((N - 1))\.yaml"
	read_before=$(grep -c "changed: .*/$last" "$E2E_TMP/agent.log" || true)
	fill
	for _ in $(seq 1200); do
		# the line of this round's read of the last file, and of the
		# last publish (or "no change"): done when the second follows
		read_at=$( (grep -n "changed: .*/$last" "$E2E_TMP/agent.log" || true) |
			sed -n "$((read_before + 1))p" | cut -d: -f1)
		done_at=$( (grep -nE "no change; generation|published generation" "$E2E_TMP/agent.log" || true) |
			tail -n1 | cut -d: -f1)
		[ -n "$read_at" ] && [ -n "$done_at" ] && [ "$done_at" -gt "$read_at" ] &&
			[ "$(services)" = "$N" ] && break
		sleep 0.05
	done
	full || e2e_log "round $r: the folder's return was not published in 60 s"
done
check_eq "$ROUNDS rm -rf of $N files: no generation ever published a partial table" 0 "$partial"
check "after the last return the table is whole" full
check "the agent said it held the table" \
	grep -q "holding the table" "$E2E_TMP/agent.log"
e2e_done
