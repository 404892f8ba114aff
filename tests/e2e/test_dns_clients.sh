#!/usr/bin/env bash
# Programs with resolvers of their own, their /etc/resolv.conf pointing at
# ldmesh-dns and no other DNS server (no preload, no ldmesh-exec): node's
# dns.resolve4, resolveSrv and reverse (c-ares); a pure Go program (Go's
# own resolver: LookupHost, LookupSRV, LookupAddr); glibc's resolver
# (`getent hosts <ClusterIP>`: a PTR query). Each gets the table's answers.
. "$(dirname "$0")/lib.sh"
# glibc, node and Go read /etc/resolv.conf: ours, in a private mount namespace
e2e_mountns "$@"
e2e_netns "$@"
e2e_setup
. "$(dirname "$0")/dnslib.sh"

printf '127.0.0.1 localhost\n' >"$E2E_TMP/hosts"
printf 'hosts: files dns\n' >"$E2E_TMP/nsswitch.conf"
printf 'nameserver 127.0.0.1\noptions attempts:2 timeout:2\n' >"$E2E_TMP/resolv.dns"
mount --bind "$E2E_TMP/hosts" /etc/hosts
mount --bind "$E2E_TMP/nsswitch.conf" /etc/nsswitch.conf
mount --bind "$E2E_TMP/resolv.dns" /etc/resolv.conf

e2e_put svc.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: default}
spec:
  clusterIP: 10.96.0.10
  ports: [{name: http, port: 80, protocol: TCP}]
YAML
e2e_agent
dns_upstream
dns_server

check_eq "getent hosts <ClusterIP> (glibc's resolver, PTR)" \
	"10.96.0.10      backend.default.svc.cluster.local" "$(getent hosts 10.96.0.10 || true)"

if command -v node >/dev/null; then
	out=$(node -e '
const dns = require("dns").promises;
(async () => {
  const n = "backend.default.svc.cluster.local";
  try { console.log("a " + (await dns.resolve4(n)).join(",")); } catch (e) { console.log("a " + e.code); }
  try { const s = await dns.resolveSrv("_http._tcp." + n); console.log("srv " + s.map(r => `${r.name}:${r.port}`).join(",")); } catch (e) { console.log("srv " + e.code); }
  try { console.log("ptr " + (await dns.reverse("10.96.0.10")).join(",")); } catch (e) { console.log("ptr " + e.code); }
})();' 2>&1)
	check_eq "node dns.resolve4" "a 10.96.0.10" "$(grep '^a ' <<<"$out")"
	check_eq "node dns.resolveSrv" "srv backend.default.svc.cluster.local:80" "$(grep '^srv ' <<<"$out")"
	check_eq "node dns.reverse" "ptr backend.default.svc.cluster.local" "$(grep '^ptr ' <<<"$out")"
else
	e2e_log "node not installed: its part skipped"
fi

if command -v go >/dev/null; then
	export GOCACHE=$LDMESH_BUILD/go-cache GOPATH=$LDMESH_BUILD/go-path GO111MODULE=off GOFLAGS=
	mkdir -p "$GOCACHE" "$GOPATH" "$E2E_TMP/go"
	cat >"$E2E_TMP/go/main.go" <<'GO'
package main

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
)

func main() {
	r := &net.Resolver{PreferGo: true}
	ctx := context.Background()
	n := "backend.default.svc.cluster.local"
	if a, err := r.LookupHost(ctx, n); err != nil {
		fmt.Println("a error:", err)
	} else {
		sort.Strings(a)
		fmt.Println("a", strings.Join(a, ","))
	}
	if _, srv, err := r.LookupSRV(ctx, "http", "tcp", n); err != nil {
		fmt.Println("srv error:", err)
	} else {
		for _, s := range srv {
			fmt.Printf("srv %s:%d\n", s.Target, s.Port)
		}
	}
	if p, err := r.LookupAddr(ctx, "10.96.0.10"); err != nil {
		fmt.Println("ptr error:", err)
	} else {
		fmt.Println("ptr", strings.Join(p, ","))
	}
}
GO
	CGO_ENABLED=0 go build -o "$E2E_TMP/go-pure" "$E2E_TMP/go/main.go" ||
		e2e_die "go build failed"
	out=$("$E2E_TMP/go-pure" 2>&1)
	check_eq "pure Go: LookupHost" "a 10.96.0.10" "$(grep '^a' <<<"$out")"
	check_eq "pure Go: LookupSRV" "srv backend.default.svc.cluster.local.:80" "$(grep '^srv' <<<"$out")"
	check_eq "pure Go: LookupAddr" "ptr backend.default.svc.cluster.local." "$(grep '^ptr' <<<"$out")"
else
	e2e_log "go not installed: its part skipped"
fi
e2e_done
