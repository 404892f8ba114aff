#!/usr/bin/env bash
# Traffic splitting (issue 25, item 3): a Gateway API TCPRoute whose
# parentRef is Service web (GAMMA) splits the connects made to web, by name
# and by ClusterIP, among its backendRefs by weight; the parent's own pod
# gets none. 2,000 connects at 90/10 land inside the binomial 3-sigma band;
# new weights reach a running process with the publish that carries them;
# weight 0 gets nothing; a backendRef to a missing Service has its share
# refused (ECONNREFUSED); a route with a bad weight is reported with
# path:line:col by `ldmeshctl status` and routing stays as it was; a route
# whose parent is unknown is noted in `ldmeshctl status` and the log; ldmesh-exec
# follows the same split.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

OWN=10.244.9.5 # the parent's own pod
V1=10.244.1.5
V2=10.244.2.5
DOWN=10.244.3.5 # web-down's pod: the address is there, no server
V2B=10.244.4.5  # web-v2's pod after a rollout
e2e_add_ip $OWN $V1 $V2 $DOWN $V2B
for ip in $OWN $V1 $V2 $V2B; do e2e_pod "$ip" 9100 banner; done

svc() { e2e_svc_yaml "$@"; } # name clusterIP pod
services() { # web-v2's pod
	svc web 10.96.0.80 $OWN; svc web-v1 10.96.0.81 $V1; svc web-v2 10.96.0.82 "$1"
	svc web-down 10.96.0.83 $DOWN
}
services $V2 | e2e_put services.yaml

