#!/usr/bin/env bash
# node: http.get and net.connect reach a service by name, balanced over three
# pods; without ldmesh both fail.
. "$(dirname "$0")/lib.sh"
command -v node >/dev/null || e2e_skip "node not installed (nodejs)"
e2e_netns "$@"
e2e_setup

PODS="10.244.1.5 10.244.2.5 10.244.3.5"
e2e_web http $PODS

for mode in http net; do
	check_match "without ldmesh: $mode fails" '^error: ' \
		"$(timeout 60 node "$E2E_DIR/nodeclient.js" "$mode" web 9000 1 2>&1 || true)"
	out=$(timeout 60 env LD_PRELOAD="$PRELOAD" LDMESH_TABLE="$TABLE" LDMESH_RESOLV_CONF="$RESOLV" \
		LDMESH_NAMESPACE=default node "$E2E_DIR/nodeclient.js" "$mode" web 9000 60 2>&1 || true)
	for ip in $PODS; do
		check_ge "$mode: requests by name reach pod $ip (of 60)" 6 "$(count_of "$ip" "$out")"
	done
	check_eq "$mode: no request failed" 0 "$(printf '%s\n' "$out" | grep -c '^error' || true)"
done
e2e_done
