#!/usr/bin/env bash
# Issue 25's Goal, measured with the real pieces together: the preload
# reporting what fails, the agent verifying and ejecting node-wide
# (health on, as by default, with a 1 s re-check interval), its /metrics.
# Three pods behind each Service, real clients, one process per request:
#  1. one pod refusing (no listener): 60 curl processes in sequence by
#     name, and 60 by ClusterIP (another Service, its own refusing pod):
#     at most 2 of each fail;
#  2. one pod blackholed (its SYNs dropped): 20 `curl --connect-timeout 5`
#     in sequence: at most 2 fail, and once the table says it is ejected
#     every later one succeeds without waiting the connect timeout (10
#     more after the 20, so there always are some);
#  4. (before 3, while both are ejected) a python client and a Go program
#     under ldmesh-exec, neither failing over by itself (both connect
#     non-blocking with a 5 s timeout), have every connect answered;
#  3. the refusing pod starts listening, the blackholed one's drop is
#     lifted: each serves a connect again within two re-check intervals;
#  5. /metrics at the end: for each curl Service, opened = the curls that
#     succeeded and failures >= those that failed.
# Side Services list the same pods for the clients of 3 and 4 (ejection
# is per backend, node-wide), so the curl Services count only the curls.
# The numbers are printed (# lines) for the issue's closing note.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup
command -v curl >/dev/null || e2e_skip "curl not installed"
command -v iptables >/dev/null || e2e_skip "iptables not installed"
for QPY in "$PY" /usr/bin/python3 ""; do
	[ -n "$QPY" ] && "$QPY" -c 'import prometheus_client.parser' 2>/dev/null && break
done
[ -n "$QPY" ] || e2e_skip "python3-prometheus-client not installed"

LIVE="10.244.1.5 10.244.3.5"
DEAD=10.244.2.5  # web's: refuses (no listener) until part 3
DEAD2=10.244.4.5 # webip's: refuses
BLACK=10.244.5.5 # hole's: listens, its SYNs dropped until part 3
e2e_add_ip $LIVE $DEAD $DEAD2 $BLACK
for ip in $LIVE $BLACK; do e2e_pod "$ip" 9100 http; done
iptables -A INPUT -d $BLACK -p tcp -j DROP || e2e_skip "iptables cannot filter here"

{
	e2e_svc_yaml web 10.96.0.80 $LIVE $DEAD
	e2e_svc_yaml webip 10.96.0.81 $LIVE $DEAD2
	e2e_svc_yaml hole 10.96.0.82 $LIVE $BLACK
	e2e_svc_yaml side-web 10.96.0.90 $LIVE $DEAD
	e2e_svc_yaml side-hole 10.96.0.92 $LIVE $BLACK
} | e2e_put svcs.yaml
INTERVAL_S=1
BACKOFF_CAP=8 # agent/health/health.h HEALTH_BACKOFF_CAP
# (HEALTH_ARGS=--no-health: the agent without node-wide health, to see
# the goals missed without it)
# shellcheck disable=SC2086
e2e_agent --health-interval $INTERVAL_S --metrics 127.0.0.1:9153 ${HEALTH_ARGS-}

# the state of IP's endpoint in Service NAME, as the published table says
# (ldmeshctl services: what every process reads)
ep_state() { # name ip
	"$CTL" -t "$TABLE" services | awk -v svc="$1" -v ip="$2:" '
		/^[^ ]/ { cur = $2 } cur == svc && $1 ~ "^" ip { print $2 }'
}
table_says() { [ "$(ep_state "$1" "$2")" = "$3" ]; }

# N curl processes in sequence, one line each: rc ms ejected-before
# start-ms answer (ejected-before: the table flagged backend IP of Service
# NAME ejected before the curl started at start-ms, epoch)
curls() { # n out name ip url [curl args...]
	local n=$1 out=$2 name=$3 ip=$4 url=$5 ej t0 rc ans
	shift 5
	: >"$out"
	for _ in $(seq "$n"); do
		ej=0
		table_says "$name" "$ip" ejected && ej=1
		t0=$(date +%s%N)
		rc=0
		ans=$(pl curl -s --max-time 20 "$@" "$url" 2>/dev/null) || rc=$?
		echo "$rc $((($(date +%s%N) - t0) / 1000000)) $ej $((t0 / 1000000)) ${ans:--}" >>"$out"
	done
}
fails() { awk '$1 != 0' "$1" | wc -l; }                   # out
oks() { awk '$1 == 0' "$1" | wc -l; }                     # out
max_ms() { awk '$3 == 1 && $2 > m { m = $2 } END { print m + 0 }' "$1"; } # out: after ejection
max_all() { awk '$2 > m { m = $2 } END { print m + 0 }' "$1"; }

