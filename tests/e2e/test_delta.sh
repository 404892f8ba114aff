#!/usr/bin/env bash
# Edits published as deltas over a base (snapshot format 3). With 400 other
# Services in the table: an endpoint edit and a port edit each publish a
# delta a fraction of the base's size, which a long-lived client follows and
# ldmeshctl lists whole; a full resolve publishes what it changed as a
# delta over the base, and nothing when it changed nothing; a Service with
# its own clusterIP comes and goes in a delta, and so does one needing an
# address allocated, which gets the address a full resolve would give it;
# two needing addresses in one edit are ordered table-wide, in full, and
# published as a delta too; an
# edit touching more services than a delta may hold is a delta folded into
# a new base by the next generation; a
# restarted agent keeps the current file and its base, publishes a delta
# over that base, and clients never lose the table.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

C="$PY $E2E_DIR/pyclient.py"
OTHERS=400

# Services other-0..399 (no endpoints): the bulk a delta must not rewrite.
# $1 changes their port, so one edit can touch them all; $2, other-0's
# alone.
put_others() {
	local i
	for i in $(seq 0 $((OTHERS - 1))); do
		printf -- '---\napiVersion: v1\nkind: Service\nmetadata: {name: other-%d, namespace: bulk}\n' "$i"
		printf 'spec:\n  clusterIP: 10.97.%d.%d\n  ports: [{port: %d}]\n' $((i / 250)) $((i % 250 + 1)) \
			"$([ "$i" = 0 ] && echo "${2:-$1}" || echo "$1")"
	done | e2e_put others.yaml
}

# The agent's word on what generation $1 is: "base" or "delta over N".
kind_of() {
	sed -n "s/.*published generation $1 (\([^)]*\)).*/\1/p" "$E2E_TMP/agent.log" | tail -n1
}

# Service web's slice listing IP with port PORT (the Service's targetPort
# follows it, so a port edit is a Service edit too); with a third argument
# "node", a Node object too, which makes any edit of the file one the
# agent resolves in full.
put_web_at() {
	{
		E2E_WEB_PORT=$2 e2e_web_yaml "$1"
		if [ "${3:-}" = node ]; then
			printf -- '---\napiVersion: v1\nkind: Node\nmetadata: {name: elsewhere}\n'
		fi
	} | e2e_put web.yaml
}

e2e_add_ip 10.244.1.5 10.244.2.5 10.244.3.5
e2e_pod 10.244.1.5 9100 banner
e2e_pod 10.244.2.5 9100 banner
e2e_pod 10.244.3.5 9200 banner
put_others 80
put_web_at 10.244.1.5 9100
e2e_agent -v
BASE=$(e2e_gen)
check_eq "generation $BASE is a base" base "$(kind_of "$BASE")"
BASE_SIZE=$(stat -c %s "$TABLE/snap.$BASE")

e2e_rounds web 9000 5
R=$E2E_ROUNDS
e2e_round 1
check_eq "round 1 reaches 10.244.1.5" 5 "$(grep -c '^10\.244\.1\.5$' "$R/out.1" || true)"

# 1. An endpoint edit: a delta over the base, a fraction of its size.
put_web_at 10.244.2.5 9100
G=$(e2e_wait_gen_after "$BASE") || G=0
check_eq "the endpoint edit is generation $G, a delta over $BASE" "delta over $BASE" "$(kind_of "$G")"
SIZE=$(stat -c %s "$TABLE/snap.$G" 2>/dev/null || echo 0)
check "the delta ($SIZE bytes) is under a tenth of the base ($BASE_SIZE bytes)" \
	test "$SIZE" -gt 0 -a "$((SIZE * 10))" -lt "$BASE_SIZE"
check "the base snap.$BASE stays while a delta over it is current" test -f "$TABLE/snap.$BASE"
e2e_round 2
check_eq "round 2: the same process follows the delta to 10.244.2.5" 5 \
	"$(grep -c '^10\.244\.2\.5$' "$R/out.2" || true)"
