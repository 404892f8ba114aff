#!/usr/bin/env bash
# musl programs (Alpine images) under libldmesh-musl.so: a dynamically linked
# musl client resolves service names (getaddrinfo, gethostbyname), connects
# to a ClusterIP balanced over three pods, passes through everything else,
# and asks the DNS server nothing for a cluster name and one query (not four)
# for an external one. The same client with the glibc library cannot even
# start, and without ldmesh neither the name nor the ClusterIP works.
. "$(dirname "$0")/lib.sh"
command -v musl-gcc >/dev/null || e2e_skip "musl-gcc not installed (musl-tools)"
[ -f "$MUSL_LIB" ] || e2e_skip "$MUSL_LIB not built (configure with musl-gcc installed)"
# musl reads /etc/resolv.conf and /etc/hosts: ours, in a mount namespace
e2e_mountns "$@"
e2e_netns "$@"
e2e_setup

printf '127.0.0.1 localhost\n10.244.9.9 legacy-db\n' >"$E2E_TMP/hosts"
mount --bind "$E2E_TMP/hosts" /etc/hosts
e2e_cluster_dns --address=/example.org/192.0.2.7

CLIENT=$E2E_TMP/netclient-musl
musl-gcc -O1 -Wall -Wextra -Werror -o "$CLIENT" "$E2E_DIR/netclient.c" ||
	e2e_die "cannot compile netclient.c with musl-gcc"
check_match "the client is a dynamic musl program" 'ld-musl' \
	"$(readelf -l "$CLIENT" | grep -i 'interpreter')"

PODS="10.244.1.5 10.244.2.5 10.244.3.5"
e2e_add_ip $PODS
for ip in $PODS; do e2e_pod "$ip" 9100; done
e2e_pod 127.0.0.1 7100
e2e_put_web $PODS
e2e_agent

musl() {
	env LD_PRELOAD="$MUSL_LIB" LDMESH_TABLE="$TABLE" LDMESH_RESOLV_CONF="$RESOLV" \
		LDMESH_NAMESPACE=default "$@"
}
queries() { grep -c 'query\[A\]' "$E2E_TMP/dns.log" || true; }

# The glibc library in a musl program: the loader stops it before main.
rc=0; LD_PRELOAD="$LIB" "$CLIENT" resolve localhost >/dev/null 2>&1 || rc=$?
check "the glibc library cannot serve a musl program (exit $rc)" test "$rc" -ne 0

q0=$(queries)
check_match "without ldmesh: the service name does not resolve" '^error:' \
	"$("$CLIENT" resolve web 2>&1 || true)"
check_match "without ldmesh: the ClusterIP is unreachable" '^error:' \
	"$("$CLIENT" banner 10.96.0.80 9000 1 2>&1 || true)"
check_eq "without ldmesh: example.org resolves" 192.0.2.7 "$("$CLIENT" resolve example.org)"
q1=$(queries)
# (musl asks each search domain before the name itself)
check_ge "without ldmesh: the search list costs extra queries" 4 "$((q1 - q0))"

check_eq "getaddrinfo answers the service name" 10.96.0.80 "$(musl "$CLIENT" resolve web)"
check_eq "and its full name" 10.96.0.80 "$(musl "$CLIENT" resolve web.default.svc.cluster.local)"
check_eq "gethostbyname answers it" 10.96.0.80 "$(musl "$CLIENT" ghbn web)"
q2=$(queries)
check_eq "no DNS query for cluster names" 0 "$((q2 - q1))"
check_eq "an external name resolves" 192.0.2.7 "$(musl "$CLIENT" resolve example.org)"
q3=$(queries)
check_eq "with one query, not through the search list" 1 "$((q3 - q2))"
check_eq "/etc/hosts names still resolve" 10.244.9.9 "$(musl "$CLIENT" resolve legacy-db)"

out=$(musl "$CLIENT" banner web 9000 120 2>&1 || true)
for ip in $PODS; do
	check_ge "connects by name reach pod $ip (of 120)" 15 "$(count_of "$ip" "$out")"
done
check_eq "no connect failed" 0 "$(printf '%s\n' "$out" | grep -c '^error' || true)"
check_match "a connect to the ClusterIP reaches a pod" '^10\.244\.[123]\.5$' \
	"$(musl "$CLIENT" banner 10.96.0.80 9000 1 2>&1)"
check_eq "pass-through: a connect that is not a service is untouched" 127.0.0.1 \
	"$(musl "$CLIENT" banner 127.0.0.1 7100 1 2>&1)"

trace=$(LDMESH_TRACE=stack musl "$CLIENT" banner 10.96.0.80 9000 1 2>&1 >/dev/null || true)
check_eq "LDMESH_TRACE=stack says once that stack traces are unavailable" 1 \
	"$(printf '%s\n' "$trace" | grep -c 'stack traces unavailable')"
check_match "the trace shows the redirect" 'connect fd=[0-9]+ 10\.96\.0\.80:9000 -> 10\.244\.[123]\.5:9100' \
	"$trace"
e2e_done
