#!/usr/bin/env bash
# A pod's resolv.conf names the cluster DNS by its ClusterIP (issue 24,
# item 3). glibc's resolver sends its queries with internal socket calls no
# preload sees, so without kube-proxy every outside name fails
# (ENETUNREACH to the VIP). Under the preload the resolver of each thread is
# pointed at a live backend of that Service: getent, python and curl
# resolve outside names through it, a long-lived process follows the table
# when the backend changes, and the trace says so. Here the "cluster DNS"
# is two dnsmasq pods that answer example.org with different addresses, so
# an answer says which pod gave it.
. "$(dirname "$0")/lib.sh"
command -v dnsmasq >/dev/null || e2e_skip "dnsmasq not installed (dnsmasq-base)"
command -v getent >/dev/null || e2e_skip "getent not installed (libc-bin)"
e2e_mountns "$@"
e2e_netns "$@"
e2e_setup

e2e_add_ip 10.244.1.53 10.244.2.53 10.244.1.5
for n in 1 2; do
	dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
		--listen-address=10.244.$n.53 --bind-interfaces --port=53 \
		--address=/example.org/192.0.2.$n --address=/web.example.org/10.244.1.5 \
		--log-queries --log-facility="$E2E_TMP/dns.$n.log" >/dev/null 2>&1 &
	e2e_track $!
	e2e_wait_file "$E2E_TMP/dns.$n.log" 200 || e2e_die "dnsmasq $n did not start"
done
e2e_pod 10.244.1.5 9100 http
put_dns() { e2e_put_kube_dns "$@"; } # backend IPs of kube-system/kube-dns
put_dns 10.244.1.53
e2e_agent

# the pod's view: the cluster DNS by its ClusterIP, as kubelet writes it
printf 'search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5 attempts:1 timeout:2\n' >"$RESOLV"
mount --bind "$RESOLV" /etc/resolv.conf

rc=0; getent hosts example.org >/dev/null 2>&1 || rc=$?
check "without ldmesh the resolver cannot reach its ClusterIP (getent exit $rc)" test "$rc" -ne 0

out=$(LDMESH_TRACE=1 pl getent hosts example.org 2>"$E2E_TMP/trace.1" || true)
check_match "getent hosts example.org through the ClusterIP's pod" '^192\.0\.2\.1 +example\.org$' "$out"
check_match "the trace names the nameserver's redirect" \
	'resolver nameserver 10\.96\.0\.10:53 -> 10\.244\.1\.53:53 svc=kube-system/kube-dns' \
	"$(cat "$E2E_TMP/trace.1")"
check_eq "python's getaddrinfo too" 192.0.2.1 \
	"$(pl "$PY" -c 'import socket; print(socket.getaddrinfo("example.org", 80, socket.AF_INET)[0][4][0])' 2>&1 || true)"
# (not in the ASan pass: curl hangs with the ASan runtime preloaded, with
# or without ldmesh; tests/run.sh says more)
if [ -n "${LDMESH_ASAN_RUNTIME:-}" ]; then
	e2e_log "curl: not run under the ASan runtime"
elif command -v curl >/dev/null; then
	check_match "curl to a name only the DNS pods know reaches the web pod" '^10\.244\.1\.5$' \
		"$(pl curl -s --max-time 20 http://web.example.org:9100/ 2>&1 || true)"
fi
check_eq "a Service name is still answered from the table, not DNS" 10.96.0.10 \
	"$(pl "$PY" -c 'import socket; print(socket.gethostbyname("kube-dns.kube-system"))')"
check_eq "and no DNS pod was asked for it" 0 \
	"$(cat "$E2E_TMP"/dns.*.log | grep -c 'query.*kube-dns' || true)"

# a long-lived process keeps resolving while the backend changes
D=$E2E_TMP/looker
mkdir -p "$D"
pl "$PY" "$E2E_DIR/looker.py" "$D" 3 example.org >"$E2E_TMP/looker.log" 2>&1 &
e2e_track $!
touch "$D/go.1"
e2e_wait_file "$D/out.1" 2400 || not_ok "the looker answered nothing"
check_eq "the long-lived process: the first backend answers" 192.0.2.1 "$(cat "$D/out.1")"
g=$(e2e_gen); put_dns 10.244.2.53; e2e_wait_gen_after "$g" >/dev/null || not_ok "no new generation"
touch "$D/go.2"
e2e_wait_file "$D/out.2" 2400 || not_ok "the looker answered nothing after the change"
check_eq "after the table moved kube-dns to the other pod, that pod answers" 192.0.2.2 "$(cat "$D/out.2")"
g=$(e2e_gen); put_dns; e2e_wait_gen_after "$g" >/dev/null || not_ok "no new generation"
touch "$D/go.3"
e2e_wait_file "$D/out.3" 2400 || not_ok "the looker answered nothing without endpoints"
check_match "with no endpoint left the lookup fails as it would, without a crash" '^error: ' \
	"$(cat "$D/out.3")"
e2e_done