out=$(pl $C connect 10.96.0.80 9000 3 2>&1 || true)
check_eq "a new process reads base and delta: 10.244.2.5" 3 "$(printf '%s\n' "$out" | grep -c '^10\.244\.2\.5$' || true)"
listed=$("$CTL" -t "$TABLE" services | grep -c 'other-' || true)
check_eq "ldmeshctl lists the base's services through the delta" "$OTHERS" "$listed"
check_match "ldmeshctl route shows the edited backend" '10\.244\.2\.5' \
	"$("$CTL" -t "$TABLE" route 10.96.0.80:9000 2>&1)"

# 2. A port edit (Service and slice): still a delta, still over the base.
put_web_at 10.244.3.5 9200
G2=$(e2e_wait_gen_after "$G") || G2=0
check_eq "the port edit is a delta over $BASE" "delta over $BASE" "$(kind_of "$G2")"
e2e_round 3
check_eq "round 3: 10.244.3.5:9200 answers" 5 "$(grep -c '^10\.244\.3\.5$' "$R/out.3" || true)"

# 3. Editing it back to what the base says: the delta holds nothing of web,
# and the client is back on 10.244.1.5.
put_web_at 10.244.1.5 9100
G3=$(e2e_wait_gen_after "$G2") || G3=0
e2e_round 4
check_eq "round 4: back to the base's 10.244.1.5" 5 "$(grep -c '^10\.244\.1\.5$' "$R/out.4" || true)"

# 3b. A full resolve (web.yaml now holds a Node) that changes no service,
# while a delta is current: nothing is published.
nochange() { # GEN N: wait until the agent said "no change" about GEN N times
	e2e_wait e2e_lines_past "$E2E_TMP/agent.log" "$(($2 - 1))" "no change; generation $1 stays"
}
put_web_at 10.244.1.5 9100 node
check "a full resolve that changes no service publishes nothing" nochange "$G3" 1
# 3c. A full resolve that changes one service: a delta over the base
# readers have, the size of the change (readers map that, not a new
# base). The same file again: nothing.
put_web_at 10.244.2.5 9100 node
G3B=$(e2e_wait_gen_after "$G3") || G3B=0
check_eq "a full resolve changing one service is a delta over $BASE (generation $G3B)" \
	"delta over $BASE" "$(kind_of "$G3B")"
SIZE=$(stat -c %s "$TABLE/snap.$G3B" 2>/dev/null || echo 0)
check "... under a tenth of the base ($SIZE of $BASE_SIZE bytes)" \
	test "$SIZE" -gt 0 -a "$((SIZE * 10))" -lt "$BASE_SIZE"
cp "$MANIFESTS/web.yaml" "$E2E_TMP/same.yaml" && mv "$E2E_TMP/same.yaml" "$MANIFESTS/web.yaml"
check "the same table resolved in full again publishes nothing" nochange "$G3B" 1
put_others 80 82
G3C=$(e2e_wait_gen_after "$G3B") || G3C=0
check_eq "the next edit is a delta over $BASE" "delta over $BASE" "$(kind_of "$G3C")"
check_match "ldmeshctl reads it: other-0 on its new port" 'other-0' \
	"$("$CTL" -t "$TABLE" route 10.97.0.1:82 2>&1)"
e2e_round 5
check_eq "round 5: the same process follows the full resolve's delta to 10.244.2.5" 5 \
	"$(grep -c '^10\.244\.2\.5$' "$R/out.5" || true)"
put_web_at 10.244.1.5 9100
G3=$(e2e_wait_gen_after "$G3C") || G3=0

# 4. Touching a file without changing it publishes nothing: the next
# generation is the next edit's. 5. A new Service: a new base.
# (each waited for in the agent's log, so neither hides in the next edit's
# batch)
unchanged() { nochange "$G3" "$1"; }
touch "$MANIFESTS/web.yaml"
check "touching web.yaml: no change, generation $G3 stays" unchanged 1
cp "$MANIFESTS/web.yaml" "$E2E_TMP/same.yaml" && mv "$E2E_TMP/same.yaml" "$MANIFESTS/web.yaml"
check "replacing web.yaml with the same text: no change" unchanged 2
e2e_put extra.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: extra, namespace: default}
spec:
  clusterIP: 10.96.0.81
  ports: [{port: 1}]
