#!/usr/bin/env bash
# ldmesh-sync mirrors Gateway API TCPRoutes (issue 25, item 3) where the
# server has them: v1 asked for first; a server with only v1alpha2 (the
# experimental channel) answers 404 to it and the v1alpha2 list follows;
# the route's file keeps its version, the agent splits Service web's
# connects by it, and a watch event changing the weights reaches a running
# client. Against the fake API server (fakeapi.py --tcproutes v1alpha2).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/synclib.sh"
e2e_netns "$@"
e2e_setup
sync_pki

svc() { # name clusterIP
	printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s","namespace":"default"},"spec":{"clusterIP":"%s","ports":[{"name":"tcp","port":9000,"targetPort":9100}]}}' "$1" "$2"
}
slice() { # service ip
	printf '{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"%s-x1","namespace":"default","labels":{"kubernetes.io/service-name":"%s"}},"addressType":"IPv4","ports":[{"name":"tcp","port":9100,"protocol":"TCP"}],"endpoints":[{"addresses":["%s"],"conditions":{"ready":true}}]}' "$1" "$1" "$2"
}
route() { # v1-weight v2-weight
	printf '{"apiVersion":"gateway.networking.k8s.io/v1alpha2","kind":"TCPRoute","metadata":{"name":"canary","namespace":"default"},"spec":{"parentRefs":[{"group":"","kind":"Service","name":"web"}],"rules":[{"backendRefs":[{"name":"web-v1","port":9000,"weight":%s},{"name":"web-v2","port":9000,"weight":%s}]}]}}' "$1" "$2"
}

cat >"$E2E_TMP/objects.json" <<JSON
{"services": [$(svc web 10.96.0.80), $(svc web-v1 10.96.0.81), $(svc web-v2 10.96.0.82)],
 "endpointslices": [$(slice web 10.244.9.5), $(slice web-v1 10.244.1.5), $(slice web-v2 10.244.2.5)],
 "tcproutes": [$(route 0 1)]}
JSON
sync_fake --objects "$E2E_TMP/objects.json" --tcproutes v1alpha2
R=$MANIFESTS/tcproutes/default__canary.json
sync_start --node node-a

check "the TCPRoute is written" wait_until 400 test -f "$R"
check "as the version the server has" file_has "$R" '"apiVersion":"gateway.networking.k8s.io/v1alpha2"'
log=$(cat "$FAKE_LOG")
check_match "v1 asked for first" 'GET /apis/gateway.networking.k8s.io/v1/tcproutes\?limit=500 404' "$log"
check_match "then v1alpha2" 'GET /apis/gateway.networking.k8s.io/v1alpha2/tcproutes\?limit=500 200' "$log"
check_eq "the fallback said once" 1 "$(count_lines 'tcproutes: gateway.networking.k8s.io/v1 not served' "$E2E_TMP/sync.log")"

e2e_add_ip 10.244.9.5 10.244.1.5 10.244.2.5
for ip in 10.244.9.5 10.244.1.5 10.244.2.5; do e2e_pod "$ip" 9100 banner; done
e2e_agent
e2e_rounds web 9000 20
e2e_round 1 && check_eq "the route's 0/1 split: 20 of 20 to web-v2" 20 \
	"$(count_of 10.244.2.5 "$(cat "$E2E_ROUNDS/out.1")")"

g=$(e2e_gen)
fake put "{\"resource\":\"tcproutes\",\"object\":$(route 1 0)}"
check "a watch event rewrites the route's file" wait_until 200 file_has "$R" '"weight":1},{"name":"web-v2","port":9000,"weight":0}'
check "the agent republishes" e2e_wait_gen_after "$g" >/dev/null
e2e_round 2 && check_eq "the running client follows the new weights: 20 of 20 to web-v1" 20 \
	"$(count_of 10.244.1.5 "$(cat "$E2E_ROUNDS/out.2")")"

sync_done
