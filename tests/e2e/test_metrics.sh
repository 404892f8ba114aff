#!/usr/bin/env bash
# Golden metrics without a proxy (issue 25, §2), the agent's side: counters
# datagrams sent on the report socket as processes send them (report.h,
# built by metricsq.py) end up in /metrics as exactly their sums, per
# source pod, Service (named through the table) and backend; the
# exposition parses with prometheus_client's own parser; a malformed or
# huge request is refused and a silent connection held open while the
# agent goes on publishing; the series cap drops and counts; and
# `ldmeshctl top --once` shows the Service with the right failure ratio.
# Metrics listen on 127.0.0.1 only, inside the test's own namespace.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup
# Debian's python3-prometheus-client is the system python's, which may not
# be the python3 first on PATH
for QPY in "$PY" /usr/bin/python3 ""; do
	[ -n "$QPY" ] && "$QPY" -c 'import prometheus_client.parser' 2>/dev/null && break
done
[ -n "$QPY" ] || e2e_skip "python3-prometheus-client not installed"

Q=("$QPY" "$E2E_DIR/metricsq.py")
URL=http://127.0.0.1:9153/metrics
e2e_put_web 10.244.1.5 10.244.2.5
e2e_agent --metrics 127.0.0.1:9153
SOCK=$TABLE.sock

scrape() { "${Q[@]}" scrape "$URL" >"$E2E_TMP/scrape" 2>"$E2E_TMP/scrape.err"; }
# the value of one sample, by its exact line prefix (name and labels)
value() { grep -F -- "$1 " "$E2E_TMP/scrape" | awk '{ print $NF }'; }
received_is() { scrape && [ "$(value 'ldmesh_metrics_reports_received_total{}')" = "$1" ]; }

check "the agent answers /metrics, and it parses" e2e_wait scrape
check_eq "nothing counted yet" 0 "$(value 'ldmesh_metrics_reports_received_total{}')"

# A known set: four datagrams from pod shop/frontend-1 to web
# (10.96.0.80:9000): 40 connects opened, 30 closed, 8 refused and 2 timed
# out, 4,000 bytes sent and 1,234 received, latencies in known buckets;
# and one to an address that is no Service.
ONE='{"vip": "10.96.0.80", "vport": 9000, "backend": "10.244.1.5", "bport": 9100,
      "opened": 10, "closed": 7, "failed": {"refused": 2}, "latency": {"0": 6, "4": 4},
      "latency_us_sum": 5000, "sent": 1000, "received": 300, "rtt_us_sum": 400,
      "rtt_count": 7, "failovers": 1}'
LAST='{"vip": "10.96.0.80", "vport": 9000, "backend": "10.244.1.5", "bport": 9100,
       "opened": 10, "closed": 9, "failed": {"timeout": 2}, "latency": {"0": 6, "4": 4},
       "latency_us_sum": 5000, "sent": 1000, "received": 334, "rtt_us_sum": 400,
       "rtt_count": 9}'
