#!/usr/bin/env bash
# Agent faults end to end (issue 4):
#  1. SIGKILL at random moments while it publishes (>= 500 publishes over
#     KILLS restarts) with a churning manifest; a reader loop runs
#     `ldmeshctl status` the whole time, at least once between two kills,
#     and must never fail once a table existed; every restarted agent keeps
#     the generation increasing and publishes the same allocated ClusterIP
#     (service without clusterIP). It runs until both counts are reached.
#  2. The table's filesystem full: test_agent_full_disk.sh.
#  3. Hostile manifest folder entries: a FIFO named x.yaml (the agent must
#     not block on it), a directory named y.yaml, and a file replaced by
#     rename in a tight loop while the agent reads: the agent survives and
#     ends with the state of the last good content.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

KILLS=${LDMESH_FAULT_KILLS:-12}
PUBLISHES=${LDMESH_FAULT_PUBLISHES:-500}
# part 1 runs until both counts are reached, however long that takes on a
# busy machine (460 publishes took 150 s on 2 cores with both busy); this
# only stops a run that cannot get there (tests/CMakeLists.txt's timeout
# leaves room for it and part 3)
BACKSTOP_S=${LDMESH_FAULT_BACKSTOP_S:-1200}

# churn N: a manifest whose endpoint set depends on N
churn() {
	local n=$1
	cat <<-YAML
	apiVersion: v1
	kind: Service
	metadata: {name: alloc, namespace: default}
	spec:
	  selector: {app: alloc}
	  ports: [{port: 80, targetPort: 8080}]
	---
	apiVersion: v1
	kind: Pod
	metadata: {name: a-$n, namespace: default, labels: {app: alloc}}
	status: {phase: Running, podIP: 10.244.9.$((n % 250 + 1)), conditions: [{type: Ready, status: "True"}]}
	YAML
}

# ---- 1. SIGKILL during publishes ------------------------------------------
churn 0 | e2e_put churn.yaml
e2e_agent
CIP0=$(e2e_cluster_ip alloc)
check_match "allocated ClusterIP before the kills" '^10\.(9[6-9]|10[0-9]|11[01])\.' "$CIP0"

# reader: ldmeshctl status in a loop, one line per run in reader.runs
# ("ok" or "fail"), every failure's message in reader.err
RUNS=$E2E_TMP/reader.runs
: >"$RUNS"
( while [ ! -e "$E2E_TMP/stop.reader" ]; do
	if "$CTL" -t "$TABLE" status >/dev/null 2>"$E2E_TMP/reader.err.1"; then
		echo ok >>"$RUNS"
	else
		echo fail >>"$RUNS"; cat "$E2E_TMP/reader.err.1" >>"$E2E_TMP/reader.err"
	fi
  done ) &
READER=$!
e2e_track "$READER"

g_first=$(e2e_gen)
g_prev=$g_first
n=1 kills=0 backwards=0 ipchanged=0 unread=0
t_end=$((SECONDS + BACKSTOP_S))
while [ "$kills" -lt "$KILLS" ] || [ $((g_prev - g_first)) -lt "$PUBLISHES" ]; do
	if [ "$SECONDS" -ge "$t_end" ]; then
		e2e_log "the backstop ($BACKSTOP_S s) ended part 1 before its counts were reached"
		break
	fi
	# let it run a random 30..300 ms while the manifest churns
	budget=$((30 + RANDOM % 270))
	t0=$(date +%s%N)
	while [ $((($(date +%s%N) - t0) / 1000000)) -lt "$budget" ]; do
		churn "$n" | e2e_put churn.yaml
		n=$((n + 1))
	done
	kill -9 "$E2E_AGENT_PID"; wait "$E2E_AGENT_PID" 2>/dev/null || true
	kills=$((kills + 1))
	g=$(e2e_gen)
	[ "$g" -ge "$g_prev" ] || backwards=$((backwards + 1))
	# restart; it must publish again (the folder changed) past $g
	churn "$n" | e2e_put churn.yaml
	n=$((n + 1))
	"$AGENT" -m "$MANIFESTS" -t "$TABLE" >>"$E2E_TMP/agent.log" 2>&1 &
	E2E_AGENT_PID=$!
	e2e_track "$E2E_AGENT_PID"
	g2=$(e2e_wait_gen_after "$g") || { not_ok "restart $kills published nothing after gen $g"; break; }
	cip=$(e2e_cluster_ip alloc)
	[ "$cip" = "$CIP0" ] || { ipchanged=$((ipchanged + 1)); e2e_log "restart $kills: ClusterIP $cip"; }
	g_prev=$g2
	# the reader reads this agent's table at least once before the next kill
	mark=$(wc -l <"$RUNS")
	e2e_wait e2e_lines_past "$RUNS" "$mark" . || unread=$((unread + 1))
