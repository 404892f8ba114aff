#!/usr/bin/env bash
# ldmesh-sync against a server that misbehaves, configured by a kubeconfig
# (certificate-authority-data, a relative tokenFile). Each of: garbage, an
# event without a name, a stream ending inside an event, a connection cut
# inside an event, a 100 MB event, a redirect, a 410: ldmesh-sync says it once,
# writes no partial file, removes nothing, and follows the next change.
# A client certificate (inline data) authenticates without a token. Then the
# server goes away: the marker is removed after --lost-after, the
# objects' files stay. And an exec credential plugin is refused by name.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/synclib.sh"
e2e_netns "$@"
e2e_setup
sync_pki

slice() { # ip
	printf '{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"web-x1","namespace":"default","labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4","ports":[{"name":"tcp","port":9100,"protocol":"TCP"}],"endpoints":[{"addresses":["%s"],"conditions":{"ready":true}}]}' "$1"
}
cat >"$E2E_TMP/objects.json" <<JSON
{"services": [{"metadata":{"name":"web","namespace":"default"},"spec":{"clusterIP":"10.96.0.80","ports":[{"port":9000}]}}],
 "endpointslices": [$(slice 10.244.1.1)]}
JSON
sync_fake --objects "$E2E_TMP/objects.json" --servicecidrs --client-ca "$PKI/ca.crt"

cat >"$E2E_TMP/kubeconfig" <<EOF_KC
apiVersion: v1
kind: Config
current-context: fake
contexts:
- name: other
  context: {cluster: nowhere, user: nobody}
- name: fake
  context: {cluster: fake, user: sync}
clusters:
- name: fake
  cluster:
    server: https://127.0.0.1:$FAKE_PORT/
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: sync
  user: {tokenFile: sa/token}
EOF_KC
"$SYNC" --manifests "$MANIFESTS" --kubeconfig "$E2E_TMP/kubeconfig" --lost-after 3 \
	>>"$E2E_TMP/sync.log" 2>&1 &
SYNC_PID=$!
e2e_track "$SYNC_PID"
E=$MANIFESTS/endpointslices/default__web-x1.json
check "synced through the kubeconfig" wait_until 400 test -f "$MANIFESTS/.ldmesh-synced"
check "ServiceCIDRs, served here, are listed" grep -q 'GET /apis/networking.k8s.io/v1/servicecidrs?limit=500 200' "$FAKE_LOG"
check "no Node without a node name" test ! -e "$MANIFESTS/nodes"

logged_more() { [ "$(count_lines "$2" "$E2E_TMP/sync.log")" -gt "$1" ]; }
n=1
# fault KIND "what the log says"
fault() {
	local kind=$1 says=$2 before
	before=$(count_lines "$says" "$E2E_TMP/sync.log")
	fake fault "{\"resource\":\"endpointslices\",\"kind\":\"$kind\"}"
	fake drop '{}'
	check "$kind: logged" wait_until 400 logged_more "$before" "$says"
	n=$((n + 1))
	fake put "{\"resource\":\"endpointslices\",\"object\":$(slice "10.244.1.$n")}"
	check "$kind: the next change is written" wait_until 600 file_has "$E" "10.244.1.$n\""
	check_eq "$kind: said once" $((before + 1)) "$(count_lines "$says" "$E2E_TMP/sync.log")"
	check "$kind: ldmesh-sync is running" kill -0 "$SYNC_PID"
}