# ---- 1. one of three refusing ------------------------------------------------
curls 60 "$E2E_TMP/name.out" web $DEAD http://web:9000/
curls 60 "$E2E_TMP/ip.out" webip $DEAD2 http://10.96.0.81:9000/
NAME_F=$(fails "$E2E_TMP/name.out") IP_F=$(fails "$E2E_TMP/ip.out")
e2e_log "goal 1: 1 of 3 refusing: $NAME_F of 60 curls by name failed, $IP_F of 60 by ClusterIP"
check "1 of 3 refusing: at most 2 of 60 curls by name fail ($NAME_F)" test "$NAME_F" -le 2
check "1 of 3 refusing: at most 2 of 60 curls by ClusterIP fail ($IP_F)" test "$IP_F" -le 2
check_eq "the curls that did not fail were answered by a live pod (by name)" "$(oks "$E2E_TMP/name.out")" \
	"$(grep -cE '^0 [0-9]+ [01] [0-9]+ 10\.244\.(1|3)\.5$' "$E2E_TMP/name.out" || true)"
check "the refusing pod is ejected (table)" e2e_wait table_says web $DEAD ejected
check "webip's refusing pod is ejected (table)" e2e_wait table_says webip $DEAD2 ejected

# ---- 2. one of three blackholed ----------------------------------------------
curls 20 "$E2E_TMP/hole.out" hole $BLACK http://hole:9000/ --connect-timeout 5
check "the blackholed pod is ejected (table)" e2e_wait table_says hole $BLACK ejected
# and 10 more, all started after the ejection
curls 10 "$E2E_TMP/hole2.out" hole $BLACK http://hole:9000/ --connect-timeout 5
HOLE_F=$(fails "$E2E_TMP/hole.out")
AFTER=$(cat "$E2E_TMP/hole.out" "$E2E_TMP/hole2.out" | awk '$3 == 1' | wc -l)
AFTER_F=$(cat "$E2E_TMP/hole.out" "$E2E_TMP/hole2.out" | awk '$3 == 1 && $1 != 0' | wc -l)
AFTER_MAX=$(cat "$E2E_TMP/hole.out" "$E2E_TMP/hole2.out" | max_ms /dev/stdin)
e2e_log "goal 2: 1 of 3 blackholed: $HOLE_F of 20 curls --connect-timeout 5 failed" \
	"(longest wait $(max_all "$E2E_TMP/hole.out") ms); after the ejection $AFTER_F of $AFTER failed," \
	"longest wait $AFTER_MAX ms"
e2e_log "goal 2, each curl that failed: $(awk '$1 != 0 { printf "#%d exit %d after %d ms; ", NR, $1, $2 }' "$E2E_TMP/hole.out")" \
	"the first to start with the pod ejected: #$(awk '$3 == 1 { print NR; exit }' "$E2E_TMP/hole.out")"
check "1 of 3 blackholed: at most 2 of 20 curls fail ($HOLE_F)" test "$HOLE_F" -le 2
check_eq "the 10 curls after the ejection started after it" 10 "$(awk '$3 == 1' "$E2E_TMP/hole2.out" | wc -l)"
check_eq "none started after the ejection failed (of $AFTER)" 0 "$AFTER_F"
check "none started after the ejection waited the connect timeout (longest $AFTER_MAX ms < 5000 ms)" \
	test "$AFTER_MAX" -lt 5000

# ---- 4. python and Go avoid the ejected pods ---------------------------------
# each connect non-blocking with a 5 s timeout (no failover within the
# call): a connect landing on the blackholed pod would fail after 5 s,
# one on the refusing pod at once
PYCLI='
import socket, sys, time
for i in range(int(sys.argv[3])):
    t0 = time.monotonic()
    try:
        with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            body = b""
            while True:
                d = s.recv(4096)
                if not d: break
                body += d
            ans = body.decode().split("\r\n\r\n", 1)[-1].strip() or "EMPTY"
    except OSError as e:
        ans = "ERR:%s" % e.__class__.__name__
    print("%s %d" % (ans, (time.monotonic() - t0) * 1000), flush=True)'
for s in side-hole side-web; do
	out=$(pl "$PY" -c "$PYCLI" $s 9000 30 2>&1 || true)
	e2e_log "python, 30 connects to $s: $(awk '{ print $1 }' <<<"$out" | sort | uniq -c | tr -s ' \n' ' ')" \
		"longest $(awk '$2 > m { m = $2 } END { print m + 0 }' <<<"$out") ms"
	check_eq "python: all 30 connects to $s answered by a live pod" 30 \
		"$(grep -cE '^10\.244\.(1|3)\.5 [0-9]+$' <<<"$out" || true)"
done
if ! command -v go >/dev/null; then
	not_ok "go not installed (golang-go): the Go half of goal 4 not measured"
elif ! "$EXEC" true 2>"$E2E_TMP/probe.err"; then
	not_ok "ldmesh-exec cannot run here: $(cat "$E2E_TMP/probe.err")"
else
	e2e_goclient pure 0
	# ClusterIPs: a pure-Go resolver would need cluster DNS for names
	for vip in 10.96.0.92 10.96.0.90; do
		out=$(env LDMESH_TABLE="$TABLE" LDMESH_NAMESPACE=default "$EXEC" \
			"$E2E_TMP/go-pure" http "http://$vip:9000/" 20 2>&1 || true)
		e2e_log "Go under ldmesh-exec, 20 requests to $vip: $(sort <<<"$out" | uniq -c | tr -s ' \n' ' ')"
		check_eq "Go under ldmesh-exec: all 20 requests to $vip answered by a live pod" 20 \
			"$(grep -cE '^10\.244\.(1|3)\.5$' <<<"$out" || true)"
	done
