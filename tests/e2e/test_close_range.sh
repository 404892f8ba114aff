#!/usr/bin/env bash
# close_range(2) and closefrom(3) (issue 9, items 7 and 8): a program that
# closes every descriptor above stderr and reuses the numbers gets no trace
# line in its own files, and a socket number reused for a UDP socket is not
# taken for the TCP socket it used to be.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

e2e_add_ip 10.244.1.5
e2e_put dns.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: dns, namespace: default}
spec:
  clusterIP: 10.96.0.53
  ports: [{name: dns, protocol: UDP, port: 53, targetPort: 5353}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: dns-x1, namespace: default, labels: {kubernetes.io/service-name: dns}}
addressType: IPv4
ports: [{name: dns, port: 5353, protocol: UDP}]
endpoints:
- addresses: [10.244.1.5]
  conditions: {ready: true}
YAML
e2e_agent
BIN=$(e2e_cc closerange)

for mode in closefrom range; do
	data=$E2E_TMP/data.$mode trace=$E2E_TMP/trace.$mode
	out=$(pl env LDMESH_TRACE=1 LDMESH_TRACE_FILE="$trace" "$BIN" "$mode" "$data" 10.96.0.53 53 2>&1)
	check_match "$mode: the preload traced before the descriptors were closed" \
		"connect fd=[0-9]* 127\\.0\\.0\\.1:1 pass" "$(cat "$trace")"
	check_eq "$mode: the program's file holds only its own data" "data" "$(cat "$data")"
	check_eq "$mode: a reused socket number is asked its type again (UDP VIP redirected)" \
		"udp connect 0" "$(printf '%s\n' "$out" | grep '^udp connect')"
done
e2e_done
