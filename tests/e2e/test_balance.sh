#!/usr/bin/env bash
# Distribution: new connections spread over the ready backends (300 connects
# over 3 ready pods, each at least 20%), a pod that is not Ready gets none,
# and a sessionAffinity: ClientIP service sticks one client to one backend.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

READY="10.244.1.5 10.244.2.5 10.244.3.5"
NOTREADY=10.244.4.5
e2e_add_ip $READY $NOTREADY

pod() { # name ip ready
	cat <<-YAML
	- apiVersion: v1
	  kind: Pod
	  metadata: {name: $1, namespace: default, labels: {app: web}}
	  spec: {containers: [{name: web, ports: [{name: web, containerPort: 9100}]}]}
	  status: {phase: Running, podIP: $2, conditions: [{type: Ready, status: "$3"}]}
	YAML
}
{
	cat <<-'YAML'
	apiVersion: v1
	kind: Service
	metadata: {name: web, namespace: default}
	spec:
	  clusterIP: 10.96.0.40
	  selector: {app: web}
	  ports: [{port: 9000, targetPort: web}]
	---
	apiVersion: v1
	kind: Service
	metadata: {name: sticky, namespace: default}
	spec:
	  clusterIP: 10.96.0.41
	  selector: {app: web}
	  sessionAffinity: ClientIP
	  ports: [{port: 9000, targetPort: web}]
	---
	apiVersion: v1
	kind: List
	items:
	YAML
	pod web-a 10.244.1.5 True
	pod web-b 10.244.2.5 True
	pod web-c 10.244.3.5 True
	pod web-d $NOTREADY False
} | e2e_put web.yaml

for ip in $READY $NOTREADY; do e2e_pod "$ip" 9100 banner; done
e2e_agent

out=$("$CTL" -t "$TABLE" services)
check_match "ldmeshctl shows the not-ready pod as not ready" "^ +$NOTREADY:9100 +not-ready" "$out"
# the not-ready pod is up and answers when dialled directly
check_eq "the not-ready pod's server answers directly" "$NOTREADY" \
	"$("$PY" "$E2E_DIR/pyclient.py" connect $NOTREADY 9100 1)"

out=$(pl "$PY" "$E2E_DIR/pyclient.py" connect web 9000 300 2>&1 || true)
check_eq "300 connects by name all answered by a ready pod" 300 \
	"$(printf '%s\n' "$out" | grep -cE '^10\.244\.[123]\.5$' || true)"
for ip in $READY; do
	check_ge "backend $ip got at least 20% of 300" 60 "$(count_of "$ip" "$out")"
done

# Non-blocking connects repeated until connected (connect, EINPROGRESS,
# connect again...: Ruby's connect_nonblock, many event loops): each socket
# keeps the backend chosen by its first connect, and getpeername answers the
# ClusterIP (issue 9, item 9: a re-pick on each call answered a backend).
out=$(pl "$PY" "$E2E_DIR/pyclient.py" nbpeer 10.96.0.40 9000 40 2>&1 || true)
check_eq "40 repeated non-blocking connects: getpeername is the ClusterIP every time" 40 \
	"$(printf '%s\n' "$out" | grep -cE '^peer 10\.96\.0\.40:9000 banner 10\.244\.[123]\.5$' || true)"
check_eq "the not-ready pod got no connection" 0 "$(count_of $NOTREADY "$out")"

MT=$(e2e_cc mtclient)
out=$(pl timeout 30 "$MT" 10.96.0.40 9000 8 50 2>&1 || true)
for ip in $READY; do
	check_ge "mtclient 400 connects to the ClusterIP: $ip got at least 20%" 80 \
		"$(printf '%s\n' "$out" | grep -c "^ok $ip " || true)"
done
check_eq "mtclient: the not-ready pod got no connection" 0 \
	"$(printf '%s\n' "$out" | grep -c "^ok $NOTREADY " || true)"

# sessionAffinity: ClientIP: every connect of this client lands on one pod
out=$(pl "$PY" "$E2E_DIR/pyclient.py" connect sticky 9000 50 2>&1 || true)
check_eq "sessionAffinity ClientIP: 50 connects reach exactly one backend" 1 \
	"$(printf '%s\n' "$out" | grep -E '^10\.244\.[123]\.5$' | sort -u | wc -l)"
check_eq "sessionAffinity ClientIP: all 50 answered" 50 \
	"$(printf '%s\n' "$out" | grep -cE '^10\.244\.[123]\.5$' || true)"

e2e_done