YAML
G4=$(e2e_wait_gen_after "$G3") || G4=0
check_eq "rewriting web.yaml unchanged published nothing" $((G3 + 1)) "$G4"
check_eq "adding a Service with its own clusterIP is a delta (generation $G4)" \
	"delta over $BASE" "$(kind_of "$G4")"
check_eq "ldmeshctl resolves the new Service" 10.96.0.81 "$(e2e_cluster_ip extra)"
# one without a clusterIP needs an address allocated: alone in its edit,
# in place, the address a full resolve gives it (default/extra hashes to
# 10.103.234.53), in a delta
e2e_put extra.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: extra, namespace: default}
spec:
  ports: [{port: 1}]
YAML
G4A=$(e2e_wait_gen_after "$G4") || G4A=0
check_eq "a Service needing an address allocated is a delta (generation $G4A)" \
	"delta over $BASE" "$(kind_of "$G4A")"
check_eq "... and gets the one a full resolve gives it" 10.103.234.53 "$(e2e_cluster_ip extra)"
# two at once are ordered by age and name across the table: a full resolve
for name in extra extra-2 extra-3; do
	printf -- '---\napiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: default}\n' "$name"
	printf 'spec:\n  ports: [{port: 1}]\n'
done | e2e_put extra.yaml
G4B=$(e2e_wait_gen_after "$G4A") || G4B=0
check_eq "two Services needing addresses in one edit, resolved in full, are a delta (generation $G4B)" \
	"delta over $BASE" "$(kind_of "$G4B")"
check_eq "... extra keeps its address" 10.103.234.53 "$(e2e_cluster_ip extra)"
check_match "... and the others get theirs" '^10\.(9[6-9]|10[0-9]|11[01])\..* 10\.(9[6-9]|10[0-9]|11[01])\.' \
	"$(e2e_cluster_ip extra-2) $(e2e_cluster_ip extra-3)"
rm "$MANIFESTS/extra.yaml"
G4=$(e2e_wait_gen_after "$G4B") || G4=0
check_eq "removing Services is a delta (generation $G4)" "delta over $BASE" "$(kind_of "$G4")"
check_eq "ldmeshctl no longer resolves them" "" \
	"$(e2e_cluster_ip extra 2>/dev/null || true)$(e2e_cluster_ip extra-2 2>/dev/null || true)"

# 6. An edit touching every other Service: past what a delta may hold. It
# is published as a delta all the same, so it is seen at once, and the
# next generation folds the table into a new base, announced ahead and
# made current a few seconds later. A process looking a name up every
# 100 ms (traced) runs its once-a-second check inside that lead, maps
# the announced base there, warms the name it looks up in it, and switches
# to it without a system call. So does ldmesh-exec's supervisor for a
# program connecting to web's ClusterIP every 100 ms.
pl env LDMESH_TRACE=1 LDMESH_TRACE_FILE="$E2E_TMP/looker.trace" "$PY" -c '
import os, socket, sys, time
end = time.time() + 900
while time.time() < end and not os.path.exists(sys.argv[1]):
    socket.getaddrinfo("web", 9000)
    time.sleep(0.1)
' "$E2E_TMP/looker.stop" &
e2e_track $!
env LDMESH_TABLE="$TABLE" LDMESH_TRACE=1 LDMESH_TRACE_FILE="$E2E_TMP/exec.trace" "$EXEC" \
	"$PY" -c '
import os, socket, sys, time
end = time.time() + 900
while time.time() < end and not os.path.exists(sys.argv[1]):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("10.96.0.80", 9000))
    except OSError:
        pass
    s.close()
    time.sleep(0.1)
' "$E2E_TMP/looker.stop" >/dev/null 2>&1 &
e2e_track $!
e2e_wait_file "$E2E_TMP/looker.trace" || not_ok "the traced process wrote no trace"
e2e_wait_file "$E2E_TMP/exec.trace" || not_ok "the traced supervisor wrote no trace"
put_others 81 81
G5D=$((G4 + 1)) # one file, one generation; the fold is the one after
G5=$(e2e_wait_gen_after "$G5D") || G5=0
check_eq "an edit of $OTHERS services is a delta first (generation $G5D)" "delta over $BASE" \
	"$(kind_of "$G5D")"