done
touch "$E2E_TMP/stop.reader"
wait "$READER" 2>/dev/null || true
runs=$(wc -l <"$RUNS")
fails=$(grep -c fail "$RUNS" || true)
e2e_log "kills $kills, generations $g_first -> $g_prev ($((g_prev - g_first)) publishes), reader ran ldmeshctl $runs times"
check_ge "agent SIGKILLed at random moments" "$KILLS" "$kills"
check_ge "publishes survived (the loop ran until there were enough)" "$PUBLISHES" "$((g_prev - g_first))"
check_eq "ldmeshctl status never failed once a table existed" 0 "$fails"
[ "$fails" -eq 0 ] || head -n 5 "$E2E_TMP/reader.err" | sed 's/^/#   /'
check_eq "the reader read the table between every two kills" 0 "$unread"
check_eq "generation never went backwards across restarts" 0 "$backwards"
check_eq "restarted agents publish the same allocated ClusterIP" 0 "$ipchanged"
nsnaps=$(find "$TABLE" -name 'snap.*' | wc -l)
# the current and previous snapshots, and the base each delta among them
# builds on
check "at most the current and previous snapshots and their bases remain ($nsnaps)" \
	test "$nsnaps" -le 4

# ---- 3. hostile folder entries ----------------------------------------------
mkfifo "$MANIFESTS/x.yaml"
mkdir "$MANIFESTS/y.yaml"
g=$(e2e_gen)
e2e_put stable.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: stable, namespace: default}
spec: {clusterIP: 10.96.0.95, ports: [{port: 80}]}
YAML
published_after() { e2e_wait_gen_after "$1" >/dev/null; }
check "agent publishes with a FIFO and a directory named *.yaml present (no block)" published_after "$g"
# replace swap.yaml by rename in a tight loop while the agent reads it
for i in $(seq 1 300); do
	printf 'apiVersion: v1\nkind: Service\nmetadata: {name: swap, namespace: default}\nspec: {clusterIP: 10.96.1.%d, ports: [{port: 80}]}\n' $((i % 200 + 1)) >"$E2E_TMP/swap.tmp"
	mv "$E2E_TMP/swap.tmp" "$MANIFESTS/swap.yaml"
done
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: swap, namespace: default}\nspec: {clusterIP: 10.96.1.250, ports: [{port: 80}]}\n' >"$E2E_TMP/swap.tmp"
mv "$E2E_TMP/swap.tmp" "$MANIFESTS/swap.yaml"
swap_last() { [ "$(e2e_cluster_ip swap 2>/dev/null)" = 10.96.1.250 ]; }
ok_swap=0
e2e_wait swap_last && ok_swap=1
check "agent alive after the FIFO, directory and rename storm" kill -0 "$E2E_AGENT_PID"
check_eq "state consistent: the last content of swap.yaml is in force" 1 "$ok_swap"
check_eq "the other services stayed" 10.96.0.95 "$(e2e_cluster_ip stable)"
check_eq "the allocated ClusterIP stayed" "$CIP0" "$(e2e_cluster_ip alloc)"
rm -f "$MANIFESTS/x.yaml"; rmdir "$MANIFESTS/y.yaml"
kill "$E2E_AGENT_PID"; wait "$E2E_AGENT_PID" 2>/dev/null || true

e2e_done
