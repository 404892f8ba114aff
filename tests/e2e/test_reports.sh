#!/usr/bin/env bash
# Issue 25 §1-2, the process side: what processes tell the agent on
# <table>.sock (include/ldmesh/report.h), received here by a stand-in for
# the agent (reportsink.py; the agent itself is stopped once the table is
# published, so this test owns the socket).
#  - a refused backend gives a REFUSED failure report naming it and the
#    Service's VIP, from a blocking python connect and from curl (whose
#    non-blocking connect fails through SO_ERROR);
#  - a blackholed backend (SYNs dropped) gives TIMEOUT from curl
#    --connect-timeout 2, which closes the socket while it still connects;
#    a blocking python connect without a timeout fails over from it within
#    LDMESH_CONNECT_TIMEOUT (3 s) plus a margin, instead of ~130 s;
#  - counters: N connects, M failures and K bytes each way add up to
#    exactly those numbers over the counters datagrams, the last sent at
#    exit; the source labels are the namespace and the hostname;
#  - a socket owned by another uid gets nothing; with no socket, or its
#    queue full, the program runs exactly as it does without them.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup
command -v curl >/dev/null || e2e_skip "curl not installed"
# curl never returns with the ASan runtime preloaded (tests/run.sh): its
# checks are left out of that pass, the rest runs
NO_CURL=${LDMESH_ASAN_RUNTIME:+1}
[ -z "$NO_CURL" ] || e2e_log "the ASan runtime is preloaded: curl's checks left out"
command -v iptables >/dev/null || e2e_skip "iptables not installed"

LIVE=10.244.1.5 DEAD=10.244.2.5 BLACK=10.244.3.5 DEAD2=10.244.4.5 GONE=10.244.5.5
e2e_add_ip $LIVE $DEAD $BLACK $DEAD2
# an address that went away: a connect to it fails with EINVAL
ip route add blackhole $GONE/32
iptables -A INPUT -d $BLACK -p tcp -j DROP || e2e_skip "iptables cannot filter here"

# LIVE echoes what it is sent (K bytes) and waits for the client to close
cat >"$E2E_TMP/echo.py" <<'PY'
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 9100)); s.listen(128); open(sys.argv[2], "w").close()
def serve(c):
    while True:
        d = c.recv(65536)
        if not d: break
        c.sendall(d)
    c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
"$PY" "$E2E_TMP/echo.py" $LIVE "$E2E_TMP/echo.ready" >"$E2E_TMP/echo.log" 2>&1 &
e2e_track $!
e2e_wait_file "$E2E_TMP/echo.ready" || e2e_die "echo server did not start"

svc() { e2e_svc_yaml "$@"; } # name clusterIP ip...
{
	svc web 10.96.0.80 $LIVE
	svc refuse 10.96.0.91 $DEAD
	svc hole 10.96.0.92 $BLACK
	svc mixed 10.96.0.93 $BLACK $LIVE
	svc refuse2 10.96.0.94 $DEAD2
	svc gone 10.96.0.95 $GONE $LIVE
} | e2e_put svcs.yaml
# --metrics: the control page asks processes to count
# (LDMESH_CONTROL_F_METRICS), and still does once the agent is stopped
e2e_agent --metrics 127.0.0.1:9153
e2e_wait e2e_metrics_up 9153 || e2e_die "no metrics on 127.0.0.1:9153"
# the table stays; the socket beside it is this test's
kill "$E2E_AGENT_PID"
e2e_wait -t 10 e2e_gone "$E2E_AGENT_PID" || e2e_die "the agent did not stop"
SOCK=$TABLE.sock
rm -f "$SOCK"

