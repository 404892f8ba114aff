#!/usr/bin/env bash
# Golden metrics end to end with real clients (issue 25 §2): python and
# curl under the preload count their connects, failures, bytes and
# latency and send them to the agent's report socket at exit; the agent
# adds them up and /metrics (parsed by prometheus_client) holds exactly
# what the clients did, labelled with their namespace and pod (hostname)
# and the Services named through the table; `ldmeshctl top --once` shows
# each Service's failure ratio. Inside the test's own network namespace,
# metrics on 127.0.0.1.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup
command -v curl >/dev/null || e2e_skip "curl not installed"
for QPY in "$PY" /usr/bin/python3 ""; do
	[ -n "$QPY" ] && "$QPY" -c 'import prometheus_client.parser' 2>/dev/null && break
done
[ -n "$QPY" ] || e2e_skip "python3-prometheus-client not installed"
URL=http://127.0.0.1:9153/metrics

LIVE=10.244.1.5 DEAD=10.244.2.5 SITE=10.244.3.5
e2e_add_ip $LIVE $DEAD $SITE
e2e_pod $SITE 9100 http
e2e_pod $LIVE 9100 http

svc() { e2e_svc_yaml "$@"; } # name clusterIP pod
{
	svc web 10.96.0.80 $LIVE
	svc refuse 10.96.0.91 $DEAD
	svc site 10.96.0.81 $SITE
} | e2e_put svcs.yaml
e2e_agent --metrics 127.0.0.1:9153

# python: N requests to web, each on its own connection read to its end,
# counting the bytes it sent and received, and M refused connects to
# refuse, in one process; curl: C requests to site, one process each
N=5 M=3 C=4
out=$(pl env LDMESH_OUTLIER_FAILURES=1000 "$PY" -c '
import socket, sys
n, m = map(int, sys.argv[1:3])
sent = got = 0
for i in range(n):
    s = socket.create_connection(("10.96.0.80", 9000))
    req = b"GET /%d HTTP/1.0\r\n\r\n" % i
    s.sendall(req); sent += len(req)
    while True:
        d = s.recv(65536)
        if not d: break
        got += len(d)
    s.close()
for i in range(m):
    s = socket.socket(); print(s.connect_ex(("10.96.0.91", 9000))); s.close()
print("done", sent, got)' $N $M 2>&1)
check_match "the python client ran as without metrics" "^done [0-9]+ [0-9]+$" "$out"
check_eq "... its refused connects refused" "$(printf '111\n%.0s' $(seq $M))" "$(sed -n "1,${M}p" <<<"$out")"
read -r _ SENT GOT <<<"$(tail -n1 <<<"$out")"
ok_curls=0
for i in $(seq $C); do
	pl curl -s -o /dev/null --max-time 10 http://site.default.svc.cluster.local:9000/ &&
		ok_curls=$((ok_curls + 1))
done
check_eq "every curl reached site" $C $ok_curls

scrape() { "$QPY" "$E2E_DIR/metricsq.py" scrape "$URL" >"$E2E_TMP/scrape" 2>"$E2E_TMP/scrape.err"; }
value() { grep -F -- "$1 " "$E2E_TMP/scrape" | awk '{ print $NF }'; }
H=$(hostname)
LS="source_pod=\"$H\",source_workload_namespace=\"default\""
dst() { # service backend
	printf 'destination_address="%s:9100",destination_port="tcp",destination_service="%s.default.svc.cluster.local",destination_service_name="%s",destination_service_namespace="default"' "$2" "$1" "$1"
}
WEB=$(dst web $LIVE) REF=$(dst refuse $DEAD) SIT=$(dst site $SITE)
all_in() {
	scrape && [ "$(value "ldmesh_tcp_connections_closed_total{$WEB,$LS}")" = "$N" ] &&
		[ "$(value "ldmesh_tcp_connections_failed_total{$REF,reason=\"refused\",$LS}")" = "$M" ] &&
		[ "$(value "ldmesh_tcp_connections_closed_total{$SIT,$LS}")" = "$C" ]
}
check "every client's counts reached /metrics" e2e_wait all_in
check_eq "web: opened N" $N "$(value "ldmesh_tcp_connections_opened_total{$WEB,$LS}")"
check_eq "web: closed N" $N "$(value "ldmesh_tcp_connections_closed_total{$WEB,$LS}")"
check_eq "web: the bytes the client sent ($SENT)" "$SENT" "$(value "ldmesh_tcp_sent_bytes_total{$WEB,$LS}")"
# the server closes first (HTTP/1.0) and tcpi_bytes_received counts the
# sequence number its FIN takes: one more per connection than were read
check_eq "web: the bytes it received ($GOT), and each server's FIN" "$((GOT + N))" \
	"$(value "ldmesh_tcp_received_bytes_total{$WEB,$LS}")"
check_eq "web: N latency samples" $N "$(value "ldmesh_tcp_connect_latency_seconds_count{$WEB,$LS}")"
check_eq "web: N RTT samples" $N "$(value "ldmesh_tcp_rtt_seconds_count{$WEB,$LS}")"
check_eq "refuse: M refused" $M "$(value "ldmesh_tcp_connections_failed_total{$REF,reason=\"refused\",$LS}")"
check_eq "refuse: nothing opened" 0 "$(value "ldmesh_tcp_connections_opened_total{$REF,$LS}")"
check_eq "site: opened C (one curl process each)" $C "$(value "ldmesh_tcp_connections_opened_total{$SIT,$LS}")"
check "site: bytes received" test "$(value "ldmesh_tcp_received_bytes_total{$SIT,$LS}")" -gt 0

TOP=$("$CTL" -t "$TABLE" top --once --metrics-url "$URL" 2>&1)
check_match "top: refuse fails every connect" '^default/refuse +0\.00 +100\.00% +- +- +[0-9.]+ +0/1$' "$TOP"
check_match "top: web fails none" '^default/web +[0-9.]+ +0\.00% +[0-9.]+(us|ms) +[0-9.]+(us|ms) +[0-9.]+(Ki)? +0/1$' "$TOP"
check_match "top: site" '^default/site +[0-9.]+ +0\.00% ' "$TOP"
e2e_done
