#!/usr/bin/env bash
# Unmodified clients reach services by name and ClusterIP through the preload:
# curl, getent, python (socket and urllib), redis-cli, a multi-threaded C
# client and a forking C client whose children exec. The same clients without
# the preload get ENETUNREACH, so the traffic really goes through it.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

# backend: the seed service (no clusterIP: the agent allocates one), its
# pods found by selector; targetPort is the named container port 8080.
e2e_add_ip 10.244.1.5 10.244.2.5 10.244.3.5 10.244.4.5
e2e_put backend.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: backend}
spec:
  selector: {app: testapp, type: backend}
  ports: [{protocol: TCP, port: 80, targetPort: http}]
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: backend-a, namespace: default, labels: {app: testapp, type: backend}}
  spec: {containers: [{name: web, ports: [{name: http, containerPort: 8080}]}]}
  status: {phase: Running, podIP: 10.244.1.5, conditions: [{type: Ready, status: "True"}]}
- apiVersion: v1
  kind: Pod
  metadata: {name: backend-b, namespace: default, labels: {app: testapp, type: backend}}
  spec: {containers: [{name: web, ports: [{name: http, containerPort: 8080}]}]}
  status: {phase: Running, podIP: 10.244.2.5, conditions: [{type: Ready, status: "True"}]}
YAML
# ident: three banner pods via a v1 Endpoints object, fixed ClusterIP
e2e_put ident.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: ident, namespace: default}
spec:
  clusterIP: 10.96.0.30
  ports: [{name: tcp, port: 9000, targetPort: 9100}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: ident, namespace: default}
subsets:
- addresses: [{ip: 10.244.1.5}, {ip: 10.244.2.5}, {ip: 10.244.4.5}]
  ports: [{name: tcp, port: 9100}]
YAML
# redis: as in examples/manifests/redis.json (EndpointSlice)
cp "$LDMESH_SRC/examples/manifests/redis.json" "$MANIFESTS/"

e2e_pod 10.244.1.5 8080 http
e2e_pod 10.244.2.5 8080 http
for ip in 10.244.1.5 10.244.2.5 10.244.4.5; do e2e_pod $ip 9100 banner; done
e2e_agent

BACKENDS='^10\.244\.(1|2)\.5$'
VIP=$(e2e_cluster_ip backend)
check_match "ldmeshctl gives backend a ClusterIP in 10.96.0.0/12" '^10\.(9[6-9]|10[0-9]|110|111)\.' "$VIP"

# --- names --------------------------------------------------------------
out=$(pl getent ahosts backend || true)
check_match "getent ahosts backend shows the ClusterIP" "^$VIP +STREAM " "$out"
out=$(pl getent hosts backend.default.svc.cluster.local || true)
check_match "getent hosts on the FQDN shows the ClusterIP" "^$VIP +backend" "$out"
out=$(pl getent ahosts localhost || true)
check_match "localhost is not a cluster name: the system answers" '^(127\.0\.0\.1|::1) ' "$out"
check_nomatch "localhost does not get a ClusterIP" '^10\.' "$out"

# --- curl ---------------------------------------------------------------
for url in http://backend/ http://backend.default.svc.cluster.local/ \
	http://backend.default/ "http://$VIP/"; do
	out=$(pl curl -sS --max-time 5 "$url" 2>&1 || true)
	check_match "curl $url answered by a backend pod" "$BACKENDS" "$out"
