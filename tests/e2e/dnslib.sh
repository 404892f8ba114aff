# shellcheck shell=bash
# Helpers of the ldmesh-dns tests (test_dns_*.sh), after lib.sh's
# e2e_netns and e2e_setup.
# LDMESH_DNS: another program in its place (a valgrind wrapper)
DNS=${LDMESH_DNS:-$LDMESH_BUILD/agent/ldmesh-dns}

# The test upstream: dnsmasq on 127.0.0.2:53, the only other DNS server in
# the namespace, logging its queries to $E2E_TMP/up.log; its answers carry
# a TTL (--local-ttl) so ldmesh-dns can cache them. Arguments go to
# dnsmasq (--address=/example.org/192.0.2.7 ...).
dns_upstream() {
	command -v dnsmasq >/dev/null || e2e_skip "dnsmasq not installed (dnsmasq-base)"
	dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
		--listen-address=127.0.0.2 --bind-interfaces --port=53 --local-ttl=300 \
		--log-queries --log-facility="$E2E_TMP/up.log" "$@" >/dev/null 2>&1 &
	e2e_track $!
	e2e_wait test -s "$E2E_TMP/up.log" || e2e_die "dnsmasq did not start"
}

dns__answers() { dig @"$1" +time=1 +tries=1 dns-version.cluster.local TXT >/dev/null 2>&1; }

# ldmesh-dns on ADDR (default 127.0.0.1) port 53, the test upstream behind
# it, $TABLE; returns once it answers. $DNS_PID is its pid.
dns_server() {
	local addr=${1:-127.0.0.1}
	[ -x "$DNS" ] || e2e_die "build first: missing $DNS"
	"$DNS" --listen "$addr:53" --upstream 127.0.0.2 --table "$TABLE" >>"$E2E_TMP/dns.log" 2>&1 &
	DNS_PID=$!
	e2e_track "$DNS_PID"
	e2e_wait dns__answers "$addr" || e2e_die "ldmesh-dns did not answer: $(cat "$E2E_TMP/dns.log")"
}

# dig at ldmesh-dns on 127.0.0.1: `q ARGS` its whole output, `short ARGS`
# the answers sorted on one line.
q() { dig @127.0.0.1 +time=2 +tries=2 "$@" 2>&1; }
short() { q +short "$@" | sort | tr '\n' ' ' | sed 's/ $//'; }
