#!/usr/bin/env bash
# A musl pod whose resolv.conf names the cluster DNS by its ClusterIP
# (issue 24, item 3). musl sends its queries with internal calls no preload
# sees, so without kube-proxy every outside name fails; under
# libldmesh-musl.so its getaddrinfo does musl's lookup itself through a live
# backend of that Service (preload/mresolv.c). Each answer is compared
# whole (order, families, socket rows, canonical name, EAI_* code) with
# what musl itself answers when the same DNS server is its nameserver
# directly (127.0.0.1): A and AAAA, NXDOMAIN, no data, a CNAME, the search
# list and ndots, AI_V4MAPPED/AI_ALL, services, an IPv6 ClusterIP too;
# gethostbyname* and res_query the same way. Cluster names still come from
# the table.
. "$(dirname "$0")/lib.sh"
command -v musl-gcc >/dev/null || e2e_skip "musl-gcc not installed (musl-tools)"
command -v dnsmasq >/dev/null || e2e_skip "dnsmasq not installed (dnsmasq-base)"
[ -f "$MUSL_LIB" ] || e2e_skip "$MUSL_LIB not built (configure with musl-gcc installed)"
e2e_mountns "$@"
e2e_netns "$@"
e2e_setup

CLIENT=$E2E_TMP/gaiclient-musl
musl-gcc -O1 -Wall -Wextra -Werror -o "$CLIENT" "$E2E_DIR/gaiclient.c" ||
	e2e_die "cannot compile gaiclient.c with musl-gcc"
RESCLIENT=$E2E_TMP/resclient-musl
musl-gcc -O1 -Wall -Wextra -Werror -o "$RESCLIENT" "$E2E_DIR/resclient.c" ||
	e2e_die "cannot compile resclient.c with musl-gcc"

# one DNS server, on a pod IP behind kube-dns and on 127.0.0.1; big.test
# has more A records than a 512-byte reply holds (musl 1.2.3 takes the
# truncated reply as it is: no TCP)
e2e_add_ip 10.244.1.53
ip addr add fd00:244::53/128 dev lo nodad
for n in $(seq 1 60); do printf '198.51.100.%d big.test\n' "$n"; done >"$E2E_TMP/big.hosts"
dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
	--listen-address=10.244.1.53,127.0.0.1,fd00:244::53 --bind-interfaces --port=53 \
	--local=/cluster.local/ --local=/corp.test/ --local=/example.net/ --local=/v4only.test/ \
	--local=/big.test/ --addn-hosts="$E2E_TMP/big.hosts" \
	--address=/example.org/192.0.2.1 --address=/example.org/2001:db8::1 \
	--host-record=v4only.test,192.0.2.5 --host-record=db.corp.test,192.0.2.9 \
	--host-record=target.test,192.0.2.8,2001:db8::8 --cname=alias.test,target.test \
	--log-queries --log-facility="$E2E_TMP/dns.log" >/dev/null 2>&1 &
e2e_track $!
e2e_wait test -s "$E2E_TMP/dns.log" || e2e_die "dnsmasq did not start"

e2e_put_kube_dns 10.244.1.53
# the same pod behind an IPv6 ClusterIP (an IPv6 or dual-stack cluster)
{
	printf 'apiVersion: v1\nkind: Service\nmetadata: {name: kube-dns6, namespace: kube-system}\n'
	printf 'spec:\n  clusterIP: "fd00:96::a"\n  ipFamilies: [IPv6]\n  ports:\n'
	printf '  - {name: dns, port: 53, targetPort: 53, protocol: UDP}\n---\n'
	printf 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n'
	printf 'metadata: {name: kube-dns6-1, namespace: kube-system, labels: {kubernetes.io/service-name: kube-dns6}}\n'
	printf 'addressType: IPv6\nports: [{name: dns, port: 53, protocol: UDP}]\n'
	printf 'endpoints:\n- addresses: ["fd00:244::53"]\n  conditions: {ready: true}\n'
} | e2e_put dns6.yaml
e2e_add_ip 10.244.1.5
e2e_put_web 10.244.1.5
e2e_agent --service-cidr 10.96.0.0/12,fd00:96::/112

# the pod's resolv.conf, with a search domain outside the cluster; the
# same with the DNS server named directly, for musl's own answers
conf() {
	printf 'search default.svc.cluster.local svc.cluster.local cluster.local corp.test\n'
	printf 'nameserver %s\noptions ndots:5 attempts:2 timeout:2\n' "$1"
}
conf 10.96.0.10 >"$RESOLV"
ETC=$E2E_TMP/etc-resolv.conf
conf 127.0.0.1 >"$ETC"
mount --bind "$ETC" /etc/resolv.conf
use() { conf "$1" >"$ETC"; } # the same inode: the bind mount sees it

musl() {
	env LD_PRELOAD="$MUSL_LIB" LDMESH_TABLE="$TABLE" LDMESH_RESOLV_CONF="$RESOLV" \
		LDMESH_NAMESPACE=default "$@"
}