SINK_PID=
sink_start() { # log
	rm -f "$E2E_TMP/sink.ready" "$SOCK"
	"$PY" "$E2E_DIR/reportsink.py" "$SOCK" "$E2E_TMP/sink.ready" >"$1" 2>&1 &
	SINK_PID=$!
	e2e_track "$SINK_PID"
	e2e_wait_file "$E2E_TMP/sink.ready" || e2e_die "reportsink did not start"
}
sink_stop() { kill "$SINK_PID"; e2e_wait -t 5 e2e_gone "$SINK_PID"; rm -f "$SOCK"; }
has() { grep -cE -- "$2" "$1" 2>/dev/null | grep -qv '^0$'; } # file regex
sum() { # file line-regex field: the sum of field=N over matching lines
	grep -E -- "$2" "$1" | sed -n "s/.* $3=\([0-9]*\).*/\1/p" | awk '{ s += $1 } END { print s + 0 }'
}
failed_refused() { # file regex: sum of failed[REFUSED]
	grep -E -- "$2" "$1" | sed -n 's/.* failed=[0-9]*,\([0-9]*\),.*/\1/p' | awk '{ s += $1 } END { print s + 0 }'
}
reported() { # log regex what: a line matching arrives, or the log is shown
	e2e_wait has "$1" "$2" || true
	check_match "$3" "$2" "$(cat "$1")"
}
sum_ge() { [ "$(sum "$1" "$2" "$3")" -ge "$4" ]; }                 # file regex field n
refused_ge() { [ "$(failed_refused "$1" "$2")" -ge "$3" ]; }        # file regex n
# one blocking connect; prints ok or the errno's name
PYCONN='
import errno, socket, sys
s = socket.socket()
rc = s.connect_ex((sys.argv[1], 9000))
print("ok" if rc == 0 else errno.errorcode.get(rc, rc))
s.close()'

# (a) refused: python (blocking) and curl (non-blocking, SO_ERROR)
sink_start "$E2E_TMP/a.log"
check_eq "python: the refused connect fails as before" ECONNREFUSED "$(pl "$PY" -c "$PYCONN" 10.96.0.91)"
reported "$E2E_TMP/a.log" "^failure REFUSED 10\.96\.0\.91:9000 $DEAD:9100 6\$" "python's failure reported: REFUSED, the VIP and the backend"
sink_stop
sink_start "$E2E_TMP/a2.log"
if [ -z "$NO_CURL" ]; then
	pl curl -s -o /dev/null --max-time 10 http://10.96.0.91:9000/ && not_ok "curl reached a refusing backend"
	reported "$E2E_TMP/a2.log" "^failure REFUSED 10\.96\.0\.91:9000 $DEAD:9100 6\$" "curl's failure (SO_ERROR) reported: REFUSED"
fi

# (b) blackholed: curl gives up while connecting; python fails over
if [ -z "$NO_CURL" ]; then
	pl curl -s -o /dev/null --connect-timeout 2 http://10.96.0.92:9000/ && not_ok "curl reached a blackholed backend"
	reported "$E2E_TMP/a2.log" "^failure TIMEOUT 10\.96\.0\.92:9000 $BLACK:9100 6\$" "curl's close while connecting reported: TIMEOUT"
fi
# the same from python: a non-blocking connect closed while it connects
sink_stop
sink_start "$E2E_TMP/b.log"
pl "$PY" -c '
import socket
s = socket.socket(); s.setblocking(False)
s.connect_ex(("10.96.0.92", 9000)); s.close()'
reported "$E2E_TMP/b.log" "^failure TIMEOUT 10\.96\.0\.92:9000 $BLACK:9100 6\$" "python's close while connecting reported: TIMEOUT"
# an event loop that gives up its connects after 0.5 s (closing them):
# those count toward the backend's ejection as timeouts
pl env LDMESH_TRACE=1 LDMESH_TRACE_FILE="$E2E_TMP/giveup.trace" "$PY" -c '
import select, socket
for i in range(20):
    s = socket.socket(); s.setblocking(False)
    s.connect_ex(("10.96.0.93", 9000))
    select.select([], [s], [], 0.5)
    s.close()'
check_match "connects given up while connecting ejected the blackholed backend" \
	"outlier $BLACK:9100 ejected" "$(cat "$E2E_TMP/giveup.trace")"
