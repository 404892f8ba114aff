#!/usr/bin/env bash
# A Go program (pure Go: no libc, so no preload) under ldmesh-exec follows a
# TCPRoute's traffic split as the preload does (issue 25, item 3): at 0/100
# every request to Service web's ClusterIP reaches web-v2's pod, never the
# parent's own or web-v1's; at 50/50 with a missing backend Service, that
# half of the connects is refused.
. "$(dirname "$0")/lib.sh"
command -v go >/dev/null || e2e_skip "go not installed (golang-go)"
e2e_netns "$@"
e2e_setup
e2e_need_exec

export GOCACHE=$LDMESH_BUILD/go-cache GOPATH=$LDMESH_BUILD/go-path GO111MODULE=off GOFLAGS=
export HOME=${HOME:-$E2E_TMP}
mkdir -p "$GOCACHE" "$GOPATH"
CGO_ENABLED=0 go build -o "$E2E_TMP/go-pure" "$E2E_DIR/goclient/main.go" ||
	e2e_die "cannot build the pure Go client"

OWN=10.244.9.5
V1=10.244.1.5
V2=10.244.2.5
e2e_add_ip $OWN $V1 $V2
for ip in $OWN $V1 $V2; do e2e_pod "$ip" 9100 http; done
svc() { e2e_svc_yaml "$@"; } # name clusterIP pod
{ svc web 10.96.0.80 $OWN; svc web-v1 10.96.0.81 $V1; svc web-v2 10.96.0.82 $V2; } |
	e2e_put services.yaml
route() { # first-backend first-weight second-weight
	cat <<-YAML
	apiVersion: gateway.networking.k8s.io/v1
	kind: TCPRoute
	metadata: {name: web-canary, namespace: default}
	spec:
	  parentRefs: [{group: core, kind: Service, name: web}]
	  rules:
	  - backendRefs:
	    - {name: $1, port: 9000, weight: $2}
	    - {name: web-v2, port: 9000, weight: $3}
	YAML
}
route web-v1 0 100 | e2e_put route.yaml
e2e_agent
x() { env LDMESH_TABLE="$TABLE" LDMESH_NAMESPACE=default "$EXEC" "$@"; }

out=$(x "$E2E_TMP/go-pure" http http://10.96.0.80:9000/ 40 2>&1 || true)
check_eq "Go under ldmesh-exec, 0/100: 40 of 40 requests to web-v2's pod" 40 "$(count_of $V2 "$out")"
check_eq "none to the parent's own pod" 0 "$(count_of $OWN "$out")"

gen=$(e2e_gen)
route web-gone 50 50 | e2e_put route.yaml
e2e_wait_gen_after "$gen" >/dev/null || not_ok "no publish after the route changed"
out=$(x "$E2E_TMP/go-pure" http http://10.96.0.80:9000/ 200 2>&1 || true)
refused=$(grep -c 'connection refused' <<<"$out" || true)
check_eq "200 requests: web-v2 or refused, nothing else" 200 $((refused + $(count_of $V2 "$out")))
# the binomial 3-sigma band of 200 at 1/2: 100 +- 21.2
check "the missing Service's half refused ($refused in [78, 122])" \
	test "$refused" -ge 78 -a "$refused" -le 122

e2e_done