# same_as_musl CMD CASE...: each case's output with the ClusterIP $VIP as
# nameserver under the preload equals musl's own with $DIRECT (the pod)
VIP=10.96.0.10 DIRECT=127.0.0.1
same_as_musl() {
	local cmd=$1 c want got
	shift
	for c in "$@"; do
		use "$DIRECT"
		# shellcheck disable=SC2086 # the command and case are argument lists
		want=$($cmd $c || true)
		use "$VIP"
		# shellcheck disable=SC2086
		got=$(musl $cmd $c || true)
		e2e_log "${cmd##*/} $c: musl's own: ${want//$'\n'/ }"
		check_eq "${cmd##*/} $c through the ClusterIP $VIP answers as musl itself" "$want" "$got"
	done
}

CASES=(
	"example.org 0 - -"
	"example.org 0 canon http"
	"example.org 4 - 80"
	"example.org 6 - -"
	"www.example.org 0 canon -"
	"www.example.org. 0 canon -"
	"db 0 canon -"
	"db 4 - 443"
	"nosuch.example.net 0 - -"
	"nosuch 0 - -"
	"v4only.test 6 - -"
	"v4only.test 6 v4mapped -"
	"example.org 6 v4mapped,all -"
	"alias.test 0 canon -"
	"alias.test 4 - -"
	"example.org 0 numericserv http"
)
use 10.96.0.10
check_eq "without ldmesh musl cannot reach its ClusterIP nameserver" "error EAI_AGAIN" \
	"$("$CLIENT" example.org 0 - - || true)"
same_as_musl "$CLIENT" "${CASES[@]}"
# gethostbyname and its forms
HCASES=(
	"gethostbyname example.org 4"
	"gethostbyname2 example.org 6"
	"gethostbyname_r www.example.org 4"
	"gethostbyname2_r alias.test 6"
	"gethostbyname2_r db 4"
	"gethostbyname nosuch.example.net 4"
	"gethostbyname2 v4only.test 6"
	"gethostbyname2_r nosuch.example.net 4"
)
same_as_musl "$CLIENT -h" "${HCASES[@]}"
check_match "gethostbyname of an outside name gets its address" '^addr 192\.0\.2\.1$' \
	"$(musl "$CLIENT" -h gethostbyname example.org 4)"

# res_query (and res_search, the same in musl) of outside names
RESCASES=(
	"query example.org A"
	"query example.org AAAA"
	"search www.example.org A"
	"query nosuch.example.net A"
	"query v4only.test AAAA"
	"query alias.test A"
	"query example.org A 20"
)
same_as_musl "$RESCLIENT" "${RESCASES[@]}"
check_match "res_query of an outside name gets its record" '192\.0\.2\.1' \
	"$(musl "$RESCLIENT" query example.org A)"
check_match "NXDOMAIN is HOST_NOT_FOUND" '^rc=-1 h_errno=HOST_NOT_FOUND' \
	"$(musl "$RESCLIENT" query nosuch.example.net A || true)"

# an IPv6 ClusterIP nameserver: musl's socket is IPv6 then
VIP=fd00:96::a DIRECT=fd00:244::53
same_as_musl "$CLIENT" "example.org 0 canon -" "db 4 - 443" "nosuch.example.net 0 - -"
same_as_musl "$CLIENT -h" "gethostbyname2 example.org 6"
VIP=10.96.0.10 DIRECT=127.0.0.1
# (musl's own IPv6 exchange leaves a stray errno, EINVAL, on success: the
# preload keeps the caller's, so errno is not compared here)
use fd00:244::53
want=$("$RESCLIENT" query example.org A | sed 's/ errno=[0-9]*//')
use fd00:96::a
check_eq "res_query through the IPv6 ClusterIP answers as musl itself" "$want" \
	"$(musl "$RESCLIENT" query example.org A | sed 's/ errno=[0-9]*//')"

both=$(musl "$CLIENT" example.org 0 - -)
check_match "an outside name's A record" '^2 192\.0\.2\.1 ' "$both"
check_match "and its AAAA record" '^10 2001:db8::1 ' "$both"
check_match "the search list found db in corp.test" '^2 192\.0\.2\.9 .* db\.corp\.test$' \
	"$(musl "$CLIENT" db 4 canon - | head -1)"
check_eq "NXDOMAIN is EAI_NONAME" "error EAI_NONAME" "$(musl "$CLIENT" nosuch.example.net 0 - - || true)"
check_eq "a cluster name still comes from the table" "2 10.96.0.80 1 6 0 -" \
	"$(musl "$CLIENT" web 4 - - | head -1)"
check_eq "and no DNS query was made for it" 0 "$(grep -c 'query.*web\.' "$E2E_TMP/dns.log" || true)"
# (dnsmasq rotates its records: which of them fit differs from one reply
# to the next, how many do not)
use 127.0.0.1
want=$("$CLIENT" big.test 0 - 80 | grep -c '^2 198\.51\.100\.' || true)
use 10.96.0.10
got=$(musl "$CLIENT" big.test 0 - 80 | grep -c '^2 198\.51\.100\.' || true)
check_ge "a truncated reply still gives its addresses" 20 "$got"
check_eq "as many as musl takes from it" "$want" "$got"
e2e_done
