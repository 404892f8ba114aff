#!/usr/bin/env bash
# Input the API server refuses (issue 21, item 14): a service CIDR's network
# and broadcast addresses as clusterIPs are errors at their place, and the
# rest of the folder is published; spec.externalIPs are refused by default
# (--external-ips deny, as the DenyServiceExternalIPs admission plugin), with
# one warning per Service, kept with `allow`, and kept inside the prefixes a
# CIDR list names. Only reads the table; no traffic.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

e2e_put net.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: net, namespace: default}
spec:
  clusterIP: 10.96.0.0
  ports: [{port: 80}]
YAML
e2e_put bcast.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: bcast, namespace: default}
spec:
  clusterIPs: [10.111.255.255]
  ports: [{port: 80}]
YAML
e2e_put ext.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: default}
spec:
  clusterIP: 10.96.0.5
  externalIPs: [8.8.8.8, 203.0.113.7]
  ports: [{port: 80}]
YAML

out=$("$AGENT" -m "$MANIFESTS" --check 2>&1) && rc=0 || rc=$?
check_eq "--check fails on the reserved addresses" 1 "$rc"
check_match "network address: an error at the field" \
	'net\.yaml:5:14: spec\.clusterIP: Invalid value: "10\.96\.0\.0": the network address of the service CIDR 10\.96\.0\.0/12' "$out"
check_match "broadcast address: an error at the field" \
	'bcast\.yaml:5:16: spec\.clusterIPs\[0\]: Invalid value: "10\.111\.255\.255": the broadcast address' "$out"
out16=$("$AGENT" -m "$MANIFESTS" --check --service-cidr 10.96.0.0/16 2>&1 || true)
check_nomatch "--service-cidr decides: 10.111.255.255 is no /16's broadcast address" \
	'broadcast address' "$out16"
check_match "--service-cidr decides: outside the /16, so left out as such" \
	'clusterIP 10\.111\.255\.255 of Service default/bcast is outside the service CIDR 10\.96\.0\.0/16' "$out16"

# --once: the rest is published; the refused services are not
"$AGENT" -m "$MANIFESTS" -t "$TABLE" --once >"$E2E_TMP/once.log" 2>&1 && rc=0 || rc=$?
check_eq "--once exits 1 (errors) after publishing the rest" 1 "$rc"
log=$(cat "$E2E_TMP/once.log")
check_eq "one externalIPs warning, for the one Service that has them" 1 \
	"$(grep -c 'warning: spec.externalIPs' <<<"$log" || true)"
check_match "the warning names both addresses, the rule and the Service" \
	'ext\.yaml:6:16: warning: spec\.externalIPs: 8\.8\.8\.8, 203\.0\.113\.7 refused by --external-ips deny .*Service default/ext is applied without them' "$log"
sv=$("$CTL" -t "$TABLE" services)
check_match "the service with externalIPs is published" '^default +ext ' "$sv"
check_nomatch "the network-address service is not" '^default +net ' "$sv"
check_nomatch "the broadcast-address service is not" '^default +bcast ' "$sv"
check_match "10.96.0.0:80 is no service" 'not a service' "$("$CTL" -t "$TABLE" route 10.96.0.0:80 || true)"
check_match "deny (the default): 8.8.8.8:80 passes through" 'not a service' \
	"$("$CTL" -t "$TABLE" route 8.8.8.8:80 || true)"
check_match "deny: the ClusterIP still routes" 'service default/ext' "$("$CTL" -t "$TABLE" route 10.96.0.5:80 || true)"

# a CIDR list keeps what lies inside it
"$AGENT" -m "$MANIFESTS" -t "$TABLE" --once --external-ips 203.0.113.0/24,2001:db8::/32 \
	>"$E2E_TMP/once2.log" 2>&1 || true
check_match "CIDR list: 203.0.113.7 kept" 'service default/ext' \
	"$("$CTL" -t "$TABLE" route 203.0.113.7:80 || true)"
check_match "CIDR list: 8.8.8.8 refused" 'not a service' "$("$CTL" -t "$TABLE" route 8.8.8.8:80 || true)"
check_match "CIDR list: the warning names only the one refused" \
	'warning: spec\.externalIPs: 8\.8\.8\.8 refused by --external-ips \(outside its prefixes\)' \
	"$(cat "$E2E_TMP/once2.log")"

# allow keeps every one, with no warning
"$AGENT" -m "$MANIFESTS" -t "$TABLE" --once --external-ips allow >"$E2E_TMP/once3.log" 2>&1 || true
check_match "allow: 8.8.8.8 kept" 'service default/ext' "$("$CTL" -t "$TABLE" route 8.8.8.8:80 || true)"
check_nomatch "allow: no warning" 'warning: spec\.externalIPs' "$(cat "$E2E_TMP/once3.log")"

# a bad flag is a usage error, and --help documents the flag
"$AGENT" -m "$MANIFESTS" --check --external-ips 10.0.0.1/33 >/dev/null 2>&1 && rc=0 || rc=$?
check_eq "--external-ips with a bad prefix: exit 2" 2 "$rc"
check_match "--help documents --external-ips" '--external-ips deny\|allow\|CIDR' "$("$AGENT" --help)"

e2e_done