fault garbage 'endpointslices: watch: not JSON at byte 0 \(unexpected character\): "<html>502 Bad Ga"'
fault noname 'endpointslices: watch: skipped a ADDED event whose object has no metadata.name'
fault truncated 'endpointslices: watch: connection closed mid-event: stream ended inside a value'
fault cut 'endpointslices: watch: .*(mid-event)'
fault huge 'endpointslices: watch: a value larger than 16777216 bytes at byte 0: dropping the connection'
fault redirect 'endpointslices: watch: HTTP 302 redirect to https://127.0.0.1:1/elsewhere refused'
lists=$(count_lines 'GET /apis/discovery.k8s.io/v1/endpointslices\?limit' "$FAKE_LOG")
fault gone 'endpointslices: watch: 410 Gone \(version [0-9]+ expired\): relisting'
check_eq "an HTTP 410 relists" $((lists + 1)) "$(count_lines 'GET /apis/discovery.k8s.io/v1/endpointslices\?limit' "$FAKE_LOG")"
# A 410, then a list answer without the version a watch must start from:
# refused (said once), retried.
fake fault '{"resource":"endpointslices","kind":"gone"}'
fault norv 'endpointslices: list: the answer has no metadata.resourceVersion'
check_nomatch "no watch ever starts without a version" 'endpointslices\?watch=1&allowWatchBookmarks' "$(cat "$FAKE_LOG")"
check "no partial object was written" test ! -e "$MANIFESTS/endpointslices/default__half.json" -a ! -e "$MANIFESTS/endpointslices/default__huge.json"
check_eq "no temporary files left" "" "$(find "$MANIFESTS" -name '.*.tmp.*')"
check "the Service's file was never removed" test -f "$MANIFESTS/services/default__web.json"

# A kubeconfig user with a client certificate and key (inline data), no token.
sed -e "s|  user: {tokenFile: sa/token}|  user:\n    client-certificate-data: $(base64 -w0 "$PKI/client.crt")\n    client-key-data: $(base64 -w0 "$PKI/client.key")|" \
	"$E2E_TMP/kubeconfig" >"$E2E_TMP/kubeconfig.cert"
"$SYNC" --manifests "$E2E_TMP/m2" --kubeconfig "$E2E_TMP/kubeconfig.cert" >"$E2E_TMP/sync2.log" 2>&1 &
SYNC2_PID=$!
e2e_track "$SYNC2_PID"
check "a client certificate authenticates" wait_until 400 test -f "$E2E_TMP/m2/.ldmesh-synced"
check "and the objects are written" test -f "$E2E_TMP/m2/services/default__web.json"
kill "$SYNC2_PID"
wait "$SYNC2_PID" && rc=0 || rc=$?
check_eq "ldmesh-sync exits 0 on SIGTERM" 0 "$rc"

# The server goes away: the marker goes after --lost-after (3 s), the files stay.
check "the marker is back once healthy" wait_until 600 test -f "$MANIFESTS/.ldmesh-synced"
files=$(find "$MANIFESTS" -name '*.json' | sort)
kill "$FAKE_PID"
check "the marker is removed once the server is lost" wait_until 600 test ! -e "$MANIFESTS/.ldmesh-synced"
# (the line is written after the unlink: waited for, not read at once)
check "and that is logged" wait_until 600 grep -qE 'unreachable for [0-9]+ s: .*\.ldmesh-synced removed' \
	"$E2E_TMP/sync.log"
check_eq "no object file is removed for a lost server" "$files" "$(find "$MANIFESTS" -name '*.json' | sort)"
check "ldmesh-sync keeps retrying" kill -0 "$SYNC_PID"

# Credential plugins are refused by name, with the file's line.
sed 's/  user: {tokenFile: sa\/token}/  user: {exec: {command: aws, apiVersion: client.authentication.k8s.io\/v1}}/' \
	"$E2E_TMP/kubeconfig" >"$E2E_TMP/kubeconfig.exec"
out=$("$SYNC" --manifests "$E2E_TMP/x" --kubeconfig "$E2E_TMP/kubeconfig.exec" 2>&1) && rc=0 || rc=$?
check_eq "an exec user: exit 1" 1 "$rc"
check_match "an exec user: named" 'kubeconfig.exec:[0-9]+:[0-9]+: user.exec: credential plugins are not supported' "$out"
sync_done
