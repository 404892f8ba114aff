#!/usr/bin/env bash
# Trace mode (LDMESH_TRACE=1, LDMESH_TRACE_FILE) says what happened, and says
# it truthfully: the backend in a "connect ... ->" line is the pod that
# answered; "pass" for what is not a service, "refused" for a service
# without endpoints, a getaddrinfo line per resolved name; one whole line per
# decision even from 8 threads; a forked child traces under its own pid.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

e2e_add_ip 10.244.1.5 10.244.2.5
e2e_put backend.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: backend}
spec:
  selector: {app: testapp, type: backend}
  ports: [{protocol: TCP, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: ident, namespace: default}
spec:
  clusterIP: 10.96.0.70
  selector: {app: testapp, type: backend}
  ports: [{port: 9000, targetPort: 9100}]
---
apiVersion: v1
kind: Service
metadata: {name: empty, namespace: default}
spec:
  clusterIP: 10.96.0.71
  ports: [{port: 9000}]
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: backend-a, namespace: default, labels: {app: testapp, type: backend}}
  status: {phase: Running, podIP: 10.244.1.5, conditions: [{type: Ready, status: "True"}]}
- apiVersion: v1
  kind: Pod
  metadata: {name: backend-b, namespace: default, labels: {app: testapp, type: backend}}
  status: {phase: Running, podIP: 10.244.2.5, conditions: [{type: Ready, status: "True"}]}
YAML
for ip in 10.244.1.5 10.244.2.5; do e2e_pod $ip 8080 http; e2e_pod $ip 9100 banner; done
e2e_pod 127.0.0.1 9200 banner
e2e_agent
VIP=$(e2e_cluster_ip backend)
GEN=$(e2e_gen)
V=${VIP//./\\.}
C="$PY $E2E_DIR/pyclient.py"
traced() { pl env LDMESH_TRACE=1 LDMESH_TRACE_FILE="$E2E_TMP/$1.trace" "${@:2}"; }

# --- curl by name: getaddrinfo line, connect line naming the answering pod ---
body=$(traced curl curl -sS --max-time 5 http://backend/ 2>&1 || true)
check_match "curl http://backend/ answered" '^10\.244\.[12]\.5$' "$body"
t=$(cat "$E2E_TMP/curl.trace" 2>/dev/null || true)
check_match "trace: getaddrinfo line" \
	"^ldmesh\[[0-9]+\] getaddrinfo backend -> $V svc=default/backend gen=$GEN\$" "$t"
check_match "trace: connect line names the pod that answered ($body)" \
	"^ldmesh\[[0-9]+\] connect fd=[0-9]+ $V:80 -> ${body//./\\.}:8080 svc=default/backend ep=[0-9]+/2\$" "$t"
check_eq "trace: exactly one redirected connect" 1 "$(printf '%s\n' "$t" | grep -c ' -> 10\.244\.' || true)"
check_match "trace: the init line shows namespace, table and search list" \
	"^ldmesh\[[0-9]+\] init ns=default table=$E2E_TMP/table ndots=5 search=default\.svc\.cluster\.local,svc\.cluster\.local,cluster\.local\$" "$t"

# --- pass, refused, a name outside the cluster -----------------------------
traced pass $C connect 127.0.0.1 9200 1 >/dev/null 2>&1 || true
check_match "trace: a connect to 127.0.0.1 is a pass line" \
	'^ldmesh\[[0-9]+\] connect fd=[0-9]+ 127\.0\.0\.1:9200 pass$' "$(cat "$E2E_TMP/pass.trace" 2>/dev/null)"
traced local getent ahosts localhost >/dev/null 2>&1 || true
check_match "trace: getaddrinfo localhost is a pass line" \
	'^ldmesh\[[0-9]+\] getaddrinfo localhost pass( \(not a cluster name: .*DNS is asked for the name alone, without the search list\))?$' "$(cat "$E2E_TMP/local.trace" 2>/dev/null)"
out=$(traced refused $C connect empty 9000 1 2>&1 || true)
check_eq "a service without endpoints is refused" "ERR ECONNREFUSED" "$out"
check_match "trace: the refused connect says why" \
	'^ldmesh\[[0-9]+\] connect fd=[0-9]+ 10\.96\.0\.71:9000 refused svc=default/empty' \
	"$(cat "$E2E_TMP/refused.trace" 2>/dev/null)"

# --- stderr when no file is given; nothing when tracing is off ---------------
err=$(pl env LDMESH_TRACE=1 $C connect ident 9000 1 2>&1 >/dev/null || true)
check_match "LDMESH_TRACE=1 without a file traces to stderr" \
	'^ldmesh\[[0-9]+\] connect fd=[0-9]+ 10\.96\.0\.70:9000 -> 10\.244\.[12]\.5:9100 svc=default/ident' "$err"
err=$(pl $C connect ident 9000 1 2>&1 >/dev/null || true)
check_eq "without LDMESH_TRACE nothing is written" "" "$err"

# --- 8 threads: whole lines, one per decision, matching what was answered ----
MT=$(e2e_cc mtclient)
out=$(traced mt timeout 30 "$MT" ident 9000 8 50 2>&1 || true)
t=$(cat "$E2E_TMP/mt.trace" 2>/dev/null || true)
re='^ldmesh\[[0-9]+\] connect fd=[0-9]+ 10\.96\.0\.70:9000 -> 10\.244\.[12]\.5:9100 svc=default/ident ep=[12]/2$'
check_eq "mtclient trace: 400 well-formed connect lines" 400 "$(printf '%s\n' "$t" | grep -cE "$re" || true)"
check_eq "mtclient trace: 400 well-formed getaddrinfo lines" 400 \
	"$(printf '%s\n' "$t" | grep -cE "^ldmesh\[[0-9]+\] getaddrinfo ident -> 10\.96\.0\.70 svc=default/ident gen=$GEN\$" || true)"
check_eq "mtclient trace: no torn or foreign lines" "" \
	"$(printf '%s\n' "$t" | grep -vE "$re|^ldmesh\[[0-9]+\] (init ns=default |table gen=$GEN switched\$|getaddrinfo ident -> 10\.96\.0\.70 )" || true)"
for ip in 10.244.1.5 10.244.2.5; do
	check_eq "mtclient: trace lines to $ip = connects answered by $ip" \
		"$(printf '%s\n' "$out" | grep -c "^ok $ip " || true)" \
		"$(printf '%s\n' "$t" | grep -c " -> ${ip//./\\.}:9100 " || true)"
done

# --- fork: each child traces under its own pid --------------------------------
FK=$(e2e_cc forkclient)
traced fork timeout 30 "$FK" ident 9000 4 >/dev/null 2>&1 || true
t=$(cat "$E2E_TMP/fork.trace" 2>/dev/null || true)
check_eq "forkclient trace: 1 + 4x5 + 4 redirected connects" 25 \
	"$(printf '%s\n' "$t" | grep -cE '^ldmesh\[[0-9]+\] connect fd=[0-9]+ 10\.96\.0\.70:9000 -> ' || true)"
pids=$(printf '%s\n' "$t" | grep ' connect fd=' | sed -E 's/^ldmesh\[([0-9]+)\].*/\1/' | sort | uniq -c | awk '{print $1}' | sort -n | tr '\n' ' ')
check_eq "forkclient trace: parent 1 line; each child its own pid, 5 + 1 exec'd" "1 6 6 6 6 " "$pids"

e2e_done
