#!/usr/bin/env bash
# ldmeshctl speaks kubectl (issue 23): get services [NAME] (svc, service),
# -n, -A, -o json|yaml|wide and describe service, on the example manifests
# plus a NodePort service in namespace prod with affinity, zone hints and
# endpoints in every condition, and one whose names a YAML reader would
# take for a number and a boolean. Results on stdout, not-found on stderr
# (exit 1). Only reads the table; no traffic.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

cp "$LDMESH_SRC"/examples/manifests/* "$MANIFESTS/"
e2e_put api.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: api, namespace: prod}
spec:
  type: NodePort
  clusterIP: 10.96.0.50
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 600}}
  trafficDistribution: PreferClose
  ports: [{name: http, port: 8080, targetPort: 80, nodePort: 30080, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-1, namespace: prod, labels: {kubernetes.io/service-name: api}}
addressType: IPv4
ports: [{name: http, port: 80, protocol: TCP}]
endpoints:
- addresses: [10.244.1.20]
  conditions: {ready: true, serving: true, terminating: false}
  nodeName: node-a
  zone: zone-a
  hints: {forZones: [{name: zone-a}]}
  targetRef: {kind: Pod, name: api-a}
- addresses: [10.244.2.20]
  conditions: {ready: false, serving: true, terminating: true}
  nodeName: node-b
  zone: zone-b
  hints: {forZones: [{name: zone-b}]}
  targetRef: {kind: Pod, name: api-b}
- addresses: [10.244.3.20]
  conditions: {ready: false, serving: false, terminating: false}
  nodeName: node-c
  zone: zone-b
  hints: {forZones: [{name: zone-b}]}
YAML
e2e_put typed.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: "on", namespace: "007"}
spec:
  clusterIP: 10.96.0.51
  ports: [{port: 53, protocol: UDP}]
YAML
e2e_agent --node node-a --zone zone-a
has_api() { "$CTL" -t "$TABLE" get svc -A 2>/dev/null | grep -q '^prod '; }
has_on() { "$CTL" -t "$TABLE" get svc -A 2>/dev/null | grep -q '^007 '; }
e2e_wait has_api || e2e_die "prod/api not published: $(tail -5 "$E2E_TMP/agent.log")"
e2e_wait has_on || e2e_die "007/on not published: $(tail -5 "$E2E_TMP/agent.log")"

ctl() { "$CTL" -t "$TABLE" "$@"; }
# run: stdout, stderr and the exit status of one call, apart
run() {
	RC=0
	ctl "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err" || RC=$?
	OUT=$(cat "$E2E_TMP/out")
	ERR=$(cat "$E2E_TMP/err")
}
py() { "$PY" -c "import json,sys,yaml; d=$1; print($2)"; }
vip=$(ctl -o json services | py 'json.load(sys.stdin)' '[s for s in d["services"] if s["name"] == "backend"][0]["clusterIPs"][0]')

# get: kubectl's columns, namespace default unless -n/-A/$LDMESH_NAMESPACE
run get services
check_eq "get services: exit 0, nothing on stderr" "0 " "$RC $ERR"
check_match "get services: kubectl's header, no NAMESPACE column" \
	'^NAME +TYPE +CLUSTER-IP +PORT\(S\) +READY$' "$OUT"
check_match "get services: backend's row" "^backend +ClusterIP +$vip +80/TCP +2/2$" "$OUT"
check_eq "get services: default's three, sorted" "backend frontend redis" \
	"$(awk 'NR > 1 {printf "%s%s", sep, $1; sep=" "}' <<<"$OUT")"
for alias in svc service; do
	check_eq "get $alias is get services" "$OUT" "$(ctl get "$alias")"
done
check_match "-n prod: api with its nodePort, 1 of 3 endpoints ready" \
	'^api +NodePort +10\.96\.0\.50 +8080:30080/TCP +1/3$' "$(ctl get svc -n prod)"
check_match "--namespace=prod after the resource, as kubectl takes it" '^api ' \
	"$(ctl get svc --namespace=prod)"
check_match "options after the command with POSIXLY_CORRECT set too" '^api ' \
	"$(POSIXLY_CORRECT=1 ctl get svc -n prod)"
check_match "LDMESH_NAMESPACE is the default namespace" '^api ' \
	"$(LDMESH_NAMESPACE=prod ctl get svc)"
check_match "... which -n overrides" '^backend ' "$(LDMESH_NAMESPACE=prod ctl get svc -n default)"
run get svc -A
check_match "-A: a NAMESPACE column" '^NAMESPACE +NAME +TYPE' "$OUT"
check_eq "-A: every namespace, sorted" "007/on default/backend default/frontend default/redis prod/api" \
	"$(awk 'NR > 1 {printf "%s%s/%s", sep, $1, $2; sep=" "}' <<<"$OUT")"
check_eq "--all-namespaces is -A" "$OUT" "$(ctl get svc --all-namespaces)"
run get svc -n nowhere
check_eq "an empty namespace: exit 0, nothing on stdout" "0 " "$RC $OUT"
check_eq "... and kubectl's words on stderr" "No resources found in nowhere namespace." "$ERR"

# get NAME; not found
run get svc backend
check_eq "get svc backend: header and its row" 2 "$(wc -l <<<"$OUT")"
run get svc nope
check_eq "get svc nope: exit 1, nothing on stdout" "1 " "$RC $OUT"
check_eq "... kubectl's NotFound on stderr" 'Error from server (NotFound): services "nope" not found' "$ERR"
run get svc api
check_eq "api is not in namespace default (exit 1)" 1 "$RC"

# -o wide: how this node routes each service
run get svc -n prod -o wide
check_match "wide: more columns" '^NAME +TYPE +CLUSTER-IP +PORT\(S\) +READY +AFFINITY +TRAFFIC-POLICY +ROUTING +ENDPOINTS$' "$OUT"
check_match "wide: api's affinity, policy, zone rule and its one ready endpoint" \
	'^api +NodePort .* ClientIP +Cluster +zone +10\.244\.1\.20:80$' "$OUT"

# -o json: Service objects, a List without NAME
run get svc -o json
check_eq "json: kind List of Services, the generation as resourceVersion" \
	"List v1 Service,Service,Service $(e2e_gen)" \
	"$(py 'json.loads(sys.stdin.read())' 'd["kind"] + " " + d["apiVersion"] + " " + ",".join(i["kind"] for i in d["items"]) + " " + d["metadata"]["resourceVersion"]' <<<"$OUT")"
run get svc api -n prod -o json
api=$OUT
check_eq "json NAME: one Service" "Service api prod" \
	"$(py 'json.loads(sys.stdin.read())' 'd["kind"] + " " + d["metadata"]["name"] + " " + d["metadata"]["namespace"]' <<<"$api")"
check_eq "json: spec as Kubernetes writes it" \
	"NodePort 10.96.0.50 ['10.96.0.50'] ClientIP 600 Cluster Cluster" \
	"$(py 'json.loads(sys.stdin.read())["spec"]' '" ".join(map(str, [d["type"], d["clusterIP"], d["clusterIPs"], d["sessionAffinity"], d["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"], d["internalTrafficPolicy"], d["externalTrafficPolicy"]]))' <<<"$api")"
check_eq "json: ports with targetPort and nodePort" "http TCP 8080 80 30080" \
	"$(py 'json.loads(sys.stdin.read())["spec"]["ports"][0]' '"%s %s %d %d %d" % (d["name"], d["protocol"], d["port"], d["targetPort"], d["nodePort"])' <<<"$api")"
check_eq "json: endpoints in EndpointSlice shape: conditions, node, zone, hints, pod" \
	"10.244.1.20 True True False node-a zone-a zone-a api-a 80|10.244.2.20 False True True node-b zone-b zone-b api-b 80|10.244.3.20 False False False node-c zone-b zone-b - 80" \
	"$(py 'json.loads(sys.stdin.read())["endpoints"]' '"|".join("%s %s %s %s %s %s %s %s %d" % (e["addresses"][0], e["conditions"]["ready"], e["conditions"]["serving"], e["conditions"]["terminating"], e["nodeName"], e["zone"], ",".join(z["name"] for z in e["hints"]["forZones"]), e.get("targetRef", {}).get("name", "-"), e["ports"][0]["port"]) for e in d)' <<<"$api")"

# -o yaml: the same document
run get svc api -n prod -o yaml
check_eq "yaml: the same document as json" "True" \
	"$(API="$api" py 'yaml.safe_load(sys.stdin)' 'd == json.loads(__import__("os").environ["API"])' <<<"$OUT")"
check_match "yaml: written as kubectl writes it (plain scalars)" '^  clusterIP: 10\.96\.0\.50$' "$OUT"
run get svc -A -o yaml
check_eq "yaml -A: a List of all five" 5 "$(py 'yaml.safe_load(sys.stdin)' 'len(d["items"])' <<<"$OUT")"
run get svc on -n 007 -o yaml
check_eq "yaml: names a YAML reader would take for a number and a boolean stay strings" \
	"<class 'str'> 007 <class 'str'> on" \
	"$(py 'yaml.safe_load(sys.stdin)["metadata"]' '"%s %s %s %s" % (type(d["namespace"]), d["namespace"], type(d["name"]), d["name"])' <<<"$OUT")"

# describe
run describe service api -n prod
check_eq "describe: exit 0, nothing on stderr" "0 " "$RC $ERR"
check_match "describe: name" '^Name: +api$' "$OUT"
check_match "describe: namespace" '^Namespace: +prod$' "$OUT"
check_match "describe: type" '^Type: +NodePort$' "$OUT"
check_match "describe: IPs" '^IPs: +10\.96\.0\.50$' "$OUT"
check_match "describe: port" '^Port: +http  8080/TCP$' "$OUT"
check_match "describe: targetPort" '^TargetPort: +80/TCP$' "$OUT"
check_match "describe: nodePort" '^NodePort: +http  30080/TCP$' "$OUT"
check_match "describe: the port's ready endpoints" '^Endpoints: +10\.244\.1\.20:80$' "$OUT"
check_match "describe: session affinity" '^Session Affinity: +ClientIP \(timeout 600 s\)$' "$OUT"
check_match "describe: topology" '^Topology-Aware Routing: +asked for, in use$' "$OUT"
check_match "describe: this node's rule" '^Routing On This Node: +endpoints hinted for zone zone-a' "$OUT"
check_match "describe: details header" '^  ADDRESS +READY +SERVING +TERMINATING +NODE +ZONE +HINTS +POD$' "$OUT"
check_match "describe: the ready endpoint" '^  10\.244\.1\.20 +true +true +false +node-a +zone-a +zone-a +api-a$' "$OUT"
check_match "describe: the terminating one" '^  10\.244\.2\.20 +false +true +true +node-b +zone-b +zone-b +api-b$' "$OUT"
check_match "describe: the not-ready one" '^  10\.244\.3\.20 +false +false +false +node-c +zone-b +zone-b +<none>$' "$OUT"
for form in "describe svc frontend" "describe services frontend"; do
	# shellcheck disable=SC2086
	check_match "$form" '^TargetPort: +http/TCP$' "$(ctl $form)"
done
check_eq "describe without NAME: every service of the namespace" 3 \
	"$(ctl describe svc | grep -c '^Name:')"
run describe svc nope
check_eq "describe nope: exit 1, nothing on stdout, NotFound on stderr" \
	'1  Error from server (NotFound): services "nope" not found' "$RC $OUT $ERR"

# today's commands stay
check_match "services: the old listing" '^default +backend +ClusterIP' "$(ctl services)"
check_eq "route" default/backend "$(ctl -o json route "$vip:80" | py 'json.load(sys.stdin)' 'd["service"]')"
e2e_done
