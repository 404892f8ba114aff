#!/usr/bin/env bash
# Issue 22, item 4: the deployment in one apply, run as a node would run it.
#
# examples/deploy/ldmesh.yaml's DaemonSet is started by tests/e2e/kubelet.py
# (a one-node kubelet: the pod's own commands, environment, downward API,
# hostPath volumes, read-only mounts, read-only root and capabilities) in
# private mount and network namespaces: the node's /run, /opt and the
# image's /usr/local are this test's own. The API server is the fake
# (fakeapi.py), reached in-cluster style with the service account's token
# and CA where a pod finds them. Then the README's procedure: the probes,
# `ldmeshctl status` in the agent container, `ldmeshctl inject` of
# examples/deploy/app.yaml, its client's connects in the trace; a second
# agent refused; a new pod over the same node starting from the folder the
# old one left while the API server is away; the liveness probe failing
# once the agent is dead.
. "$(dirname "$0")/lib.sh"
e2e_mountns "$@"
e2e_netns "$@"
e2e_setup
. "$(dirname "$0")/synclib.sh"
[ -z "${LDMESH_ASAN_RUNTIME:-}" ] ||
	e2e_skip "the deployment's pods preload libldmesh.so alone, which an ASan build cannot be"
[ -f "$MUSL_LIB" ] || e2e_skip "the image holds libldmesh-musl.so, not built here (musl-gcc)"
command -v setpriv >/dev/null || e2e_skip "setpriv (util-linux) not installed"
# Debian's python3-yaml is in /usr/bin/python3's path, maybe not in $PY's
KPY=
for p in /usr/bin/python3 "$PY"; do
	"$p" -c 'import yaml' 2>/dev/null && { KPY=$p; break; }
done
[ -n "$KPY" ] || e2e_skip "python3-yaml not installed"
sync_pki
DEPLOY=$LDMESH_SRC/examples/deploy/ldmesh.yaml
APP=$LDMESH_SRC/examples/deploy/app.yaml
KUBELET=("$KPY" "$E2E_DIR/kubelet.py")
LOGS=$E2E_TMP/pods
mkdir -p "$LOGS" "$E2E_TMP/image/bin" "$E2E_TMP/image/lib"

