#!/usr/bin/env bash
# Topology-aware routing as kube-proxy categorises endpoints: a Service with
# trafficDistribution: PreferClose (or the topology annotation) sends a
# node's connects to the ready endpoints hinted for the node's zone, only
# when every ready endpoint has a hint and one is for this zone; otherwise
# to all. The zone comes from --zone, or from the Node manifest the agent's
# --node names. ldmeshctl route says which rule chose the set.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

PODS="10.244.1.5 10.244.2.5 10.244.3.5"
e2e_add_ip $PODS
for ip in $PODS; do e2e_pod "$ip" 9100; done
CLIENT=$(e2e_cc netclient)

# web: PreferClose; pods 1 and 3 hinted for zone-a, pod 2 for zone-b
# ($1: the hint of pod 3, "" for none; $2: the Service's extra spec line)
put_web() {
	local hint3=$1 extra=${2:-"trafficDistribution: PreferClose"}
	e2e_put web.yaml <<YAML
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: 10.96.0.80
  ports: [{name: tcp, port: 9000, targetPort: 9100}]
  $extra
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: tcp, port: 9100, protocol: TCP}]
endpoints:
- {addresses: [10.244.1.5], conditions: {ready: true}, zone: zone-a, hints: {forZones: [{name: zone-a}]}}
- {addresses: [10.244.2.5], conditions: {ready: true}, zone: zone-b, hints: {forZones: [{name: zone-b}]}}
- {addresses: [10.244.3.5], conditions: {ready: true}, zone: zone-a$( [ -n "$hint3" ] && echo ", hints: {forZones: [{name: $hint3}]}")}
YAML
}
spread() { pl "$CLIENT" banner web 9000 60 2>&1 || true; }
route() { "$CTL" -t "$TABLE" route 10.96.0.80:9000 | sed -n 's/^  rule: //p'; }
next_gen() { e2e_wait_gen_after "$1" >/dev/null || not_ok "no new generation after $1"; }

put_web zone-a
e2e_agent --zone zone-a
out=$(spread)
check_eq "zone-a node: no connect leaves the zone (of 60)" 0 "$(count_of 10.244.2.5 "$out")"
check_ge "both zone-a pods serve (1)" 10 "$(count_of 10.244.1.5 "$out")"
check_ge "both zone-a pods serve (3)" 10 "$(count_of 10.244.3.5 "$out")"
check_eq "ldmeshctl route names the rule" "endpoints hinted for zone zone-a (topology-aware routing)" "$(route)"

g=$(e2e_gen); put_web ""; next_gen "$g"
out=$(spread)
check_ge "a ready endpoint without a hint: all three again (2 of 60)" 5 "$(count_of 10.244.2.5 "$out")"
check_match "and the route says why" 'not used: a ready endpoint has no zone hint' "$(route)"

g=$(e2e_gen); put_web zone-a "type: ClusterIP"; next_gen "$g"
out=$(spread)
check_ge "hints without trafficDistribution are not used (2 of 60)" 5 "$(count_of 10.244.2.5 "$out")"
check_eq "rule" "all ready endpoints" "$(route)"

g=$(e2e_gen)
put_web zone-a
e2e_put node.yaml <<'YAML'
apiVersion: v1
kind: Node
metadata: {name: node-1, labels: {topology.kubernetes.io/zone: zone-b, kubernetes.io/hostname: node-1}}
YAML
next_gen "$g"
kill "$E2E_AGENT_PID"; wait "$E2E_AGENT_PID" 2>/dev/null || true
g=$(e2e_gen)
"$AGENT" -m "$MANIFESTS" -t "$TABLE" --node node-1 >>"$E2E_TMP/agent.log" 2>&1 &
E2E_AGENT_PID=$!; e2e_track "$E2E_AGENT_PID"
next_gen "$g"
out=$(spread)
check_eq "the zone from the Node manifest (zone-b): only pod 2 (of 60)" 60 "$(count_of 10.244.2.5 "$out")"
check_eq "rule" "endpoints hinted for zone zone-b (topology-aware routing)" "$(route)"

kill "$E2E_AGENT_PID"; wait "$E2E_AGENT_PID" 2>/dev/null || true
g=$(e2e_gen)
"$AGENT" -m "$MANIFESTS" -t "$TABLE" >>"$E2E_TMP/agent.log" 2>&1 &
E2E_AGENT_PID=$!; e2e_track "$E2E_AGENT_PID"
next_gen "$g"
out=$(spread)
check_ge "no zone known: all three (2 of 60)" 5 "$(count_of 10.244.2.5 "$out")"
check_match "rule" "not used: this node's zone is unknown" "$(route)"
e2e_done
