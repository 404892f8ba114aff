#!/usr/bin/env bash
# Load-balancer addresses inside the cluster: a pod's connect to a
# LoadBalancer Service's status.loadBalancer.ingress[].ip goes straight to
# the service's endpoints, as kube-proxy and Cilium do, except an ingress
# with ipMode: Proxy, which must reach the load balancer itself (here: no
# route, so the connect fails as it would without ldmesh). ldmeshctl route
# says which. (The ingress addresses exist only inside this namespace.)
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

PODS="10.244.1.5 10.244.2.5"
e2e_add_ip $PODS
for ip in $PODS; do e2e_pod "$ip" 9100; done
e2e_put lb.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: shop, namespace: default}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.90
  ports: [{name: https, port: 443, targetPort: 9100, nodePort: 30443}]
status:
  loadBalancer:
    ingress:
    - {ip: 203.0.113.10}
    - {ip: 203.0.113.11, ipMode: Proxy}
    - {hostname: shop.lb.example}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: shop-1, namespace: default, labels: {kubernetes.io/service-name: shop}}
addressType: IPv4
ports: [{name: https, port: 9100, protocol: TCP}]
endpoints:
- addresses: [10.244.1.5]
  conditions: {ready: true}
- addresses: [10.244.2.5]
  conditions: {ready: true}
YAML
e2e_agent

get() { "$@" "$PY" -c '
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
    print(s.recv(64).decode().strip())
except OSError as e:
    print("error:", e.strerror)' "${ARGS[@]}" 2>&1; }

ARGS=(203.0.113.10 443)
check_match "without ldmesh the ingress address is not reached from the pod" '^error:' "$(get env)"
out=$(for _ in $(seq 40); do get pl; done)
for ip in $PODS; do
	check_ge "a connect to the ingress address reaches pod $ip (of 40)" 5 "$(count_of "$ip" "$out")"
done
check_eq "every one answered by a pod" 40 "$(printf '%s\n' "$out" | grep -cE '^10\.244\.[12]\.5$' || true)"
ARGS=(203.0.113.11 443)
check_match "ipMode: Proxy is left to the load balancer" '^error: Network is unreachable' "$(get pl)"
ARGS=(203.0.113.10 80)
check_match "another port of the ingress address passes through" '^error: Network is unreachable' "$(get pl)"

check_match "ldmeshctl route names the short-circuit" \
	'^203\.0\.113\.10:443 -> service default/shop port https \(load-balancer ingress, short-circuited\)' \
	"$("$CTL" -t "$TABLE" route 203.0.113.10:443)"
check_match "and says an ipMode: Proxy address is not a service" 'not a service' \
	"$("$CTL" -t "$TABLE" route 203.0.113.11:443 || true)"
check_match "json says via" '"via":"load-balancer-ingress"' \
	"$("$CTL" -t "$TABLE" -o json route 203.0.113.10:443)"
e2e_done
