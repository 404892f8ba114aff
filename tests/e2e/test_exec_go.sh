#!/usr/bin/env bash
# Go programs under ldmesh-exec. Go's net package makes its own connect
# system calls, so the preload never sees them: a pure-Go client
# (CGO_ENABLED=0: Go's own resolver too) and a cgo one (-tags netcgo: names
# through libc) both reach a service by name, balanced over three pods, with
# names answered by a DNS server in the namespace as cluster DNS answers
# them, and conn.RemoteAddr() says the ClusterIP (getpeername). Without
# ldmesh-exec both fail to connect; the cgo client fails even with the
# preload, which sees its name lookups but not its connects.
. "$(dirname "$0")/lib.sh"
command -v go >/dev/null || e2e_skip "go not installed (golang-go)"
e2e_mountns "$@"
e2e_netns "$@"
e2e_setup
e2e_need_exec

e2e_goclient pure 0
e2e_goclient cgo 1 -tags netcgo

e2e_cluster_dns --host-record=web.default.svc.cluster.local,10.96.0.80

PODS="10.244.1.5 10.244.2.5 10.244.3.5"
e2e_web http $PODS
x() { env LDMESH_TABLE="$TABLE" LDMESH_NAMESPACE=default "$EXEC" "$@"; }

for kind in pure cgo; do
	client=$E2E_TMP/go-$kind
	check_match "$kind Go without ldmesh: the connect fails" 'error: .*network is unreachable' \
		"$("$client" http http://web:9000/ 1 2>&1 || true)"
	out=$(x "$client" http http://web:9000/ 60 2>&1 || true)
	for ip in $PODS; do
		check_ge "$kind Go under ldmesh-exec reaches pod $ip (of 60)" 6 "$(count_of "$ip" "$out")"
	done
	check_eq "$kind Go: every request answered by a pod" 60 \
		"$(printf '%s\n' "$out" | grep -c '^10\.244\.[123]\.5$' || true)"
	check_match "$kind Go: RemoteAddr is the ClusterIP" '^10\.96\.0\.80:9000 10\.244\.[123]\.5$' \
		"$(x "$client" dial web:9000 2>&1)"
done
check_match "cgo Go with the preload alone still fails (its connect is a raw syscall)" \
	'error: .*network is unreachable' \
	"$(pl "$E2E_TMP/go-cgo" http http://web:9000/ 1 2>&1 || true)"
e2e_done
