#!/usr/bin/env bash
# The edges: no endpoints or only not-ready ones -> ECONNREFUSED; only
# terminating-but-serving ones -> those (kube-proxy's fallback); getpeername
# answers the ClusterIP:port dialled; destinations that are not a service
# (127.0.0.1, a pod IP dialled directly, a ClusterIP on a port the service
# does not have) and names outside the cluster (localhost) are untouched; an
# unknown name inside the cluster domain is "not found"; LDMESH_DISABLE=1 and
# a missing table are pure pass-through.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

e2e_add_ip 10.244.1.5 10.244.2.5 10.244.3.5
e2e_put services.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: 10.96.0.61
  selector: {app: web}
  ports: [{port: 9000, targetPort: 9100}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-a, namespace: default, labels: {app: web}}
status: {phase: Running, podIP: 10.244.1.5, conditions: [{type: Ready, status: "True"}]}
---
# no pod matches: no endpoints at all
apiVersion: v1
kind: Service
metadata: {name: empty, namespace: default}
spec:
  clusterIP: 10.96.0.62
  selector: {app: nothing-has-this}
  ports: [{port: 9000, targetPort: 9100}]
---
# its only pod is running but not Ready
apiVersion: v1
kind: Service
metadata: {name: down, namespace: default}
spec:
  clusterIP: 10.96.0.63
  selector: {app: down}
  ports: [{port: 9000, targetPort: 9100}]
---
apiVersion: v1
kind: Pod
metadata: {name: down-a, namespace: default, labels: {app: down}}
status: {phase: Running, podIP: 10.244.2.5, conditions: [{type: Ready, status: "False"}]}
---
# only a terminating endpoint that still serves: kube-proxy uses it
apiVersion: v1
kind: Service
metadata: {name: draining, namespace: default}
spec:
  clusterIP: 10.96.0.64
  ports: [{name: tcp, port: 9000, targetPort: 9100}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: draining-abc12
  namespace: default
  labels: {kubernetes.io/service-name: draining}
addressType: IPv4
ports: [{name: tcp, port: 9100, protocol: TCP}]
endpoints:
- addresses: [10.244.3.5]
  conditions: {ready: false, serving: true, terminating: true}
YAML
for ip in 10.244.1.5 10.244.2.5 10.244.3.5; do e2e_pod "$ip" 9100 banner; done
e2e_pod 127.0.0.1 9200 banner
e2e_agent

C="$PY $E2E_DIR/pyclient.py"
one() { pl $C connect "$@" 1 2>&1 || true; }

# --- no endpoints ---------------------------------------------------------
check_eq "service without endpoints: ClusterIP connect is ECONNREFUSED" "ERR ECONNREFUSED" "$(one 10.96.0.62 9000)"
check_eq "service without endpoints: by name, ECONNREFUSED" "ERR ECONNREFUSED" "$(one empty 9000)"
check_eq "only a not-ready pod: ECONNREFUSED" "ERR ECONNREFUSED" "$(one down 9000)"
check_eq "the not-ready pod's server is up (answers directly)" 10.244.2.5 "$($C connect 10.244.2.5 9100 1)"
out=$(pl $C connect draining 9000 5 2>&1 || true)
check_eq "only a terminating+serving endpoint: it gets the traffic" 5 "$(count_of 10.244.3.5 "$out")"

# --- getpeername ----------------------------------------------------------
check_eq "getpeername after connect by ClusterIP answers the ClusterIP:port" \
	"peer 10.96.0.61:9000 banner 10.244.1.5" "$(pl $C peer 10.96.0.61 9000 2>&1 || true)"
check_eq "getpeername after connect by name answers the ClusterIP:port" \
	"peer 10.96.0.61:9000 banner 10.244.1.5" "$(pl $C peer web 9000 2>&1 || true)"
check_eq "getpeername on a direct pod connect answers the pod" \
	"peer 10.244.2.5:9100 banner 10.244.2.5" "$(pl $C peer 10.244.2.5 9100 2>&1 || true)"

# --- not a service: untouched --------------------------------------------
check_eq "a server on 127.0.0.1 is reached as is" 127.0.0.1 "$(one 127.0.0.1 9200)"
check_eq "localhost (not a cluster name) is reached as is" 127.0.0.1 "$(one localhost 9200)"
check_eq "a pod IP dialled directly is that pod (even a not-ready one)" 10.244.2.5 "$(one 10.244.2.5 9100)"
check_eq "a ClusterIP on a port the service lacks passes through (ENETUNREACH)" \
	"ERR ENETUNREACH" "$(one 10.96.0.61 1234)"
check_eq "an unknown name in the cluster domain is not found" "ERR EAI_NONAME" \
	"$(one nosuch.default.svc.cluster.local 9000)"

# --- LDMESH_DISABLE=1 and a missing table: pure pass-through ----------------
check_eq "LDMESH_DISABLE=1: ClusterIP connect is ENETUNREACH" "ERR ENETUNREACH" \
	"$(LDMESH_DISABLE=1 LDMESH_TRACE=1 LDMESH_TRACE_FILE=$E2E_TMP/disabled.trace one 10.96.0.61 9000)"
out=$(LDMESH_DISABLE=1 one web 9000)
check_match "LDMESH_DISABLE=1: the service name does not resolve" '^ERR EAI_' "$out"
check_eq "LDMESH_DISABLE=1: 127.0.0.1 still works" 127.0.0.1 "$(LDMESH_DISABLE=1 one 127.0.0.1 9200)"
check "LDMESH_DISABLE=1: not even a trace line" test ! -s "$E2E_TMP/disabled.trace"
check_eq "missing table: ClusterIP connect is ENETUNREACH" "ERR ENETUNREACH" \
	"$(pl env LDMESH_TABLE="$E2E_TMP/no-such-table" $C connect 10.96.0.61 9000 1 2>&1 || true)"
check_eq "missing table: 127.0.0.1 still works" 127.0.0.1 \
	"$(pl env LDMESH_TABLE="$E2E_TMP/no-such-table" $C connect 127.0.0.1 9200 1 2>&1 || true)"
# and with the table in place, the same ClusterIP works (the control case)
check_eq "with the table: ClusterIP connect reaches the pod" 10.244.1.5 "$(one 10.96.0.61 9000)"

e2e_done