check_eq "... folded into a base by the next generation ($G5)" \
	"base, the deltas folded" "$(kind_of "$G5")"
check_eq "... announced ahead first, so that readers map it before it is current" 1 \
	"$(grep -c "announced generation $G5 (base, the deltas folded)" "$E2E_TMP/agent.log" || true)"
# both switch at their first lookup after the fold is current: wait for
# that (or the deadline) before stopping them
e2e_wait grep -q "table gen=$G5 switched" "$E2E_TMP/looker.trace" || true
e2e_wait grep -q "table gen=$G5 switched" "$E2E_TMP/exec.trace" || true
touch "$E2E_TMP/looker.stop"
check_eq "a process looking up every 100 ms mapped it ahead, warmed its name, then switched to it that way" \
	"table gen=$G5 mapped ahead (announced, not current yet), warmed for 1 key this process looked up|table gen=$G5 switched (mapped ahead)" \
	"$(grep -o "table gen=$G5 .*" "$E2E_TMP/looker.trace" | paste -sd '|')"
check_eq "... and ldmesh-exec's supervisor, warming the ClusterIP its program connects to" \
	"table gen=$G5 mapped ahead (announced, not current yet), warmed for 1 key this process looked up|table gen=$G5 switched (mapped ahead)" \
	"$(grep -o "table gen=$G5 .*" "$E2E_TMP/exec.trace" | paste -sd '|')"
check_match "ldmeshctl routes other-7 on its new port" 'other-7' \
	"$("$CTL" -t "$TABLE" route 10.97.0.8:81 2>&1)"
put_web_at 10.244.2.5 9100
G6=$(e2e_wait_gen_after "$G5") || G6=0
check_eq "the next endpoint edit is a delta over $G5" "delta over $G5" "$(kind_of "$G6")"
e2e_round 6
check_eq "round 6: 10.244.2.5" 5 "$(grep -c '^10\.244\.2\.5$' "$R/out.6" || true)"

# 6b. An edit while the next fold's base is announced and not current
# yet: a delta over that base all the same, the number after it (whether
# the base became current first or not, as the machine's speed has it),
# and the long-lived client follows it.
put_others 83 83
G8D=$(e2e_wait_gen_after "$G6") || G8D=0
G8A=$((G8D + 1))
announced() { e2e_wait grep -q "announced generation $G8A " "$E2E_TMP/agent.log"; }
check "another edit of $OTHERS services: generation $G8A announced ahead" announced
put_web_at 10.244.3.5 9200
G8=$(e2e_wait_gen_after "$G8A") || G8=0
check_eq "the edit right after it is generation $((G8A + 1))" "$((G8A + 1))" "$G8"
check_eq "... a delta over the announced base" "delta over $G8A" "$(kind_of "$G8")"
if grep -q "published generation $G8A " "$E2E_TMP/agent.log"; then
	echo "# $G8A became current before the edit was published"
else
	echo "# the edit was published while $G8A was announced: it never became current"
fi
e2e_round 7
check_eq "round 7: 10.244.3.5:9200" 5 "$(grep -c '^10\.244\.3\.5$' "$R/out.7" || true)"

# 7. A restart keeps the current delta and its base; the new agent
# publishes a delta over that base (issue 26: its cache rebuilt from it),
# and the client never loses the table.
kill "$E2E_AGENT_PID"
e2e_wait e2e_gone "$E2E_AGENT_PID" || e2e_die "the agent did not exit on SIGTERM"
"$AGENT" -v -m "$MANIFESTS" -t "$TABLE" >>"$E2E_TMP/agent.log" 2>&1 &
E2E_AGENT_PID=$!
e2e_track "$E2E_AGENT_PID"
G7=$(e2e_wait_gen_after "$G8") || G7=0
check_eq "the restarted agent publishes a delta over $G8A (generation $G7)" "delta over $G8A" \
	"$(kind_of "$G7")"
e2e_round 8
check_eq "round 8: the long-lived client still reaches 10.244.3.5" 5 \
	"$(grep -c '^10\.244\.3\.5$' "$R/out.8" || true)"
touch "$R/stop"

e2e_done
