#!/usr/bin/env bash
# ldmeshctl against a table the agent published from examples/manifests (the
# seed's backend service, frontend with a named targetPort, redis from JSON)
# plus a service without endpoints: every command, text and -o json, and the
# exit codes scripts rely on. Only reads the table; no traffic.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

cp "$LDMESH_SRC"/examples/manifests/* "$MANIFESTS/"
e2e_put empty.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: empty, namespace: prod}
spec:
  clusterIP: 10.96.0.99
  ports: [{name: web, port: 8080, protocol: TCP}, {name: assoc, port: 9999, protocol: SCTP}]
YAML
e2e_agent --node node-a

json() { "$PY" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# status
st=$("$CTL" -t "$TABLE" -o json status)
check_eq "status: generation 1" 1 "$(printf '%s' "$st" | json 'd["generation"]')"
check_eq "status: 4 services" 4 "$(printf '%s' "$st" | json 'd["services"]')"
check_eq "status: 4 endpoints" 4 "$(printf '%s' "$st" | json 'd["endpoints"]')"
check_eq "status: node" node-a "$(printf '%s' "$st" | json 'd["node"]')"
check_eq "status: agent pid" "$E2E_AGENT_PID" "$(printf '%s' "$st" | json 'd["agentPid"]')"
check_match "status text names the table" "^table: +$TABLE" "$("$CTL" -t "$TABLE" status)"

# services, JSON: the documented shape
sv=$("$CTL" -t "$TABLE" -o json services)
check_eq "services sorted by namespace/name" "default/backend default/frontend default/redis prod/empty" \
	"$(printf '%s' "$sv" | json '" ".join(s["namespace"]+"/"+s["name"] for s in d["services"])')"
check_eq "backend: type, no explicit clusterIP so one allocated in 10.96.0.0/12" "ClusterIP True" \
	"$(printf '%s' "$sv" | json '(lambda s: s["type"] + " " + str(__import__("ipaddress").ip_address(s["clusterIPs"][0]) in __import__("ipaddress").ip_network("10.96.0.0/12")))(d["services"][0])')"
check_eq "backend port 80/TCP -> targetPort 80" "80 TCP 80" \
	"$(printf '%s' "$sv" | json '(lambda p: "%d %s %s" % (p["port"], p["protocol"], p["targetPort"]))(d["services"][0]["ports"][0])')"
check_eq "backend endpoints with conditions, node and pod" \
	"10.244.1.5:80 ready node-a backend-7d9f8-abcde,10.244.2.5:80 ready node-b backend-7d9f8-fghij" \
	"$(printf '%s' "$sv" | json '",".join("%s:%d %s %s %s" % (e["ip"], e["port"], "ready" if e["ready"] and e["serving"] and not e["terminating"] else "?", e["node"], e["pod"]) for e in d["services"][0]["ports"][0]["endpoints"])')"
check_eq "frontend: named targetPort kept by name, resolved per pod to 8080" "http 8080" \
	"$(printf '%s' "$sv" | json '(lambda p: "%s %d" % (p["targetPort"], p["endpoints"][0]["port"]))(d["services"][1]["ports"][0])')"
check_eq "redis: explicit clusterIP from the JSON manifest" 10.96.0.20 \
	"$(printf '%s' "$sv" | json 'd["services"][2]["clusterIPs"][0]')"
check_eq "empty: no endpoints" 0 "$(printf '%s' "$sv" | json 'len(d["services"][3]["ports"][0]["endpoints"])')"

# services, text
txt=$("$CTL" -t "$TABLE" services)
check_match "text: backend row" '^default +backend +ClusterIP +10\.[0-9.]+ +80/TCP +2/2 ready$' "$txt"
check_match "text: an endpoint line" '^  10\.244\.1\.5:80 ready +node=node-a pod=backend-7d9f8-abcde$' "$txt"

# route
vip=$(printf '%s' "$sv" | json 'd["services"][0]["clusterIPs"][0]')
rt=$("$CTL" -t "$TABLE" -o json route "$vip:80")
check_eq "route: backend's VIP chooses among both pods" "default/backend ready 10.244.1.5,10.244.2.5" \
	"$(printf '%s' "$rt" | json 'd["service"] + " " + d["action"] + " " + ",".join(b["ip"] for b in d["backends"])')"
check_eq "route: no endpoints -> reject" reject \
	"$("$CTL" -t "$TABLE" -o json route 10.96.0.99:8080/tcp | json 'd["action"]')"
rc=0; "$CTL" -t "$TABLE" route 10.96.0.99:8080/udp >/dev/null || rc=$?
check_eq "route: the UDP port of a TCP service is not a service (exit 1)" 1 "$rc"
rc=0; "$CTL" -t "$TABLE" route "$vip:81" >/dev/null || rc=$?
check_eq "route: another port is not a service (exit 1)" 1 "$rc"
# SCTP ports are in the table but the preload passes SCTP through: route
# says so (it answered "ready" before; issue 9, item 12)
rc=0; out=$("$CTL" -t "$TABLE" -o json route 10.96.0.99:9999/sctp) || rc=$?
check_eq "route: an SCTP port passes through (exit 1, action pass)" "1 pass prod/empty" \
	"$rc $(printf '%s' "$out" | json 'd["action"] + " " + d["service"]')"
rc=0; "$CTL" -t "$TABLE" route "nonsense" >/dev/null 2>&1 || rc=$?
check_eq "route: bad input is a usage error (exit 2)" 2 "$rc"

# resolve, with the preload's own rules
check_eq "resolve backend (namespace default)" "found default/backend $vip" \
	"$(LDMESH_NAMESPACE=default LDMESH_RESOLV_CONF=$RESOLV "$CTL" -t "$TABLE" -o json resolve backend | json 'd["status"] + " " + d["service"] + " " + d["addresses"][0]')"
check_eq "resolve empty.prod from namespace default" "found prod/empty" \
	"$(LDMESH_NAMESPACE=default LDMESH_RESOLV_CONF=$RESOLV "$CTL" -t "$TABLE" -o json resolve empty.prod | json 'd["status"] + " " + d["service"]')"
printf 'search prod.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n' >"$E2E_TMP/resolv.prod"
rc=0; LDMESH_NAMESPACE=prod LDMESH_RESOLV_CONF=$E2E_TMP/resolv.prod "$CTL" -t "$TABLE" resolve backend >/dev/null || rc=$?
check_eq "resolve backend from a pod in namespace prod: not found (exit 1)" 1 "$rc"
check_eq "resolve a name outside the cluster: pass" pass \
	"$(LDMESH_RESOLV_CONF=$RESOLV "$CTL" -t "$TABLE" -o json resolve example.org | json 'd["status"]')"

# status shows which files are refused and why, and when the folder was
# last read (issue 9): the agent's <table>/status
rejected() { "$CTL" -t "$TABLE" -o json status | json '",".join(r["error"] for r in d["rejected"])'; }
check_eq "status: nothing rejected" "" "$(rejected)"
check_match "status: the time of the last scan" '^20[0-9][0-9]-[01][0-9]-[0-3][0-9]T' \
	"$("$CTL" -t "$TABLE" -o json status | json 'd["lastScan"]')"
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: broken}\nspec: {ports: [{port: 99999}]}\n' |
	e2e_put broken.yaml
some_rejected() { [ -n "$(rejected)" ]; }
none_rejected() { [ -z "$(rejected)" ]; }
e2e_wait some_rejected || true
check_match "status: the refused file with its line:col error" \
	"broken.yaml:4:23: spec.ports\[0\].port: 99999 is not a port" "$(rejected)"
check_match "status (text): the same" "broken.yaml:4:23: spec.ports" "$("$CTL" -t "$TABLE" status)"
rm "$MANIFESTS/broken.yaml"
e2e_wait none_rejected || true
check_eq "status: a removed file is no longer rejected" "" "$(rejected)"

# no table
rc=0; out=$("$CTL" -t "$E2E_TMP/nope" status 2>&1) || rc=$?
check_eq "no table: exit 1" 1 "$rc"
check_match "no table: says why" "no usable table at $E2E_TMP/nope" "$out"

e2e_done
