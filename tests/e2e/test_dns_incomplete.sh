#!/usr/bin/env bash
# ldmesh-dns and an incomplete table (the agent's --require-sync without
# ldmesh-sync's fresh marker): a cluster name the table lacks is not said
# to be missing but forwarded to the upstream (which may know it); the
# Services the table has are answered from it. Once the marker is there the
# same name gets NXDOMAIN with the zone's SOA, without asking the upstream.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup
command -v dig >/dev/null || e2e_skip "dig not installed (bind9-dnsutils)"
. "$(dirname "$0")/dnslib.sh"

e2e_put svc.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: default}
spec: {clusterIP: 10.96.0.10, ports: [{port: 80}]}
YAML
e2e_agent --require-sync
dns_upstream --host-record=kubernetes.default.svc.cluster.local,10.96.0.1
dns_server

complete() { "$CTL" -t "$TABLE" -o json status | grep -o '"complete": *[a-z]*' | grep -o '[a-z]*$'; }
asked() { grep -c 'query\[A\] kubernetes' "$E2E_TMP/up.log" || true; }

check_eq "no marker: the table is incomplete" false "$(complete)"
check_eq "a cluster name the table lacks is forwarded" 10.96.0.1 \
	"$(short kubernetes.default.svc.cluster.local)"
check_eq "... to the upstream" 1 "$(asked)"
check_eq "a Service the table has is answered from it" 10.96.0.10 \
	"$(short backend.default.svc.cluster.local)"

date -u +%Y-%m-%dT%H:%M:%SZ >"$MANIFESTS/.ldmesh-synced"
is_complete() { [ "$(complete)" = true ]; }
check "a fresh marker: the table is complete" e2e_wait is_complete
# the forwarded answer is cached for the upstream's TTL: another name
check_match "a cluster name a complete table lacks: NXDOMAIN" 'status: NXDOMAIN' \
	"$(q other.default.svc.cluster.local)"
check_match "... with the zone's SOA" 'IN[[:space:]]+SOA[[:space:]]+ns\.dns\.cluster\.local\.' \
	"$(q other.default.svc.cluster.local)"
check_eq "... the upstream not asked" 0 "$(grep -c 'query\[A\] other' "$E2E_TMP/up.log" || true)"
e2e_done
