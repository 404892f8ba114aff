#!/usr/bin/env bash
# Java 17: java.net.Socket (blocking connect) and java.net.http.HttpClient
# (non-blocking SocketChannel) reach a service by name, balanced over three
# pods; without ldmesh both fail.
. "$(dirname "$0")/lib.sh"
command -v java >/dev/null || e2e_skip "java not installed (openjdk-17-jdk-headless)"
e2e_netns "$@"
e2e_setup

PODS="10.244.1.5 10.244.2.5 10.244.3.5"
e2e_web http $PODS

# a small heap and one compiler thread: the machine is shared
export JAVA_TOOL_OPTIONS="-Xmx64m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
# jc with|without MODE HOST PORT N: the client, with or without the preload
jc() {
	local env=(env)
	[ "$1" = with ] && env+=(LD_PRELOAD="$PRELOAD" LDMESH_TABLE="$TABLE" \
		LDMESH_RESOLV_CONF="$RESOLV" LDMESH_NAMESPACE=default)
	shift
	timeout 120 "${env[@]}" java "$E2E_DIR/JavaClient.java" "$@" 2>/dev/null
}

for mode in socket http; do
	check_match "without ldmesh: $mode fails" '^error: ' "$(jc without "$mode" web 9000 1 || true)"
	out=$(jc with "$mode" web 9000 45 || true)
	for ip in $PODS; do
		check_ge "$mode: requests by name reach pod $ip (of 45)" 4 "$(count_of "$ip" "$out")"
	done
	check_eq "$mode: no request failed" 0 "$(printf '%s\n' "$out" | grep -c '^error' || true)"
done
e2e_done