# a blocking connect with no timeout of its own, to [BLACK, LIVE] at
# random, until one went to BLACK first (2^-12 that none does in 12)
out=$(pl env LDMESH_OUTLIER_FAILURES=1000 timeout 60 "$PY" -c '
import socket, time
for i in range(12):
    s = socket.socket(); t0 = time.monotonic()
    rc = s.connect_ex(("10.96.0.93", 9000)); t = time.monotonic() - t0
    print("%d %.1f %s" % (rc, t, s.getpeername()[0] if rc == 0 else "-"))
    s.close()
    if t > 1: break' 2>&1 || true)
check_eq "every blocking connect to [blackholed, live] succeeded" 0 \
	"$(printf '%s\n' "$out" | awk '$1 != 0' | wc -l)"
check_match "one of them went to the blackholed backend first ($out)" ' [1-9][0-9]*\.[0-9] ' "$out"
check "and failed over within LDMESH_CONNECT_TIMEOUT (3 s) + 2 s ($(echo $out))" \
	awk -v t="$(printf '%s\n' "$out" | tail -n1 | cut -d' ' -f2)" 'BEGIN { exit !(t >= 2.5 && t < 5) }'
out=$(pl env LDMESH_OUTLIER_FAILURES=1000 LDMESH_CONNECT_TIMEOUT=7 timeout 60 "$PY" -c '
import socket, time
s = socket.socket(); t0 = time.monotonic()
rc = s.connect_ex(("10.96.0.92", 9000))
print("%d %.1f" % (rc, time.monotonic() - t0))' 2>&1 || true)
check "LDMESH_CONNECT_TIMEOUT=7: a blocking connect to the blackholed backend gives up after 7 s ($out)" \
	awk -v t="${out#* }" 'BEGIN { exit !(t >= 6.5 && t < 9.5) }'
# EINVAL (the backend's address is gone) fails over like ECONNREFUSED
out=$(pl env LDMESH_OUTLIER_FAILURES=1000 "$PY" -c '
import socket
for i in range(20):
    s = socket.socket(); print(s.connect_ex(("10.96.0.95", 9000))); s.close()' 2>&1 || true)
check_eq "20 blocking connects to [address gone, live]: none failed" 20 "$(count_of 0 "$out")"
reported "$E2E_TMP/b.log" "^failure UNREACHABLE 10\.96\.0\.95:9000 $GONE:9100 6\$" "the address gone reported: UNREACHABLE"
sink_stop

# (c) counters: N connects sending and receiving K bytes each, M failures,
# all in one process that exits right after
N=5 M=3 K=3000
sink_start "$E2E_TMP/c.log"
out=$(pl env LDMESH_OUTLIER_FAILURES=1000 "$PY" -c '
import socket, sys
n, m, k = map(int, sys.argv[1:4])
for i in range(n):
    s = socket.create_connection(("10.96.0.80", 9000))
    s.sendall(b"x" * k); got = 0
    while got < k: got += len(s.recv(65536))
    s.close()
for i in range(m):
    s = socket.socket(); print(s.connect_ex(("10.96.0.91", 9000))); s.close()
print("done")' $N $M $K 2>&1 || true)
check_eq "the counting client ran as before" "$(printf '111\n%.0s' $(seq $M); echo done)" "$out"
webre="^count default $(hostname) 10\.96\.0\.80:9000 $LIVE:9100 "
e2e_wait sum_ge "$E2E_TMP/c.log" "$webre" closed $N ||
	not_ok "the closes did not all arrive: $(cat "$E2E_TMP/c.log")"
e2e_wait refused_ge "$E2E_TMP/c.log" "^count .* 10\.96\.0\.91:9000 $DEAD:9100 " $M ||
	not_ok "the failures did not all arrive: $(cat "$E2E_TMP/c.log")"
check_eq "opened: N, over all datagrams" $N "$(sum "$E2E_TMP/c.log" "$webre" opened)"
check_eq "closed: N" $N "$(sum "$E2E_TMP/c.log" "$webre" closed)"
check_eq "connect latency samples: N" $N "$(sum "$E2E_TMP/c.log" "$webre" latency)"
check_eq "bytes sent: N*K" $((N * K)) "$(sum "$E2E_TMP/c.log" "$webre" sent)"
check_eq "bytes received: N*K" $((N * K)) "$(sum "$E2E_TMP/c.log" "$webre" received)"
check_eq "RTT samples: N" $N "$(sum "$E2E_TMP/c.log" "$webre" rtt_count)"
check_eq "failed (REFUSED): M" $M "$(failed_refused "$E2E_TMP/c.log" "^count .* 10\.96\.0\.91:9000 $DEAD:9100 ")"
check_eq "nothing opened to the refusing backend" 0 "$(sum "$E2E_TMP/c.log" "10\.96\.0\.91:9000" opened)"
check_eq "no datagram the agent would drop" 0 "$(grep -c '^bad' "$E2E_TMP/c.log" || true)"
# a long-lived connection still open at exit is counted opened, not closed
sink_stop
sink_start "$E2E_TMP/c2.log"
# (libc's exit straight away: python's own finalization would close it)
pl "$PY" -c '
import ctypes, socket
s = socket.create_connection(("10.96.0.80", 9000))
ctypes.CDLL(None).exit(0)' || true
e2e_wait sum_ge "$E2E_TMP/c2.log" "$webre" opened 1 ||
	not_ok "a connection open at exit was not flushed: $(cat "$E2E_TMP/c2.log")"
check_eq "open at exit: opened 1, closed 0" "1 0" \
	"$(sum "$E2E_TMP/c2.log" "$webre" opened) $(sum "$E2E_TMP/c2.log" "$webre" closed)"
sink_stop

# (d) a socket owned by another uid gets nothing: the refused connect to
# `refuse` goes unreported; then, owned by root again, `refuse2`'s is
# (the sink sees only the second)
sink_start "$E2E_TMP/d.log"
chown 65534 "$SOCK"
check_eq "untrusted socket: the connect fails as before" ECONNREFUSED "$(pl "$PY" -c "$PYCONN" 10.96.0.91)"
chown 0 "$SOCK"
check_eq "trusted again" ECONNREFUSED "$(pl "$PY" -c "$PYCONN" 10.96.0.94)"
e2e_wait has "$E2E_TMP/d.log" "^failure REFUSED 10\.96\.0\.94:9000" ||
	not_ok "nothing reported once the socket is root's: $(cat "$E2E_TMP/d.log")"
check_eq "nothing at all was sent to the socket while another uid owned it" 0 \
	"$(grep -c '10\.96\.0\.91' "$E2E_TMP/d.log" || true)"
sink_stop

# (e) no socket, then a full queue: the program behaves as without them,
# and does not wait
expect="ECONNREFUSED
ok
ok"
run_e() {
	pl env LDMESH_OUTLIER_FAILURES=1000 timeout 20 "$PY" -c "
$PYCONN" 10.96.0.91
	pl timeout 20 "$PY" -c "$PYCONN" 10.96.0.80
	pl timeout 20 "$PY" -c "$PYCONN" 10.96.0.93
}
check_eq "no socket: the same answers" "$expect" "$(run_e 2>&1 | sed -n 1,3p)"
"$PY" -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o666)
c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); c.setblocking(False)
n = 0
try:
    while n < 100000:
        c.sendto(b"x" * 1000, sys.argv[1]); n += 1
except BlockingIOError:
    pass
print(n, flush=True)
open(sys.argv[2], "w").close()
sys.stdin.read()' "$SOCK" "$E2E_TMP/full.ready" >"$E2E_TMP/full.log" 2>&1 </dev/zero &
e2e_track $!
e2e_wait_file "$E2E_TMP/full.ready" || e2e_die "could not fill a queue"
check_eq "full queue: the same answers, nothing waits" "$expect" "$(run_e 2>&1 | sed -n 1,3p)"
e2e_done
