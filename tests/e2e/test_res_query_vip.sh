#!/usr/bin/env bash
# res_query and res_search on a name the table does not answer, in a pod
# whose resolv.conf names the cluster DNS by its ClusterIP (issue 24, items
# 2 and 3): the hooks pass the call to the real function with this
# thread's nameservers pointed at a live backend of that Service first, as
# getaddrinfo does, so the very first call of a process reaches the DNS pod
# without kube-proxy. Without the preload it cannot (ENETUNREACH).
. "$(dirname "$0")/lib.sh"
command -v dnsmasq >/dev/null || e2e_skip "dnsmasq not installed (dnsmasq-base)"
e2e_mountns "$@"
e2e_netns "$@"
e2e_setup
RQ=$(e2e_cc resclient -lresolv)

e2e_add_ip 10.244.1.53
dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
	--listen-address=10.244.1.53 --bind-interfaces --port=53 \
	--address=/example.org/192.0.2.1 \
	--log-queries --log-facility="$E2E_TMP/dns.log" >/dev/null 2>&1 &
e2e_track $!
e2e_wait_file "$E2E_TMP/dns.log" || e2e_die "dnsmasq did not start"
e2e_put dns.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system}
spec:
  clusterIP: 10.96.0.10
  ports:
  - {name: dns, port: 53, targetPort: 53, protocol: UDP}
  - {name: dns-tcp, port: 53, targetPort: 53, protocol: TCP}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: kube-dns-1, namespace: kube-system, labels: {kubernetes.io/service-name: kube-dns}}
addressType: IPv4
ports: [{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53, protocol: TCP}]
endpoints:
- {addresses: [10.244.1.53], conditions: {ready: true}}
YAML
e2e_agent
printf 'search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5 attempts:1 timeout:2\n' >"$RESOLV"
mount --bind "$RESOLV" /etc/resolv.conf

has_table() { pl "$RQ" query kube-dns.kube-system.svc.cluster.local A 2>&1 | grep -q '^A 10\.96\.0\.10$'; }
check "a cluster name is answered from the table" e2e_wait has_table
check_match "without the preload res_query cannot reach the ClusterIP" '^rc=-1 ' \
	"$("$RQ" query example.org A 2>&1)"
check_eq "res_query of an outside name: through the ClusterIP's pod" "A 192.0.2.1" \
	"$(pl "$RQ" query example.org A 2>&1 | tail -n1)"
check_eq "res_search too (the search list's names the table's, the name the pod's)" \
	"A 192.0.2.1" "$(pl "$RQ" search example.org A 2>&1 | tail -n1)"
check_eq "the pod was asked for the outside name only" 0 \
	"$(grep -c 'query\[A\] example\.org\.' "$E2E_TMP/dns.log" || true)"
e2e_done