# ---- the cluster: the API server's objects, and a backend pod --------------------
cat >"$E2E_TMP/objects.json" <<'JSON'
{"services": [
  {"apiVersion":"v1","kind":"Service","metadata":{"name":"kubernetes","namespace":"default"},
   "spec":{"clusterIP":"10.96.0.1","ports":[{"name":"https","port":443,"targetPort":6443}]}},
  {"apiVersion":"v1","kind":"Service","metadata":{"name":"backend","namespace":"default"},
   "spec":{"clusterIP":"10.96.0.80","selector":{"app":"backend"},
           "ports":[{"name":"http","port":80,"targetPort":8080}]}}],
 "endpointslices": [
  {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
   "metadata":{"name":"backend-1","namespace":"default","labels":{"kubernetes.io/service-name":"backend"}},
   "addressType":"IPv4","ports":[{"name":"http","port":8080,"protocol":"TCP"}],
   "endpoints":[{"addresses":["10.244.1.5"],"conditions":{"ready":true}}]}],
 "nodes": [{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-a"}}]}
JSON
sync_fake --objects "$E2E_TMP/objects.json"
e2e_add_ip 10.244.1.5
e2e_pod 10.244.1.5 8080 banner

# ---- the node: its own /run and /opt, the image's programs in /usr/local ---------
cp "$LDMESH_BUILD"/agent/{ldmesh-agent,ldmeshctl,ldmesh-sync} "$EXEC" "$E2E_TMP/image/bin/"
cp "$LIB" "$MUSL_LIB" "$E2E_TMP/image/lib/"
mount -t tmpfs -o mode=0755 node-run /run || e2e_skip "cannot mount a tmpfs here"
mount -t tmpfs -o mode=0755 node-opt /opt
mount --bind "$E2E_TMP/image/bin" /usr/local/bin
mount --bind "$E2E_TMP/image/lib" /usr/local/lib
# where every pod finds its service account (/var/run is /run on Debian)
SA_DIR=/var/run/secrets/kubernetes.io/serviceaccount
mkdir -p "$SA_DIR"
cp "$SA/token" "$SA/ca.crt" "$SA_DIR/"
echo ldmesh >"$SA_DIR/namespace"
TABLE=/run/ldmesh/table # for e2e_gen

kubelet() { "${KUBELET[@]}" "$@"; }
probe() { kubelet probe "$DEPLOY" DaemonSet ldmesh agent "$1" >>"$LOGS/probes.log" 2>&1; }
not_probe() { ! probe "$1"; }
in_agent() { kubelet exec "$DEPLOY" DaemonSet ldmesh agent -- "$@"; }
pid_of() { cat "$LOGS/$1.pid"; }

# ---- kubectl apply: the DaemonSet's pod on this node -------------------------------
kubelet run "$DEPLOY" DaemonSet ldmesh --node node-a --logs "$LOGS" --api "127.0.0.1:$FAKE_PORT" ||
	e2e_die "the pod did not start: $(tail -n 5 "$LOGS"/*.log)"
for c in sync agent; do e2e_track "$(pid_of $c)"; done
check "the init container put both preload libraries and ldmesh-exec on the node" \
	test -f /opt/ldmesh/libldmesh.so -a -f /opt/ldmesh/libldmesh-musl.so -a -x /opt/ldmesh/ldmesh-exec
check "the readiness probe passes: the table is complete" e2e_wait probe readiness
check "the liveness probe passes" probe liveness
check "ldmesh-sync wrote the objects into the shared folder" \
	test -f /run/ldmesh-manifests/services/default__backend.json
check "ldmesh-sync is alive (the API server answered its token)" kill -0 "$(pid_of sync)"
check_nomatch "ldmesh-sync had no error" "error|refused|forbidden" "$(cat "$LOGS/sync.log")"
status=$(in_agent ldmeshctl status 2>&1 || true)
check_match "ldmeshctl status in the agent's container: complete" "complete: +yes" "$status"
check_match "and both Services" "services: +2" "$status"
check_match "the node name came from the downward API" "node: +node-a" "$status"
check "the table is below the directory pods mount" test -f /run/ldmesh/table/control
check_nomatch "the agent's one capability is enough to seal what it publishes" \
	"CAP_LINUX_IMMUTABLE" "$(cat "$LOGS/agent.log")"
sealed=$(lsattr -d /run/ldmesh/table/snap.* 2>/dev/null | awk '$1 ~ /i/' | wc -l)
check "published snapshots are immutable (chattr +i)" test "$sealed" -gt 0

# ---- a second agent on the node is refused ------------------------------------------
out=$(in_agent ldmesh-agent --manifests=/run/ldmesh-manifests --require-sync 2>&1; echo "exit $?")
check_match "a second agent on the same table refuses to start, and says why" \
	"another ldmesh-agent .*publishes /run/ldmesh/table" "$out"
check_eq "and exits 1" "exit 1" "$(tail -n1 <<<"$out")"

# ---- ldmeshctl inject, kubectl apply of the application ------------------------------
"$E2E_TMP/image/bin/ldmeshctl" inject "$APP" >"$E2E_TMP/app.yaml" 2>"$E2E_TMP/inject.err"
check "ldmeshctl inject of examples/deploy/app.yaml" test -s "$E2E_TMP/app.yaml"
kubelet run "$E2E_TMP/app.yaml" Deployment client --node node-a --logs "$LOGS" ||
	e2e_die "the application did not start: $(cat "$LOGS/client.log")"
e2e_track "$(pid_of client)"
check "its client connects to backend by name" e2e_wait grep -q "connect 1: ok" "$LOGS/client.log"
check_match "its trace shows the name answered from the table" \
	"getaddrinfo backend.default.svc.cluster.local.* 10.96.0.80" "$(cat "$LOGS/client.log")"
check_match "and the connect sent to the backend pod" "connect .*10.96.0.80:80.* 10.244.1.5:8080" \
	"$(cat "$LOGS/client.log")"
out=$(kubelet exec "$E2E_TMP/app.yaml" Deployment client client -- \
	sh -c 'touch /run/ldmesh/table/x 2>&1; echo "exit $?"')
check_match "the application's mount of the table is read-only" "Read-only file system" "$out"
kill "$(pid_of client)"

# ---- a new pod (rolling update) while the API server is away --------------------------
kill "$FAKE_PID"
kill -9 "$(pid_of agent)" "$(pid_of sync)"
e2e_wait e2e_gone "$(pid_of agent)"
check "the liveness probe fails once the agent is dead" e2e_wait not_probe liveness
gen=$(e2e_gen)
kubelet run "$DEPLOY" DaemonSet ldmesh --node node-a --logs "$LOGS" --api "127.0.0.1:$FAKE_PORT" ||
	e2e_die "the second pod did not start: $(tail -n 5 "$LOGS"/*.log)"
for c in sync agent; do e2e_track "$(pid_of $c)"; done
check "the new agent is live" e2e_wait probe liveness
status=$(in_agent ldmeshctl status 2>&1 || true)
check_match "it publishes the Services the old pod's folder holds, without the API server" \
	"services: +2" "$status"
check_match "the new agent's pid" "by pid $(pid_of agent)|pid $(pid_of agent)" "$status"
resolved=$(in_agent ldmeshctl resolve backend.default.svc.cluster.local 2>&1 || true)
check_match "backend still resolves on the node" "10.96.0.80" "$resolved"
check "the new agent continues the table's generations" e2e_wait e2e_gen_after "$gen"
e2e_done