done
out=$(pl curl -sS --max-time 5 http://backend:80/ http://backend/ http://backend/ http://backend/ \
	http://backend/ http://backend/ http://backend/ http://backend/ 2>&1 || true)
check_eq "8 curl requests in one process all answered" 8 "$(printf '%s\n' "$out" | grep -cE "$BACKENDS")"

# --- python -------------------------------------------------------------
out=$(pl "$PY" "$E2E_DIR/pyclient.py" urllib http://backend/ 2>&1 || true)
check_match "python urllib by name" "$BACKENDS" "$out"
out=$(pl "$PY" "$E2E_DIR/pyclient.py" connect ident 9000 20 2>&1 || true)
check_eq "python socket: 20 connects to ident:9000 by name all answered" 20 \
	"$(printf '%s\n' "$out" | grep -cE '^10\.244\.(1|2|4)\.5$')"
out=$(pl "$PY" "$E2E_DIR/pyclient.py" connect 10.96.0.30 9000 5 2>&1 || true)
check_eq "python socket: 5 connects to the ClusterIP answered" 5 \
	"$(printf '%s\n' "$out" | grep -cE '^10\.244\.(1|2|4)\.5$')"

# --- redis --------------------------------------------------------------
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
	redis-server --bind 10.244.3.5 --port 6379 --save '' --appendonly no \
		--protected-mode no --daemonize no --dir "$E2E_TMP" \
		>"$E2E_TMP/redis.log" 2>&1 &
	e2e_track $!
	redis_up() { redis-cli -h 10.244.3.5 -p 6379 PING 2>/dev/null | grep -q PONG; }
	e2e_wait redis_up || e2e_log "redis-server did not answer PING"
	check_eq "redis-cli -h redis PING" PONG "$(pl redis-cli -h redis PING 2>&1 || true)"
	check_eq "redis-cli -h redis SET" OK "$(pl redis-cli -h redis SET ldmesh e2e 2>&1 || true)"
	check_eq "redis-cli -h redis.default.svc.cluster.local GET" e2e \
		"$(pl redis-cli -h redis.default.svc.cluster.local GET ldmesh 2>&1 || true)"
	check_eq "redis-cli -h 10.96.0.20 (ClusterIP) GET" e2e "$(pl redis-cli -h 10.96.0.20 GET ldmesh 2>&1 || true)"
	out=$(redis-cli -h 10.96.0.20 PING 2>&1 || true)
	check_match "redis-cli to the ClusterIP without the preload fails" 'unreachable|Could not connect' "$out"
else
	e2e_log "redis-server/redis-cli not installed (apt-get install redis-server redis-tools): redis part skipped"
fi

# --- multi-threaded C client -------------------------------------------
MT=$(e2e_cc mtclient)
out=$(pl timeout 30 "$MT" ident 9000 8 50 2>&1 || true)
n_ok=$(printf '%s\n' "$out" | grep -cE '^ok 10\.244\.(1|2|4)\.5 peer=10\.96\.0\.30:9000$' || true)
check_eq "mtclient: 8 threads x 50 connects all answered, getpeername = ClusterIP" 400 "$n_ok"
printf '%s\n' "$out" | grep -v '^ok ' | sort | uniq -c | head -n 5 | sed 's/^/#   /' || true
for ip in 10.244.1.5 10.244.2.5 10.244.4.5; do
	n=$(printf '%s\n' "$out" | grep -c "^ok $ip " || true)
	check_ge "mtclient: backend $ip answered" 40 "$n"
done

# --- forking C client ---------------------------------------------------
FK=$(e2e_cc forkclient)
out=$(pl timeout 30 "$FK" ident 9000 4 2>&1) && rc=0 || rc=$?
check_eq "forkclient exits cleanly" 0 "$rc"
check_eq "forkclient: parent connected" 1 "$(printf '%s\n' "$out" | grep -cE '^parent 10\.244\.' || true)"
check_eq "forkclient: 4 children x 5 connects after fork" 20 "$(printf '%s\n' "$out" | grep -cE '^child 10\.244\.' || true)"
check_eq "forkclient: 4 exec'd children (inherited LD_PRELOAD)" 4 "$(printf '%s\n' "$out" | grep -cE '^exec 10\.244\.' || true)"
check_nomatch "forkclient: no errors" '^err' "$out"

# --- without the preload the same clients cannot reach the service --------
out=$("$PY" "$E2E_DIR/pyclient.py" connect 10.96.0.30 9000 1 2>&1 || true)
check_eq "python without the preload: ClusterIP is ENETUNREACH" "ERR ENETUNREACH" "$out"
out=$("$MT" 10.96.0.30 9000 1 1 2>&1 || true)
check_match "mtclient without the preload: connect fails" '^err connect Network is unreachable' "$out"
out=$(curl -sS --max-time 5 "http://$VIP/" 2>&1 || true)
check_nomatch "curl without the preload does not reach a backend" "$BACKENDS" "$out"
out=$(getent ahosts backend 2>&1 || true)
check_nomatch "getent without the preload has no ClusterIP" "$VIP" "$out"

e2e_done