fi

# ---- 3. they come back -------------------------------------------------------
# a curl to Service NAME answered by IP
answered_by() { [ "$(pl curl -s --max-time 3 "http://$1:9000/" 2>/dev/null)" = "$2" ]; } # name ip
# The re-check interval in effect E ms after the ejection (health.c: the
# first re-check one interval after it, each failed one doubles the next,
# up to BACKOFF_CAP intervals; a probe of a blackholed backend takes its
# 1 s timeout before it fails and the next is scheduled)
interval_at() { # elapsed-ms probe-ms
	awk -v e="$1" -v p="$2" -v i="$((INTERVAL_S * 1000))" -v cap="$((BACKOFF_CAP * INTERVAL_S * 1000))" '
		BEGIN { cur = i; t = i + p
			while (t <= e) { if (cur < cap) cur *= 2; t += cur + p }
			print cur }'
}
# How long (ms) from T0 until a curl to NAME lands on IP again; the bound:
# two re-check intervals, the one in effect at T0 counted from the last
# curl that still saw the pod chosen (the ejection was later: the
# interval found is at least the real one)
comeback() { # what name ip t0 probe-ms curls-out...
	local what=$1 name=$2 ip=$3 t0=$4 probe=$5 ms last iv
	shift 5
	last=$(cat "$@" | awk '$3 == 0 { t = $4 } END { print (t == "" ? 0 : t) }')
	iv=$(interval_at $((t0 / 1000000 - last)) "$probe")
	if e2e_wait answered_by "$name" "$ip"; then
		ms=$((($(date +%s%N) - t0) / 1000000))
		e2e_log "goal 3: the $what pod served a connect again $ms ms after it came back" \
			"($((t0 / 1000000 - last)) ms after its ejection at most; the re-check interval then: $iv ms," \
			"of ${INTERVAL_S} s backing off to $((BACKOFF_CAP * INTERVAL_S)) s)"
		check "the $what pod is used again within two re-check intervals ($ms ms <= 2 x $iv ms)" \
			test "$ms" -le $((2 * iv))
	else
		not_ok "the $what pod was never used again"
	fi
}
t0=$(date +%s%N)
e2e_pod $DEAD 9100 http
comeback refusing side-web $DEAD "$t0" 0 "$E2E_TMP/name.out"
t0=$(date +%s%N)
iptables -D INPUT -d $BLACK -p tcp -j DROP
comeback blackholed side-hole $BLACK "$t0" 1000 "$E2E_TMP/hole.out"
for ip in $DEAD $BLACK; do
	check_match "the agent logged $ip's re-admission" "backend re-admitted: $ip:9100" "$(cat "$E2E_TMP/agent.log")"
done

# ---- 5. /metrics adds up to what the curls did -------------------------------
URL=http://127.0.0.1:9153/metrics
scrape() { "$QPY" "$E2E_DIR/metricsq.py" scrape "$URL" >"$E2E_TMP/scrape" 2>"$E2E_TMP/scrape.err"; }
total() { # metric service [reason]: the sum over every source and backend
	{ grep -E "^$1\{.*destination_service_name=\"$2\".*${3:+reason=\"$3\"}" "$E2E_TMP/scrape" || true; } |
		awk '{ s += $NF } END { print s + 0 }'
}
# each curl sends its counts at exit: wait until every one has arrived
arrived() { # service n
	scrape && [ $(($(total ldmesh_tcp_connections_opened_total "$1") +
		$(total ldmesh_tcp_connections_failed_total "$1"))) -ge "$2" ]
}
for s in "web name.out" "webip ip.out" "hole hole.out hole2.out"; do
	read -r svcname outs <<<"$s"
	files=()
	for f in $outs; do files+=("$E2E_TMP/$f"); done
	n=$(cat "${files[@]}" | wc -l)
	okn=$(cat "${files[@]}" | awk '$1 == 0' | wc -l)
	failn=$((n - okn))
	check "$svcname: the counts of its $n curls arrived" e2e_wait arrived "$svcname" "$n"
	opened=$(total ldmesh_tcp_connections_opened_total "$svcname")
	failed=$(total ldmesh_tcp_connections_failed_total "$svcname")
	reasons=""
	for r in refused timeout unreachable reset other; do
		v=$(total ldmesh_tcp_connections_failed_total "$svcname" $r)
		[ "$v" = 0 ] || reasons+=" $r=$v"
	done
	e2e_log "goal 5: /metrics for $svcname: opened $opened, failed $failed (${reasons# }); its curls: $okn ok, $failn failed"
	check_eq "$svcname: opened in /metrics = the curls that succeeded" "$okn" "$opened"
	check "$svcname: failed in /metrics >= the curls that failed ($failed >= $failn)" test "$failed" -ge "$failn"
done
e2e_done
