#!/usr/bin/env bash
# ldmesh-sync end to end: a fake API server (fakeapi.py, HTTPS, bearer
# token) -> ldmesh-sync -> the manifest folder -> ldmesh-agent -> a client
# under the preload. Covers: paginated lists (two items a page), the
# service-proxy-name selector, this node's Node only, a ServiceCIDR 404
# said once, managedFields dropped, the marker, watch events reaching a
# running client, resuming from the last version after a dropped
# connection (no relist), a 410 relist that removes what the new list
# lacks, deletion, a rotated token re-read from its file, and the marker
# refreshed while healthy.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/synclib.sh"
e2e_netns "$@"
e2e_setup
sync_pki

svc() { # name clusterIP [labels-json]
	printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s","namespace":"default","labels":%s},"spec":{"clusterIP":"%s","ports":[{"name":"tcp","port":9000,"targetPort":9100}]}}' \
		"$1" "${3:-{\}}" "$2"
}
slice() { # ip
	printf '{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"web-x1","namespace":"default","labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4","ports":[{"name":"tcp","port":9100,"protocol":"TCP"}],"endpoints":[{"addresses":["%s"],"conditions":{"ready":true}}]}' "$1"
}
node() { printf '{"apiVersion":"v1","kind":"Node","metadata":{"name":"%s","labels":{"topology.kubernetes.io/zone":"z1"}}}' "$1"; }

cat >"$E2E_TMP/objects.json" <<JSON
{"services": [$(svc web 10.96.0.80), $(svc s1 10.96.0.81), $(svc s2 10.96.0.82), $(svc s3 10.96.0.83),
              $(svc other 10.96.0.90 '{"service.kubernetes.io/service-proxy-name":"cilium"}')],
 "endpointslices": [$(slice 10.244.1.5)],
 "nodes": [$(node node-a), $(node node-b)]}
JSON
sync_fake --page-size 2 --objects "$E2E_TMP/objects.json"
S=$MANIFESTS/services
sync_start --node node-a

check "the marker appears after the first complete list" wait_until 400 test -f "$MANIFESTS/.ldmesh-synced"
check_match "the marker holds an RFC 3339 time" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' "$(cat "$MANIFESTS/.ldmesh-synced")"
check "all four listed Services written (pages of two)" test -f "$S/default__web.json" -a -f "$S/default__s1.json" -a -f "$S/default__s2.json" -a -f "$S/default__s3.json"
check "a Service of another proxy is not written" test ! -e "$S/default__other.json"
check "the EndpointSlice written" test -f "$MANIFESTS/endpointslices/default__web-x1.json"
check "this node's Node written" test -f "$MANIFESTS/nodes/node-a.json"
check "another node's Node not written" test ! -e "$MANIFESTS/nodes/node-b.json"
check "no managedFields in any file" test -z "$(grep -rl managedFields "$MANIFESTS" || true)"
check "list items get their apiVersion and kind" file_has "$S/default__s1.json" '"kind":"Service"'
check_eq "the ServiceCIDR 404 is said once" 1 "$(count_lines 'servicecidrs: not served' "$E2E_TMP/sync.log")"
log=$(cat "$FAKE_LOG")
check_match "lists are paginated (continue)" 'GET /api/v1/services\?limit=500&continue=[^ ]+&labelSelector=%21service.kubernetes.io%2Fservice-proxy-name 200' "$log"
check_match "the Node is asked for by name" 'GET /api/v1/nodes\?.*fieldSelector=metadata.name%3Dnode-a' "$log"
check_match "watches ask for bookmarks from the list's version" 'GET /api/v1/services\?watch=1&resourceVersion=[0-9]+&allowWatchBookmarks=true' "$log"

# The agent on the folder, and a long-lived client under the preload.
e2e_add_ip 10.244.1.5 10.244.2.5
e2e_pod 10.244.1.5 9100 banner
e2e_pod 10.244.2.5 9100 banner
e2e_agent
e2e_rounds web 9000 1
e2e_round 1 && check_eq "the client reaches the listed endpoint" 10.244.1.5 "$(cat "$E2E_ROUNDS/out.1")"

