#!/usr/bin/env bash
# Start safely (issue 22, item 2): a table says whether it is complete. An
# agent run with --require-sync publishes its table complete only while the
# feeder's marker (DIR/.ldmesh-synced, written by ldmesh-sync) is there and
# fresh; until then a cluster name the table lacks goes to the cluster's
# DNS as if ldmesh were not there, instead of failing at once, while the
# services the table has are answered as always. ldmeshctl status says
# which, and the trace says why a name was passed on. Without
# --require-sync (a hand-written folder) the table is complete, as before.
. "$(dirname "$0")/lib.sh"
command -v getent >/dev/null || e2e_skip "getent not installed (libc-bin)"
e2e_mountns "$@"
e2e_netns "$@"
e2e_setup
# the cluster's DNS knows a Service this node's folder does not (yet)
e2e_cluster_dns --host-record=kubernetes.default.svc.cluster.local,10.96.0.1
e2e_add_ip 10.244.1.5
e2e_pod 10.244.1.5 9100
e2e_put_web 10.244.1.5
MARKER=$MANIFESTS/.ldmesh-synced
e2e_agent --require-sync

complete() { "$CTL" -t "$TABLE" -o json status | grep -o '"complete": *[a-z]*' | grep -o '[a-z]*$'; }
is_complete() { [ "$(complete)" = "$1" ]; }
lookup() { pl getent hosts "$1" 2>/dev/null | awk '{print $1}' || true; }
queries() { grep -c 'query\[A\] kubernetes' "$E2E_TMP/dns.log" || true; }

check_eq "no marker: the table is published incomplete" false "$(complete)"
check_match "ldmeshctl status says so" '^complete: +no ' "$("$CTL" -t "$TABLE" status)"
check_match "the agent says why" 'published incomplete.*\.ldmesh-synced: no such file' \
	"$(cat "$E2E_TMP/agent.log")"
q0=$(queries)
check_eq "a cluster name the table lacks is asked of DNS" 10.96.0.1 \
	"$(lookup kubernetes.default.svc.cluster.local)"
check "... which was asked" test "$(queries)" -gt "$q0"
check_eq "a Service the table has is answered from it" 10.96.0.80 "$(lookup web)"
pl env LDMESH_TRACE=1 LDMESH_TRACE_FILE="$E2E_TMP/trace" getent hosts kubernetes >/dev/null 2>&1 || true
check_match "the trace says why the name was passed on" \
	'kubernetes pass \(the table is incomplete: not synced with the API server\)' \
	"$(cat "$E2E_TMP/trace")"

g=$(e2e_gen)
date -u +%Y-%m-%dT%H:%M:%SZ >"$MARKER"
check "a fresh marker: the table is published complete" e2e_wait is_complete true
check "in a new generation" test "$(e2e_gen)" -gt "$g"
q1=$(queries)
check_eq "a cluster name the table lacks is not found, at once" "" \
	"$(lookup kubernetes.default.svc.cluster.local)"
check_eq "... without asking DNS" "$q1" "$(queries)"
check_eq "the table's Service still answers" 10.96.0.80 "$(lookup web)"

touch -d '-90 seconds' "$MARKER"
check "a marker not rewritten for 90 s: incomplete again" e2e_wait is_complete false
check_match "... said with its age" 'last written [0-9]+ s ago \(fresh: within 30 s\)' \
	"$(cat "$E2E_TMP/agent.log")"
check_eq "and the name goes to DNS again" 10.96.0.1 "$(lookup kubernetes.default.svc.cluster.local)"
touch "$MARKER"
check "rewritten: complete" e2e_wait is_complete true
rm -f "$MARKER"
check "removed (the API server lost): incomplete" e2e_wait is_complete false

# A first list as ldmesh-sync writes it: every object, then the marker.
# The agent sees the marker once a second, while the burst's files wait for
# their batch: the table must not say complete before it holds them all.
# Three bursts of 1,500 Services; every status read while they land must
# show either "incomplete" or all of them.
status() { "$CTL" -t "$TABLE" -o json status 2>/dev/null | tr -d ' '; }
burst_seen() { # N: 0 once complete with N+1 services; 1 while not; 2 complete too early
	local st n
	st=$(status)
	case $st in *'"complete":true'*) ;; *) return 1 ;; esac
	n=$(grep -o '"services":[0-9]*' <<<"$st" | grep -o '[0-9]*$')
	[ "$n" -eq $(($1 + 1)) ] && return 0
	echo "complete with $n of $(($1 + 1)) services" >>"$E2E_TMP/early.log"
	return 2
}
burst_done() { burst_seen "$1"; [ $? -ne 1 ]; }
for round in 1 2 3; do
	"$PY" - "$MANIFESTS/burst" "$MARKER" <<'PY'
import os, sys
d, marker = sys.argv[1], sys.argv[2]
os.makedirs(d, exist_ok=True)
for i in range(1500):
    p = os.path.join(d, "s%04d.yaml" % i)
    with open(p + ".tmp", "w") as f:
        f.write("apiVersion: v1\nkind: Service\nmetadata: {name: b%d, namespace: burst}\n"
                "spec:\n  clusterIP: 10.97.%d.%d\n  ports: [{port: 80}]\n" % (i, i // 250, i % 250 + 1))
    os.rename(p + ".tmp", p)
with open(marker + ".tmp", "w") as f:
    f.write("2026-12-08T00:00:00Z\n")
os.rename(marker + ".tmp", marker)
PY
	check "burst $round: the table becomes complete with all 1,500 Services" e2e_wait burst_done 1500
	rm -rf "$MANIFESTS/burst" "$MARKER"
	e2e_wait is_complete false || true
done
check_eq "never complete before the burst was read" "" "$(cat "$E2E_TMP/early.log" 2>/dev/null)"

# a hand-written folder needs no feeder: complete from the first table
kill "$E2E_AGENT_PID"; e2e_wait e2e_gone "$E2E_AGENT_PID" || true
chattr -R -i "$TABLE" 2>/dev/null || true
rm -rf "$TABLE"
e2e_agent
check_eq "without --require-sync the table is complete" true "$(complete)"
e2e_done
