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
EXEC=$LDMESH_BUILD/exec/ldmesh-exec
[ -x "$EXEC" ] || e2e_die "build first: missing $EXEC"
command -v go >/dev/null || e2e_skip "go not installed (golang-go)"
command -v dnsmasq >/dev/null || e2e_skip "dnsmasq not installed (dnsmasq-base)"
if [ "${LDMESH_E2E_IN_MOUNTNS:-}" != 1 ]; then
	unshare --mount true 2>/dev/null || e2e_skip "cannot create a mount namespace"
	export LDMESH_E2E_IN_MOUNTNS=1
	exec unshare --mount -- bash "$0" "$@"
fi
e2e_netns "$@"
e2e_setup
"$EXEC" true 2>"$E2E_TMP/probe.err" ||
	e2e_skip "ldmesh-exec cannot run here: $(cat "$E2E_TMP/probe.err")"

# Build both clients (the Go build cache lives in the build folder, so a
# second run takes seconds).
export GOCACHE=$LDMESH_BUILD/go-cache GOPATH=$LDMESH_BUILD/go-path GO111MODULE=off GOFLAGS=
export HOME=${HOME:-$E2E_TMP}
mkdir -p "$GOCACHE" "$GOPATH"
CGO_ENABLED=0 go build -o "$E2E_TMP/go-pure" "$E2E_DIR/goclient/main.go" ||
	e2e_die "cannot build the pure Go client"
CGO_ENABLED=1 go build -tags netcgo -o "$E2E_TMP/go-cgo" "$E2E_DIR/goclient/main.go" ||
	e2e_die "cannot build the cgo client"

printf 'search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 127.0.0.1\noptions ndots:5 attempts:1 timeout:1\n' >"$RESOLV"
mount --bind "$RESOLV" /etc/resolv.conf
dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
	--listen-address=127.0.0.1 --bind-interfaces --port=53 --local=/cluster.local/ \
	--host-record=web.default.svc.cluster.local,10.96.0.80 \
	--log-facility="$E2E_TMP/dns.log" >/dev/null 2>&1 &
e2e_track $!

PODS="10.244.1.5 10.244.2.5 10.244.3.5"
e2e_add_ip $PODS
for ip in $PODS; do e2e_pod "$ip" 9100 http; done
e2e_put_web $PODS
e2e_agent
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