g=$(e2e_gen)
fake put "{\"resource\":\"endpointslices\",\"object\":$(slice 10.244.2.5)}"
check "a watch event rewrites the slice's file" wait_until 200 file_has "$MANIFESTS/endpointslices/default__web-x1.json" 10.244.2.5
check "the agent republishes" e2e_wait_gen_after "$g" >/dev/null
e2e_round 2 && check_eq "the running client sees the new endpoint" 10.244.2.5 "$(cat "$E2E_ROUNDS/out.2")"

# A dropped connection: resume from the last version, no relist.
lists=$(count_lines 'GET /api/v1/services\?limit' "$FAKE_LOG")
watches=$(count_lines 'GET /api/v1/services\?watch' "$FAKE_LOG")
fake drop '{}'
watches_past() { [ "$(count_lines 'GET /api/v1/services\?watch' "$FAKE_LOG")" -gt "$1" ]; }
check "the watch is resumed after a drop" wait_until 200 watches_past "$watches"
fake put "{\"resource\":\"services\",\"object\":$(svc s4 10.96.0.84)}"
check "an object added after the drop is written" wait_until 200 test -f "$S/default__s4.json"
check_eq "no relist after a drop" "$lists" "$(count_lines 'GET /api/v1/services\?limit' "$FAKE_LOG")"
rv=$(sed -n 's/.*services?watch=1&resourceVersion=\([0-9]*\).*/\1/p' "$FAKE_LOG" | tail -n1)
listed=$(sed -n 's/.*services: listed [0-9]* objects at version \([0-9]*\),.*/\1/p' "$E2E_TMP/sync.log" | head -n1)
check_ge "the resumed watch starts at or past the list's version ($listed)" "${listed:-999999}" "${rv:-0}"

# Deletion by event.
fake delete '{"resource":"services","namespace":"default","name":"s3"}'
check "a DELETED event removes the file" wait_until 200 test ! -e "$S/default__s3.json"

# A change the watch never sees, then compaction: ERROR 410 -> relist ->
# the file of the object the new list lacks is removed, the others stay.
fake forget '{"resource":"services","namespace":"default","name":"s1"}'
fake compact '{}'
check "410: the object the relist lacks is removed" wait_until 300 test ! -e "$S/default__s1.json"
check "410: the others stay" test -f "$S/default__web.json" -a -f "$S/default__s2.json" -a -f "$S/default__s4.json"
check_match "the relist is logged" 'services: watch: version [0-9]+ expired \(410' "$(cat "$E2E_TMP/sync.log")"
check_ge "a relist happened" $((lists + 1)) "$(count_lines 'GET /api/v1/services\?limit' "$FAKE_LOG")"

# Token rotation: the server accepts only the new token (watches cut, 401s),
# then the kubelet writes it to the file: ldmesh-sync reads it there.
fake rotate '{"token":"token-two"}'
check "requests with the old token are refused" wait_until 200 grep -q ' 401$' "$FAKE_LOG"
printf 'token-two\n' >"$SA/token.new" && mv "$SA/token.new" "$SA/token"
fake put "{\"resource\":\"services\",\"object\":$(svc s5 10.96.0.85)}"
check "after rotation the new token is used" wait_until 400 test -f "$S/default__s5.json"
check "the marker is still there" test -f "$MANIFESTS/.ldmesh-synced"
# While healthy the marker is rewritten (every 10 s; a reader may call it
# stale after 30): its time moves on (bounded: 40 s).
m0=$(cat "$MANIFESTS/.ldmesh-synced")
marker_moved() { [ "$(cat "$MANIFESTS/.ldmesh-synced" 2>/dev/null)" != "$m0" ]; }
check "the marker is refreshed while healthy" wait_until 800 marker_moved
check_eq "no temporary files left" "" "$(find "$MANIFESTS" -name '.*.tmp.*')"
check "ldmesh-sync is still running" kill -0 "$SYNC_PID"
sync_done