for i in 1 2 3; do "${Q[@]}" send "$SOCK" shop frontend-1 "[$ONE]"; done
"${Q[@]}" send "$SOCK" shop frontend-1 "[$LAST,
  {\"vip\": \"10.96.77.7\", \"vport\": 80, \"backend\": \"10.244.9.9\", \"bport\": 8080, \"opened\": 5}]"
check "all four datagrams added up" e2e_wait received_is 4

# the parser's labels, sorted: le and reason fall between these two halves
LD='destination_address="10.244.1.5:9100",destination_port="tcp",destination_service="web.default.svc.cluster.local",destination_service_name="web",destination_service_namespace="default"'
LS='source_pod="frontend-1",source_workload_namespace="shop"'
L="$LD,$LS"
check_eq "opened: 40" 40 "$(value "ldmesh_tcp_connections_opened_total{$L}")"
check_eq "closed: 30" 30 "$(value "ldmesh_tcp_connections_closed_total{$L}")"
check_eq "failed, refused: 6" 6 "$(value "ldmesh_tcp_connections_failed_total{$LD,reason=\"refused\",$LS}")"
check_eq "failed, timeout: 2" 2 "$(value "ldmesh_tcp_connections_failed_total{$LD,reason=\"timeout\",$LS}")"
check_eq "sent bytes: 4000" 4000 "$(value "ldmesh_tcp_sent_bytes_total{$L}")"
check_eq "received bytes: 1234" 1234 "$(value "ldmesh_tcp_received_bytes_total{$L}")"
check_eq "failovers: 3" 3 "$(value "ldmesh_tcp_failovers_total{$L}")"
check_eq "latency <= 50 us: 24" 24 \
	"$(value "ldmesh_tcp_connect_latency_seconds_bucket{$LD,le=\"5e-05\",$LS}")"
check_eq "latency <= 1 ms: 40 (cumulative)" 40 \
	"$(value "ldmesh_tcp_connect_latency_seconds_bucket{$LD,le=\"0.001\",$LS}")"
check_eq "latency +Inf: 40" 40 "$(value "ldmesh_tcp_connect_latency_seconds_bucket{$LD,le=\"+Inf\",$LS}")"
check_eq "latency count: 40" 40 "$(value "ldmesh_tcp_connect_latency_seconds_count{$L}")"
check_eq "latency sum: 0.02 s" 0.02 "$(value "ldmesh_tcp_connect_latency_seconds_sum{$L}")"
check_eq "rtt count: 30" 30 "$(value "ldmesh_tcp_rtt_seconds_count{$L}")"
check_match "an unknown VIP is labelled by its address" \
	'^ldmesh_tcp_connections_opened_total\{destination_address="10.244.9.9:8080",destination_port="80",destination_service="10.96.77.7:80",destination_service_name="",destination_service_namespace="",source_pod="frontend-1",source_workload_namespace="shop"\} 5$' \
	"$(cat "$E2E_TMP/scrape")"
check_eq "two series" 2 "$(value 'ldmesh_metrics_series{}')"
check_eq "the report socket's count" 4 "$(value 'ldmesh_agent_reports_received_total{}')"

# ldmeshctl top --once: totals since the agent started
TOP=$("$CTL" -t "$TABLE" top --once --metrics-url "$URL" 2>&1)
# p50: rank 20 of 40, 24 in (0, 50 us]: 50 * 20/24 = 42 us; p99: rank 39.6,
# 16 in (500 us, 1 ms]: 500 + 500 * 15.6/16 = 988 us (histogram_quantile's
# interpolation)
check_match "top: web with 40 connects, 8 failed: 16.67% (8 of 48), p50 42us, p99 988us, 0 of 2 ejected" \
	'^default/web +[0-9.]+ +16\.67% +42us +988us +[0-9.]+(Ki)? +0/2$' "$TOP"
check_match "top: the unknown address by itself" '^10\.96\.77\.7:80 +[0-9.]+ +0\.00% +- +- +0 +-$' "$TOP"
# refreshed: the second frame covers the time since the first, in which
# nothing was sent: no connects, no failure ratio
"$CTL" -t "$TABLE" top --interval 0.2 --metrics-url "$URL" >"$E2E_TMP/top.live" 2>&1 &
TOP_PID=$!
e2e_track "$TOP_PID"
two_frames() { grep -q '^rates and ratios over the last' "$E2E_TMP/top.live"; }
check "top refreshes: a second frame" e2e_wait two_frames
kill "$TOP_PID"
check_match "... web idle in it" '^default/web +0\.00 +- +- +- +0 +0/2$' \
	"$(sed -n '/^rates and ratios/,$p' "$E2E_TMP/top.live")"
RC=0
"$CTL" top --once --metrics-url http://127.0.0.1:9/metrics >/dev/null 2>"$E2E_TMP/err" || RC=$?
check_eq "top: no agent there: exit 1" 1 "$RC"
check_match "... saying why" 'top: http://127.0.0.1:9/metrics: Connection refused' "$(cat "$E2E_TMP/err")"

# A stalled scraper of a large body (1,000 more series, about 10 MB:
# more than the sockets hold) does not stall the agent: it publishes while
# the scraper reads nothing, and the scraper then gets the whole text.
"${Q[@]}" many "$SOCK" 1000
check "1,000 series more" e2e_wait received_is 14
"${Q[@]}" slow 127.0.0.1 9153 "$E2E_TMP/go" >"$E2E_TMP/slow" 2>&1 &
e2e_track $!
asked() { grep -q asked "$E2E_TMP/slow"; }
check "the stalled scraper asked" e2e_wait asked
GEN=$(e2e_gen)
e2e_put_web 10.244.1.5 10.244.2.5 10.244.4.5
check "the agent publishes while it has a body to send" e2e_wait e2e_gen_after "$GEN"
touch "$E2E_TMP/go"
slow_done() { grep -q True "$E2E_TMP/slow"; }
check "the stalled scraper then reads the whole text, to its last chunk" e2e_wait slow_done
check "... of more than 5 MB" test "$(awk '{ print $1 }' "$E2E_TMP/slow" | tail -n1)" -gt 5000000

# Refused requests, while the agent keeps publishing: a request head past
# the cap (431), garbage (400), and a connection that says nothing, held
# open across a publish.
HUGE=$("$PY" -c 'print((b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 10000).hex())')
check_eq "a huge request: 431" "HTTP/1.1 431 Request Header Fields Too Large" \
	"$("${Q[@]}" raw 127.0.0.1 9153 "$HUGE")"
check_eq "garbage: 400" "HTTP/1.1 400 Bad Request" \
	"$("${Q[@]}" raw 127.0.0.1 9153 "$(printf '\x16\x03\x01 junk\r\n\r\n' | od -An -tx1 | tr -d ' \n')")"
exec 7<>/dev/tcp/127.0.0.1/9153 # silent, held open
GEN=$(e2e_gen)
e2e_put_web 10.244.1.5 10.244.2.5 10.244.3.5
check "the agent publishes with a silent scraper connected" e2e_wait e2e_gen_after "$GEN"
check "and answers /metrics meanwhile" scrape
exec 7>&-
check_eq "the two refused requests counted" 2 "$(value 'ldmesh_metrics_http_refused_total{}')"
check_eq "top: the new backend shows in the table's count" 1 \
	"$("$CTL" -t "$TABLE" top --once --metrics-url "$URL" | grep -cE '^default/web .* 0/3$')"

# The series cap: a second agent (its own table) keeping 2 series, sent 3.
mkdir -p "$E2E_TMP/m2"
e2e_web_yaml 10.244.1.5 >"$E2E_TMP/m2/web.yaml"
"$AGENT" -m "$E2E_TMP/m2" -t "$E2E_TMP/t2" --metrics 127.0.0.1:9154 --metrics-max-series 2 \
	>>"$E2E_TMP/agent2.log" 2>&1 &
e2e_track $!
URL=http://127.0.0.1:9154/metrics
check "the second agent answers" e2e_wait scrape
e3() { printf '{"vip": "10.96.0.80", "vport": 9000, "backend": "%s", "bport": 9100, "opened": 1}' "$1"; }
sock_up() { [ -S "$E2E_TMP/t2.sock" ]; }
e2e_wait sock_up
"${Q[@]}" send "$E2E_TMP/t2.sock" shop p "[$(e3 10.244.1.5), $(e3 10.244.2.5), $(e3 10.244.3.5)]"
check "the datagram added up" e2e_wait received_is 1
check_eq "series held: the cap, 2" 2 "$(value 'ldmesh_metrics_series{}')"
check_eq "series dropped: 1" 1 "$(value 'ldmesh_metrics_series_dropped_total{}')"
check_eq "two backends' series, not three" 2 "$(grep -c '^ldmesh_tcp_connections_opened_total{' "$E2E_TMP/scrape")"

RC=0
"$AGENT" -m "$E2E_TMP/m2" -t "$E2E_TMP/t3" --metrics 127.0.0.1 >/dev/null 2>"$E2E_TMP/err" || RC=$?
check_eq "--metrics without a port: usage error" 2 "$RC"
RC=0
"$AGENT" -m "$E2E_TMP/m2" -t "$E2E_TMP/t3" --metrics 127.0.0.1:9154 >"$E2E_TMP/err" 2>&1 || RC=$?
check_eq "--metrics on a port in use: exit 1" 1 "$RC"
check_match "... saying so" 'error ldmesh-agent: --metrics bind/listen 127.0.0.1:9154: Address already in use' \
	"$(cat "$E2E_TMP/err")"
e2e_done
