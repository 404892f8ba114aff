#!/usr/bin/env bash
# Agent faults end to end (issue 4):
#  1. SIGKILL at random moments while it publishes (>= 500 publishes over
#     KILLS restarts) with a churning manifest; a reader loop runs
#     `ldmeshctl status` the whole time and must never fail once a table
#     existed; every restarted agent keeps the generation increasing and
#     publishes the same allocated ClusterIP (service without clusterIP).
#  2. Table filesystem full (a 256 KiB tmpfs in a private mount namespace):
#     a clear "No space left on device ... stays in force" error line, the
#     last snapshot stays in force, publishing resumes once space returns.
#  3. Hostile manifest folder entries: a FIFO named x.yaml (the agent must
#     not block on it), a directory named y.yaml, and a file replaced by
#     rename in a tight loop while the agent reads: the agent survives and
#     ends with the state of the last good content.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

KILLS=${LDMESH_FAULT_KILLS:-12}
PUBLISHES=${LDMESH_FAULT_PUBLISHES:-500}

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

# reader: ldmeshctl status in a loop; logs every failure
( fails=0 runs=0
  while [ ! -e "$E2E_TMP/stop.reader" ]; do
	if ! "$CTL" -t "$TABLE" status >/dev/null 2>"$E2E_TMP/reader.err.1"; then
		fails=$((fails + 1)); cat "$E2E_TMP/reader.err.1" >>"$E2E_TMP/reader.err"
	fi
	runs=$((runs + 1))
  done
  echo "$runs $fails" >"$E2E_TMP/reader.result" ) &
READER=$!
e2e_track "$READER"

g_first=$(e2e_gen)
g_prev=$g_first
n=1 kills=0 backwards=0 ipchanged=0
# a loaded CI machine publishes more slowly (460 publishes in 150 s seen on
# a 2-core machine with both cores busy): the counts are the goal, the clock
# only a backstop, leaving the other parts three minutes of the ctest
# timeout (tests/CMakeLists.txt)
t_end=$(($(date +%s) + 240))
while [ "$kills" -lt "$KILLS" ] || [ $((g_prev - g_first)) -lt "$PUBLISHES" ]; do
	[ "$(date +%s)" -lt "$t_end" ] || break
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
done
touch "$E2E_TMP/stop.reader"
wait "$READER" 2>/dev/null || true
read -r runs fails <"$E2E_TMP/reader.result" || { runs=0; fails=1; }
e2e_log "kills $kills, generations $g_first -> $g_prev ($((g_prev - g_first)) publishes), reader ran ldmeshctl $runs times"
check_ge "agent SIGKILLed at random moments" "$KILLS" "$kills"
check_ge "publishes survived" "$PUBLISHES" "$((g_prev - g_first))"
check_eq "ldmeshctl status never failed once a table existed" 0 "$fails"
[ "$fails" -eq 0 ] || head -n 5 "$E2E_TMP/reader.err" | sed 's/^/#   /'
check_ge "reader checked the table continuously" 50 "$runs"
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
ok_swap=0
for _ in $(seq 100); do
	[ "$(e2e_cluster_ip swap 2>/dev/null)" = 10.96.1.250 ] && { ok_swap=1; break; }
	sleep 0.05
done
check "agent alive after the FIFO, directory and rename storm" kill -0 "$E2E_AGENT_PID"
check_eq "state consistent: the last content of swap.yaml is in force" 1 "$ok_swap"
check_eq "the other services stayed" 10.96.0.95 "$(e2e_cluster_ip stable)"
check_eq "the allocated ClusterIP stayed" "$CIP0" "$(e2e_cluster_ip alloc)"
rm -f "$MANIFESTS/x.yaml"; rmdir "$MANIFESTS/y.yaml"
kill "$E2E_AGENT_PID"; wait "$E2E_AGENT_PID" 2>/dev/null || true

# ---- 2. table filesystem full -------------------------------------------------
if ! unshare --mount true 2>/dev/null; then
	e2e_log "SKIP part 2: cannot make a mount namespace"
else
	SMALL=$E2E_TMP/small
	mkdir -p "$SMALL"
	export SMALL AGENT CTL MANIFESTS E2E_TMP
	rc=0
	unshare --mount bash -euo pipefail -c '
		mount --make-rprivate / 2>/dev/null || true
		mount -t tmpfs -o size=256k,mode=0755 tmpfs "$SMALL"
		T=$SMALL/table
		gen() { "$CTL" -t "$T" -o json status 2>/dev/null | sed -n "s/.*\"generation\":\([0-9]*\).*/\1/p" | head -n1; }
		"$AGENT" -m "$MANIFESTS" -t "$T" >"$E2E_TMP/full.log" 2>&1 &
		A=$!
		trap "kill $A 2>/dev/null; wait $A 2>/dev/null; umount $SMALL" EXIT
		for _ in $(seq 100); do [ -n "$(gen)" ] && break; sleep 0.05; done
		g0=$(gen); echo "g0=$g0"
		# fill the filesystem
		dd if=/dev/zero of="$SMALL/filler" bs=4k 2>/dev/null || true
		printf "apiVersion: v1\nkind: Service\nmetadata: {name: full, namespace: default}\nspec: {clusterIP: 10.96.0.97, ports: [{port: 80}]}\n" >"$MANIFESTS/full.yaml"
		for _ in $(seq 100); do grep -q "No space left" "$E2E_TMP/full.log" && break; sleep 0.05; done
		echo "full_gen=$(gen)"
		echo "full_status=$("$CTL" -t "$T" status >/dev/null 2>&1; echo $?)"
		rm -f "$SMALL/filler"
		for _ in $(seq 60); do [ "$(gen)" != "$g0" ] && break; sleep 0.05; done
		echo "after_gen=$(gen)"
		echo "full_ip=$(LDMESH_NAMESPACE=default "$CTL" -t "$T" resolve full 2>/dev/null | awk "NR == 2 { print \$1 }")"
	' >"$E2E_TMP/full.out" 2>&1 || rc=$?
	out=$(cat "$E2E_TMP/full.out")
	log=$(cat "$E2E_TMP/full.log" 2>/dev/null || true)
	e2e_log "$(echo "$out" | tr '\n' ' ')"
	if [ "$rc" -ne 0 ] && grep -q "mount" <<<"$out" && ! grep -q '^g0=' <<<"$out"; then
		e2e_log "SKIP part 2: cannot mount a tmpfs: $out"
	else
		g0=$(sed -n 's/^g0=//p' <<<"$out")
		check "full fs: a table was published first" test -n "$g0"
		check_match "full fs: a clear error line from the agent" \
			"No space left on device; generation $g0 stays in force" "$log"
		check_eq "full fs: the last snapshot stays in force" "$g0" "$(sed -n 's/^full_gen=//p' <<<"$out")"
		check_eq "full fs: ldmeshctl status still works" 0 "$(sed -n 's/^full_status=//p' <<<"$out")"
		check_eq "full fs: publishing resumed when space returned" "$((g0 + 1))" "$(sed -n 's/^after_gen=//p' <<<"$out")"
		check_eq "full fs: the change made while full is in the resumed table" 10.96.0.97 \
			"$(sed -n 's/^full_ip=//p' <<<"$out")"
	fi
fi
e2e_done
