#!/usr/bin/env bash
# Issue 24, item 3, IPv6: a pod whose resolv.conf names the cluster DNS by an
# IPv6 ClusterIP (an IPv6 or dual-stack cluster). glibc keeps IPv6
# nameservers apart from IPv4 ones (_res._u._ext.nsaddrs); the preload
# steers those too, in place and in their own family, to a live backend of
# that Service; without kube-proxy nothing else would reach it.
. "$(dirname "$0")/lib.sh"
command -v dnsmasq >/dev/null || e2e_skip "dnsmasq not installed (dnsmasq-base)"
command -v getent >/dev/null || e2e_skip "getent not installed (libc-bin)"
e2e_mountns "$@"
e2e_netns "$@"
e2e_setup

for ip in fd00:244::53 fd00:244:1::53; do ip addr add "$ip/128" dev lo nodad; done
n=0
for ip in fd00:244::53 fd00:244:1::53; do
	n=$((n + 1))
	dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
		--listen-address="$ip" --bind-interfaces --port=53 \
		--address=/example.org/192.0.2.$n \
		--log-queries --log-facility="$E2E_TMP/dns.$n.log" >/dev/null 2>&1 &
	e2e_track $!
	e2e_wait_file "$E2E_TMP/dns.$n.log" || e2e_die "dnsmasq $n did not start"
done
put_dns() { # backend IPv6 addresses of kube-system/kube-dns
	{
		printf 'apiVersion: v1\nkind: Service\nmetadata: {name: kube-dns, namespace: kube-system}\n'
		printf 'spec:\n  clusterIP: "fd00:96::a"\n  ipFamilies: [IPv6]\n  ports:\n'
		printf '  - {name: dns, port: 53, targetPort: 53, protocol: UDP}\n---\n'
		printf 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n'
		printf 'metadata: {name: kube-dns-1, namespace: kube-system, labels: {kubernetes.io/service-name: kube-dns}}\n'
		printf 'addressType: IPv6\nports: [{name: dns, port: 53, protocol: UDP}]\nendpoints:\n'
		for ip in "$@"; do printf -- '- addresses: ["%s"]\n  conditions: {ready: true}\n' "$ip"; done
	} | e2e_put dns.yaml
}
put_dns fd00:244::53
e2e_agent --service-cidr 10.96.0.0/12,fd00:96::/112

printf 'search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver fd00:96::a\noptions ndots:5 attempts:1 timeout:2\n' >"$RESOLV"
mount --bind "$RESOLV" /etc/resolv.conf

rc=0; getent hosts example.org >/dev/null 2>&1 || rc=$?
check "without ldmesh the resolver cannot reach its IPv6 ClusterIP (getent exit $rc)" test "$rc" -ne 0
out=$(LDMESH_TRACE=1 pl getent hosts example.org 2>"$E2E_TMP/trace.1" || true)
check_match "getent hosts example.org through the IPv6 ClusterIP's pod" '^192\.0\.2\.1 +example\.org$' "$out"
check_match "the trace names the nameserver's redirect" \
	'resolver nameserver \[fd00:96::a\]:53 -> \[fd00:244::53\]:53 svc=kube-system/kube-dns' \
	"$(cat "$E2E_TMP/trace.1")"

# a long-lived process follows the table to the other DNS pod
D=$E2E_TMP/looker
mkdir -p "$D"
pl "$PY" "$E2E_DIR/looker.py" "$D" 2 example.org >"$E2E_TMP/looker.log" 2>&1 &
e2e_track $!
touch "$D/go.1"
e2e_wait_file "$D/out.1" || not_ok "the looker answered nothing"
check_eq "the long-lived process: the first backend answers" 192.0.2.1 "$(cat "$D/out.1")"
g=$(e2e_gen); put_dns fd00:244:1::53; e2e_wait_gen_after "$g" >/dev/null || not_ok "no new generation"
touch "$D/go.2"
e2e_wait_file "$D/out.2" || not_ok "the looker answered nothing after the change"
check_eq "after the table moved kube-dns to the other pod, that pod answers" 192.0.2.2 "$(cat "$D/out.2")"
e2e_done