route() { # v1-weight v2-weight [third backendRef name]
	cat <<-YAML
	apiVersion: gateway.networking.k8s.io/v1alpha2
	kind: TCPRoute
	metadata: {name: web-canary, namespace: default}
	spec:
	  parentRefs: [{group: "", kind: Service, name: web, port: 9000}]
	  rules:
	  - backendRefs:
	    - {name: web-v1, port: 9000, weight: $1}
	    - {name: web-v2, port: 9000, weight: $2}
	YAML
	[ $# -lt 3 ] || printf '    - {name: %s, port: 9000, weight: %s}\n' "$3" "$4"
}
route 90 10 | e2e_put route.yaml
e2e_agent

# The binomial 3-sigma band for k of n at probability p (as the mean
# n*p plus or minus 3*sqrt(n*p*(1-p)), rounded outwards): "lo hi".
band() { awk -v n="$1" -v p="$2" 'BEGIN { m = n * p; s = 3 * sqrt(n * p * (1 - p));
	lo = int(m - s); hi = int(m + s) + (m + s > int(m + s)); print lo, hi }'; }
in_band() { # what count n p
	local lo hi
	read -r lo hi < <(band "$3" "$4")
	if [ "$2" -ge "$lo" ] && [ "$2" -le "$hi" ]; then ok "$1 ($2 in [$lo, $hi])"
	else not_ok "$1: $2 outside the 3-sigma band [$lo, $hi]"; fi
}

check "the canary example passes --check with the examples" bash -c \
	"mkdir -p '$E2E_TMP/ex' && cp '$LDMESH_SRC'/examples/manifests/* '$LDMESH_SRC'/examples/canary/* '$E2E_TMP/ex/' && '$AGENT' --check -m '$E2E_TMP/ex' >/dev/null 2>&1"

# ---- 90/10 over 2,000 connects, by name -------------------------------------
out=$(pl "$PY" "$E2E_DIR/pyclient.py" connect web 9000 2000 2>&1 || true)
n1=$(count_of $V1 "$out")
n2=$(count_of $V2 "$out")
check_eq "2000 connects by name all answered by web-v1 or web-v2" 2000 $((n1 + n2))
check_eq "the parent's own pod gets none while a route is attached" 0 "$(count_of $OWN "$out")"
in_band "web-v2 at weight 10 of 100" "$n2" 2000 0.1

# ldmeshctl shows the split
out=$("$CTL" -t "$TABLE" describe service web)
check_match "describe service: web-v1's weight and share" \
	'^  port 9000 -> web-v1\.default\.svc\.cluster\.local:9000  weight 90 \(90\.0%\)$' "$out"
check_match "route: the ClusterIP is split" '^10\.96\.0\.80:9000: split by a TCPRoute' \
	"$("$CTL" -t "$TABLE" route 10.96.0.80:9000)"
check_match "get service -o yaml: the trafficSplit" '^  backend: web-v2\.default\.svc\.cluster\.local$' \
	"$("$CTL" -t "$TABLE" get service web -o yaml)"

# by ClusterIP too, and the trace names the split taken
out=$(pl "$PY" "$E2E_DIR/pyclient.py" connect 10.96.0.80 9000 200 2>&1 || true)
check_eq "200 connects to the ClusterIP all split" 200 \
	$(($(count_of $V1 "$out") + $(count_of $V2 "$out")))
trace=$(LDMESH_TRACE=1 pl "$PY" "$E2E_DIR/pyclient.py" connect 10.96.0.80 9000 20 2>&1 >/dev/null || true)
check_match "the trace line names the split chosen" \
	'connect fd=[0-9]+ 10\.96\.0\.80:9000 split=web-v[12]\.default\.svc\.cluster\.local weight=(90|10)/100 -> 10\.244\.[12]\.5:9100 svc=default/web' \
	"$trace"

# ---- the backend Service changes, its parent does not: a delta holds only
# web-v2, the parent stays in the base, and the split follows the new pod
gen=$(e2e_gen)
services $V2B | e2e_put services.yaml
e2e_wait_gen_after "$gen" >/dev/null || not_ok "no publish after web-v2's pod moved"
check_match "the publish is a delta" '^generation: +[0-9]+ \(delta' "$("$CTL" -t "$TABLE" status)"
out=$(pl "$PY" "$E2E_DIR/pyclient.py" connect web 9000 300 2>&1 || true)
check_eq "300 connects: web-v1 or web-v2's new pod" 300 $(($(count_of $V1 "$out") + $(count_of $V2B "$out")))
check_ge "web-v2's share reaches its new pod, found through the delta" 1 "$(count_of $V2B "$out")"
gen=$(e2e_gen)
services $V2 | e2e_put services.yaml
e2e_wait_gen_after "$gen" >/dev/null || not_ok "no publish after web-v2's pod moved back"

# ---- a running process follows the weights within one publish ---------------
e2e_rounds web 9000 200
e2e_round 1 || true
r1=$(cat "$E2E_ROUNDS/out.1")
check_ge "round 1 (90/10): web-v1 answers" 1 "$(count_of $V1 "$r1")"
gen=$(e2e_gen)
route 0 100 | e2e_put route.yaml
e2e_wait_gen_after "$gen" >/dev/null || not_ok "no publish after the weights changed"
e2e_round 2 || true
r2=$(cat "$E2E_ROUNDS/out.2")
check_eq "round 2, after the publish (0/100): all 200 to web-v2" 200 "$(count_of $V2 "$r2")"
check_eq "weight 0 gets nothing" 0 "$(count_of $V1 "$r2")"

# ---- under ldmesh-exec the same split ---------------------------------------
if "$EXEC" --help >/dev/null 2>&1 && [ -z "${LDMESH_ASAN_RUNTIME:-}" ]; then
	out=$(env LDMESH_TABLE="$TABLE" LDMESH_NAMESPACE=default "$EXEC" \
		"$PY" "$E2E_DIR/pyclient.py" connect 10.96.0.80 9000 50 2>&1 || true)
	if grep -q 'seccomp\|not supported\|Operation not permitted' <<<"$out"; then
		e2e_log "ldmesh-exec cannot supervise here: its check skipped"
	else
		check_eq "ldmesh-exec: 50 connects at 0/100 all to web-v2" 50 "$(count_of $V2 "$out")"
	fi
fi

# ---- a backendRef to a missing Service: its share refused --------------------
gen=$(e2e_gen)
route 50 0 web-gone 50 | e2e_put route.yaml
e2e_wait_gen_after "$gen" >/dev/null || not_ok "no publish after the route changed"
out=$(pl "$PY" "$E2E_DIR/pyclient.py" connect web 9000 400 2>&1 || true)
nr=$(count_of "ERR ECONNREFUSED" "$out")
check_eq "400 connects: web-v1 or refused, nothing else" 400 $((nr + $(count_of $V1 "$out")))
in_band "the missing Service's half of the connects refused" "$nr" 400 0.5

# ---- every weight 0: every connect refused ----------------------------------
gen=$(e2e_gen)
route 0 0 | e2e_put route.yaml
e2e_wait_gen_after "$gen" >/dev/null || not_ok "no publish after the route changed"
out=$(pl "$PY" "$E2E_DIR/pyclient.py" connect web 9000 50 2>&1 || true)
check_eq "every weight 0: all 50 connects refused" 50 "$(count_of "ERR ECONNREFUSED" "$out")"

# ---- a backend whose pod refuses: no failover to the parent's own pod --------
gen=$(e2e_gen)
route 0 0 web-down 1 | e2e_put route.yaml
e2e_wait_gen_after "$gen" >/dev/null || not_ok "no publish after the route changed"
# mtclient connects blocking, where the preload fails over within the call
MT=$(e2e_cc mtclient)
out=$(pl timeout 60 "$MT" 10.96.0.80 9000 1 20 2>&1 || true)
check_eq "web-down's pod refuses: all 20 blocking connects refused" 20 \
	"$(grep -c '^err connect Connection refused' <<<"$out" || true)"
check_eq "and none failed over to the parent's own pod" 0 "$(grep -c "^ok $OWN" <<<"$out" || true)"

# ---- an invalid route: reported with path:line:col, routing unchanged --------
gen=$(e2e_gen)
route 0 100 | e2e_put route.yaml
e2e_wait_gen_after "$gen" >/dev/null || not_ok "no publish after the route changed"
route 0 2000000 | e2e_put route.yaml
rejected() { "$CTL" -t "$TABLE" status 2>&1; }
has_reject() { grep -q 'route\.yaml:[0-9]*:[0-9]*:.*weight' <<<"$(rejected)"; }
e2e_wait has_reject || true
check_match "ldmeshctl status reports the bad weight at path:line:col" \
	"$MANIFESTS/route\.yaml:9:[0-9]+: .*backendRefs\[1\]\.weight: Invalid value: 2000000" "$(rejected)"
out=$(pl "$PY" "$E2E_DIR/pyclient.py" connect web 9000 50 2>&1 || true)
check_eq "the last good route stays in force: all 50 to web-v2" 50 "$(count_of $V2 "$out")"

# a route whose parent Service is not in the table: the agent says where
cat <<-'YAML' | e2e_put orphan.yaml
	apiVersion: gateway.networking.k8s.io/v1
	kind: TCPRoute
	metadata: {name: orphan, namespace: default}
	spec:
	  parentRefs: [{kind: Service, name: nowhere}]
	  rules: [{backendRefs: [{name: web-v1, port: 9000}]}]
	YAML
orphan_re='orphan\.yaml:1:1: warning: TCPRoute default/orphan: parent Service default/nowhere not found'
orphan_noted() { grep -Eq "$orphan_re" <<<"$("$CTL" -t "$TABLE" status)"; }
e2e_wait orphan_noted || true
check_match "ldmeshctl status notes the orphan route at path:line:col" "$orphan_re" \
	"$("$CTL" -t "$TABLE" status)"
check_match "and the agent logs it" "$orphan_re" "$(cat "$E2E_TMP/agent.log")"
out=$(pl "$PY" "$E2E_DIR/pyclient.py" connect web 9000 50 2>&1 || true)
check_eq "routing unchanged by the orphan: all 50 to web-v2" 50 "$(count_of $V2 "$out")"

e2e_done
