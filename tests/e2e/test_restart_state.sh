#!/usr/bin/env bash
# A restart keeps last-good state (issue 9, item 1): web.yaml turns bad
# (port 99999) under a running agent, whose table keeps the good version;
# the agent is stopped and started again: it publishes the good version
# from its state directory, says so, and clients keep reaching the pod.
# Without the state directory the restart published 0 services and
# clients got ENETUNREACH.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

e2e_add_ip 10.244.1.5
e2e_put_web 10.244.1.5
e2e_pod 10.244.1.5 9100 banner
C="$PY $E2E_DIR/pyclient.py"
e2e_agent
check_eq "good: the service is reached" 10.244.1.5 "$(pl $C connect 10.96.0.80 9000 1 2>&1)"

G=$(e2e_gen)
sed 's/port: 9000/port: 99999/' "$MANIFESTS/web.yaml" | e2e_put web.yaml
e2e_wait grep -q "99999" "$E2E_TMP/agent.log" || true
check_match "the running agent reports the bad file" "web.yaml:[0-9]*:[0-9]*: .*99999" \
	"$(cat "$E2E_TMP/agent.log")"
check_eq "and keeps the good table (generation $G)" "$G" "$(e2e_gen)"

kill "$E2E_AGENT_PID"; wait "$E2E_AGENT_PID" 2>/dev/null
: >"$E2E_TMP/agent.log"
"$AGENT" -m "$MANIFESTS" -t "$TABLE" >>"$E2E_TMP/agent.log" 2>&1 &
E2E_AGENT_PID=$!; e2e_track $E2E_AGENT_PID
G2=$(e2e_wait_gen_after "$G") || G2=
check "the restarted agent published (generation ${G2:-none})" test -n "$G2"
check_match "it says the bad file's last good version is in force" \
	"web.yaml: publishing its last good version \\(kept in $TABLE-state\\)" \
	"$(cat "$E2E_TMP/agent.log")"
check_match "the table still holds the service" "^default/web " \
	"$("$CTL" -t "$TABLE" services | awk 'NR > 1 && $1 == "default" {print $1 "/" $2 " "}')"
check_eq "clients still reach the pod" 10.244.1.5 "$(pl $C connect 10.96.0.80 9000 1 2>&1)"
check "the state directory is the agent's alone (0700)" \
	test "$(stat -c %a "$TABLE-state")" = 700

# Allocated ClusterIPs survive a restart (issue 9, item 10): default/aa866931
# hashes to default/backend's address and sorts first by name; added to a
# running agent it gets the next one, and after a restart (which computes
# afresh, in name order) each must still have its own.
e2e_put backend.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: default}
spec: {ports: [{port: 80}]}
YAML
has_ip() { [ -n "$(e2e_cluster_ip "$1")" ]; }
e2e_wait has_ip backend || true
check_eq "backend is allocated its hashed address" 10.108.13.101 "$(e2e_cluster_ip backend)"
e2e_put aa.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: aa866931, namespace: default}
spec: {ports: [{port: 80}]}
YAML
e2e_wait has_ip aa866931 || true
check_eq "a later Service colliding with it does not move it" \
	"10.108.13.101 10.108.13.102" "$(e2e_cluster_ip backend) $(e2e_cluster_ip aa866931)"
G=$(e2e_gen)
kill "$E2E_AGENT_PID"; wait "$E2E_AGENT_PID" 2>/dev/null
"$AGENT" -m "$MANIFESTS" -t "$TABLE" >>"$E2E_TMP/agent.log" 2>&1 &
E2E_AGENT_PID=$!; e2e_track $E2E_AGENT_PID
e2e_wait_gen_after "$G" >/dev/null
check_eq "after a restart both keep their addresses" \
	"10.108.13.101 10.108.13.102" "$(e2e_cluster_ip backend) $(e2e_cluster_ip aa866931)"
check_match "the agent said it restored them" "restored [0-9]+ allocated ClusterIPs" \
	"$(cat "$E2E_TMP/agent.log")"
rm "$MANIFESTS/backend.yaml" "$MANIFESTS/aa.yaml"

# fixed, then removed: the copy follows the file
e2e_put_web 10.244.1.5
rm "$MANIFESTS/web.yaml"
copies() { ls "$TABLE-state" | grep -v '^allocations$' || true; }
no_copies() { [ -z "$(copies)" ]; }
e2e_wait no_copies || true
check_eq "a removed file's copy goes with it" "" "$(copies)"
e2e_done
