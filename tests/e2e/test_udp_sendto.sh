#!/usr/bin/env bash
# Unconnected UDP to a service, with real DNS servers (dnsmasq) as the
# backend pods (each answers example.org with its own address, so the
# answer says which one served) and real clients:
#  - sendto/recvfrom and sendmsg/recvmsg on an unconnected socket reach a
#    backend, and the reply's source reads as the VIP (10.96.0.53:53), which
#    clients that check it require;
#  - one socket keeps one backend (a request and its retries reach one
#    server); separate sockets spread over both;
#  - a socket whose backend leaves the table gets the other on its next
#    datagram, and so does a connected UDP socket on its next send;
#  - dig @VIP answers; without ldmesh none of this reaches anything.
. "$(dirname "$0")/lib.sh"
command -v dnsmasq >/dev/null || e2e_skip "dnsmasq not installed (dnsmasq-base)"
e2e_netns "$@"
e2e_setup

e2e_add_ip 10.244.1.5 10.244.2.5
for n in 1 2; do
	dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
		--listen-address=10.244.$n.5 --bind-interfaces --port=53 \
		--address=/example.org/192.0.2.$n --pid-file="$E2E_TMP/dnsmasq.$n.pid" \
		>/dev/null 2>&1 &
	e2e_track $!
done
put_dns() { # backend IPs
	{
		printf 'apiVersion: v1\nkind: Service\nmetadata: {name: dns, namespace: default}\n'
		printf 'spec: {clusterIP: 10.96.0.53, ports: [{name: dns, port: 53, targetPort: 53, protocol: UDP}]}\n---\n'
		printf 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n'
		printf 'metadata: {name: dns-1, namespace: default, labels: {kubernetes.io/service-name: dns}}\n'
		printf 'addressType: IPv4\nports: [{name: dns, port: 53, protocol: UDP}]\nendpoints:\n'
		for ip in "$@"; do printf -- '- addresses: [%s]\n  conditions: {ready: true}\n' "$ip"; done
	} | e2e_put dns.yaml
}
put_dns 10.244.1.5 10.244.2.5
e2e_agent
Q="$PY $E2E_DIR/dnsq.py"
dns_up() { [ "$($PY "$E2E_DIR/dnsq.py" sendto 10.244.2.5 53 example.org 1)" = "192.0.2.2 from 10.244.2.5:53" ]; }
e2e_wait dns_up || e2e_log "the DNS pod on 10.244.2.5 never answered"

check_match "without ldmesh sendto to the VIP fails" '^error: ' "$($Q sendto 10.96.0.53 53 example.org 1)"
out=$(pl $Q sendto 10.96.0.53 53 example.org 6)
check_eq "6 queries on one socket: answered, the source the VIP" 6 \
	"$(printf '%s\n' "$out" | grep -cE '^192\.0\.2\.[12] from 10\.96\.0\.53:53$' || true)"
check_eq "and all by one backend" 1 "$(printf '%s\n' "$out" | sort -u | grep -c .)"
out=$(pl $Q sockets 10.96.0.53 53 example.org 40)
check_ge "40 sockets spread over backend 1" 5 "$(count_of '192.0.2.1 from 10.96.0.53:53' "$out")"
check_ge "and backend 2" 5 "$(count_of '192.0.2.2 from 10.96.0.53:53' "$out")"
out=$(pl $Q sendmsg 10.96.0.53 53 example.org 3)
check_eq "sendmsg/recvmsg: answered, the source the VIP" 3 \
	"$(printf '%s\n' "$out" | grep -cE '^192\.0\.2\.[12] from 10\.96\.0\.53:53$' || true)"

if command -v dig >/dev/null; then
	check_match "dig @VIP answers" '^192\.0\.2\.[12]$' \
		"$(pl dig @10.96.0.53 example.org +short +tries=1 +time=3 2>&1)"
	check_nomatch "without ldmesh dig gets nothing" '^192\.0\.2\.' \
		"$(dig @10.96.0.53 example.org +short +tries=1 +time=1 2>&1 || true)"
else
	e2e_skip "dig not installed (bind9-dnsutils)"
fi

# A connected socket and an unconnected one, kept open while their backend
# leaves the table. keep KIND DIR: start a keeper ($KEPT: its pid), ask once.
keep() {
	mkdir -p "$2"
	pl $Q keep 10.96.0.53 53 example.org "$2" "$1" >"$2.log" 2>&1 &
	KEPT=$!
	e2e_track "$KEPT"
	touch "$2/go.1"
	e2e_wait_file "$2/out.1" || not_ok "$1: query 1 unanswered"
}
keep connected "$E2E_TMP/c"
check_match "a connected socket is answered" '^192\.0\.2\.[12] from 10\.96\.0\.53:53$' \
	"$(cat "$E2E_TMP/c/out.1")"
first=$(cut -c9 "$E2E_TMP/c/out.1")
other=$((3 - first))
# an unconnected socket on the same backend (a fresh socket picks anew)
for t in $(seq 30); do
	keep unconnected "$E2E_TMP/u$t"
	[ "$(cut -c9 "$E2E_TMP/u$t/out.1")" = "$first" ] && break
	kill "$KEPT" 2>/dev/null || true
done
U=$E2E_TMP/u$t
check_eq "an unconnected socket on the same backend" "192.0.2.$first from 10.96.0.53:53" "$(cat "$U/out.1")"
g=$(e2e_gen); put_dns "10.244.$other.5"; e2e_wait_gen_after "$g" >/dev/null || not_ok "no new generation"
for d in "$E2E_TMP/c" "$U"; do
	touch "$d/go.2"
	e2e_wait_file "$d/out.2" || not_ok "$d: query 2 unanswered"
done
check_eq "the backend left: the connected socket's next send goes to the other" \
	"192.0.2.$other from 10.96.0.53:53" "$(cat "$E2E_TMP/c/out.2")"
check_eq "and the unconnected socket's next sendto" \
	"192.0.2.$other from 10.96.0.53:53" "$(cat "$U/out.2")"
e2e_done
