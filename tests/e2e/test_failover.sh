#!/usr/bin/env bash
# Connect failover and outlier ejection. One of three ready backends dies
# (its EndpointSlice not updated, as in the seconds after a node fails): a
# connect to it is refused.
#  - 200 blocking connects by a real client (one process): none fails; the
#    dead backend is tried at most twice (two failures in a row eject it for
#    30 s) and each of those connects goes on to a live one in the same call.
#  - 200 non-blocking connects by an event loop (asyncio, 20 at a time): the
#    failures it reads through SO_ERROR eject the dead backend too, and
#    after that it is not chosen again.
#  - Without failover (LDMESH_CONNECT_ATTEMPTS=1) about one connect in three
#    fails: the test would see it.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

PODS="10.244.1.5 10.244.2.5 10.244.3.5"
DEAD=10.244.2.5
e2e_add_ip $PODS
for ip in 10.244.1.5 10.244.3.5; do e2e_pod "$ip" 9100; done
e2e_put_web $PODS # the dead one is still listed ready
# the process's own failover and outlier ejection: the agent's node-wide
# ejection (test_health_eject, test_mesh_goals) would take the dead backend
# out after its first report, before the process learns anything
e2e_agent --no-health
CLIENT=$(e2e_cc netclient)

run() { # trace-file client args...
	local trace=$1
	shift
	pl env LDMESH_TRACE=1 LDMESH_TRACE_FILE="$trace" "$@" 2>&1 || true
}

out=$(run "$E2E_TMP/blocking.trace" "$CLIENT" banner web 9000 200)
check_eq "200 blocking connects, none failed" 0 "$(printf '%s\n' "$out" | grep -c '^error' || true)"
check_eq "every one answered by a live pod" 200 \
	"$(printf '%s\n' "$out" | grep -cE '^10\.244\.(1|3)\.5$' || true)"
check_ge "both live pods served (of 200)" 40 "$(count_of 10.244.1.5 "$out")"
check_ge "both live pods served (of 200)" 40 "$(count_of 10.244.3.5 "$out")"
tried=$(grep -c "$DEAD:9100 failed (Connection refused)" "$E2E_TMP/blocking.trace" || true)
check "the dead backend was tried at most twice ($tried)" test "$tried" -le 2
check_eq "then ejected" 1 "$(grep -c "outlier $DEAD:9100 ejected for 30000 ms" "$E2E_TMP/blocking.trace" || true)"
check_eq "each failure went on to a live backend in the same call" "$tried" \
	"$(grep -cE 'retry 2/3 -> 10\.244\.(1|3)\.5:9100' "$E2E_TMP/blocking.trace" || true)"

out=$(run "$E2E_TMP/async.trace" "$PY" "$E2E_DIR/aclient.py" web 9000 200)
failed=$(printf '%s\n' "$out" | grep -c '^error' || true)
check_eq "200 non-blocking connects: all but the failed ones answered by a live pod" \
	"$((200 - failed))" "$(printf '%s\n' "$out" | grep -cE '^10\.244\.(1|3)\.5$' || true)"
check_eq "the event loop's failures ejected the dead backend" 1 \
	"$(grep -c "outlier $DEAD:9100 ejected" "$E2E_TMP/async.trace" || true)"
after=$(sed -n "/outlier $DEAD:9100 ejected/,\$p" "$E2E_TMP/async.trace" | grep -c -- "-> $DEAD:9100" || true)
check "after its ejection the dead backend was not chosen again ($after)" test "$after" -le 1
# The loop issues 20 connects before it reads any failure: about a third
# of that first batch (binomially, more than 10 of 20 in 3.8% of runs) picks
# the dead backend before its first failure can eject it. At most that
# one batch, then: without ejection a third of all 200 would fail.
check "failures before the ejection: at most the first batch of 20 ($failed of 200)" \
	test "$failed" -le 20

# The connect-again idiom (connect, EINPROGRESS, connect again until it
# says how it ended) counts failures as well.
out=$(run "$E2E_TMP/again.trace" "$PY" -c '
import errno, select, socket
for _ in range(30):
    s = socket.socket(); s.setblocking(False)
    rc = s.connect_ex(("web", 9000))
    while rc in (errno.EINPROGRESS, errno.EALREADY):
        select.select([], [s], [], 5)
        rc = s.connect_ex(("web", 9000))
    print("ok" if rc in (0, errno.EISCONN) else "error %d" % rc)
    s.close()')
check_eq "connect again: the dead backend ejected" 1 \
	"$(grep -c "outlier $DEAD:9100 ejected" "$E2E_TMP/again.trace" || true)"
after=$(sed -n "/outlier $DEAD:9100 ejected/,\$p" "$E2E_TMP/again.trace" | grep -c -- "-> $DEAD:9100" || true)
check "and not chosen after ($after)" test "$after" -le 1

# SO_SNDTIMEO bounds the whole call. Two backends whose neighbour never
# answers ARP (each connect fails with EHOSTUNREACH after about 3 s): with a
# 4 s SO_SNDTIMEO the first fails at ~3 s, the retry gets the ~1 s left and
# times out (EINPROGRESS, as a timed-out blocking connect does): ~4 s in
# all, not 3 + 3.
ip link add dark0 type veth peer name dark1
ip addr add 10.99.0.1/24 dev dark0
ip link set dark0 up
ip link set dark1 up
g=$(e2e_gen)
e2e_put dark.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: dark, namespace: default}
spec: {clusterIP: 10.96.0.99, ports: [{name: tcp, port: 9000, targetPort: 9100}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: dark-1, namespace: default, labels: {kubernetes.io/service-name: dark}}
addressType: IPv4
ports: [{name: tcp, port: 9100, protocol: TCP}]
endpoints:
- addresses: [10.99.0.2]
  conditions: {ready: true}
- addresses: [10.99.0.3]
  conditions: {ready: true}
YAML
e2e_wait_gen_after "$g" >/dev/null || not_ok "no new generation for dark"
out=$(run "$E2E_TMP/timeout.trace" "$PY" -c '
import errno, socket, struct, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 4, 0))
t0 = time.monotonic()
rc = s.connect_ex(("10.96.0.99", 9000))
print("%s %.1f" % (errno.errorcode.get(rc, rc), time.monotonic() - t0))')
check_match "the first backend failed slowly, then the retry" 'retry 2/3 -> 10\.99\.0\.[23]:9100' \
	"$(cat "$E2E_TMP/timeout.trace")"
check_match "the call ends when SO_SNDTIMEO runs out, as a timed-out connect ($out)" '^EINPROGRESS ' "$out"
check "and takes about the timeout, not more ($out)" \
	awk -v t="${out#* }" 'BEGIN { exit !(t >= 3.5 && t < 5.5) }'

# The same blocking client without failover: the dead backend's share fails.
out=$(pl env LDMESH_CONNECT_ATTEMPTS=1 LDMESH_OUTLIER_FAILURES=1000 "$CLIENT" banner web 9000 60 2>&1 || true)
check_ge "without failover connects fail (of 60)" 5 "$(printf '%s\n' "$out" | grep -c '^error' || true)"
e2e_done
