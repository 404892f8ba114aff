#!/usr/bin/env bash
# Issue 24, item 2: reverse lookups answered in-process from the table.
#
# getnameinfo, gethostbyaddr and gethostbyaddr_r on a ClusterIP (IPv4 and
# IPv6) name the Service; on a ready endpoint of a headless Service they
# name that endpoint (its hostname, or a-b-c-d), as the Kubernetes DNS
# specification's PTR records do. In a private network namespace with no
# DNS server at all: without the preload every one of these fails; glibc's
# contract (EAI_OVERFLOW, ERANGE, NI_NOFQDN, NI_NUMERICHOST, the service
# part) is kept, and an address the table does not name is the real
# resolver's, exactly as without the preload.
. "$(dirname "$0")/lib.sh"
e2e_mountns "$@"
e2e_netns "$@"
e2e_setup
RC=$(e2e_cc revclient)
# no DNS server: "nameserver 127.0.0.1" with nothing listening
printf 'nameserver 127.0.0.1\noptions attempts:1 timeout:1\n' >"$E2E_TMP/resolv.none"
mount --bind "$E2E_TMP/resolv.none" /etc/resolv.conf
printf '127.0.0.1 localhost\n' >"$E2E_TMP/hosts"
mount --bind "$E2E_TMP/hosts" /etc/hosts

cat >"$MANIFESTS/svc.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIPs: [10.96.0.80, "fd00:96::80"]
  ipFamilies: [IPv4, IPv6]
  ipFamilyPolicy: RequireDualStack
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: data}
spec:
  clusterIP: None
  ports: [{name: pg, port: 5432}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: db-1, namespace: data, labels: {kubernetes.io/service-name: db}}
addressType: IPv4
ports: [{name: pg, port: 5432, protocol: TCP}]
endpoints:
- {addresses: [10.244.3.1], hostname: db-0, conditions: {ready: true}}
- {addresses: [10.244.3.2], conditions: {ready: true}}
- {addresses: [10.244.3.3], hostname: db-2, conditions: {ready: false}}
YAML
e2e_agent --service-cidr 10.96.0.0/12,fd00:96::/112
rc() { pl env LDMESH_TRACE=1 LDMESH_TRACE_FILE="$E2E_TMP/trace" "$RC" "$@" 2>&1; }

check_eq "getnameinfo of a ClusterIP names the Service, and its port" \
	"gni host=web.default.svc.cluster.local serv=http" "$(rc gni 10.96.0.80 80 1025)"
check_eq "the same for its IPv6 ClusterIP" \
	"gni host=web.default.svc.cluster.local serv=80" "$(rc gni fd00:96::80 80 1025 numericserv)"
check_eq "NI_NAMEREQD is met" "gni host=web.default.svc.cluster.local serv=http" \
	"$(rc gni 10.96.0.80 80 1025 namereqd)"
check_eq "NI_NOFQDN: the first label" "gni host=web serv=http" "$(rc gni 10.96.0.80 80 1025 nofqdn)"
check_eq "NI_NUMERICHOST is the real getnameinfo's" "gni host=10.96.0.80 serv=http" \
	"$(rc gni 10.96.0.80 80 1025 numerichost)"
check_eq "a buffer one byte short: EAI_OVERFLOW, as glibc" "gni rc=EAI_OVERFLOW" \
	"$(rc gni 10.96.0.80 80 29 noserv)"
check_eq "an exact buffer holds it" "gni host=web.default.svc.cluster.local serv=" \
	"$(rc gni 10.96.0.80 80 30 noserv)"
check_eq "a headless endpoint with a hostname: <hostname>.<svc>.<ns>.svc.<domain>" \
	"gni host=db-0.db.data.svc.cluster.local serv=5432" "$(rc gni 10.244.3.1 5432 1025 numericserv)"
check_eq "one without: its dashed address" \
	"gni host=10-244-3-2.db.data.svc.cluster.local serv=5432" "$(rc gni 10.244.3.2 5432 1025 numericserv)"
# a not-ready endpoint and an unknown address: the real resolver's (which,
# with no server, fails in the same way with or without the preload)
plain() { "$RC" "$@" 2>&1; }
check_eq "a not-ready endpoint is not named: the real resolver's answer" \
	"$(plain gni 10.244.3.3 5432 1025 namereqd)" "$(rc gni 10.244.3.3 5432 1025 namereqd)"
check_eq "an address the table does not name: the real resolver's answer" \
	"$(plain gni 10.1.2.3 80 1025 namereqd)" "$(rc gni 10.1.2.3 80 1025 namereqd)"
check_match "(which has no name for it here)" "EAI_NONAME|EAI_AGAIN" "$(plain gni 10.96.0.80 80 1025 namereqd)"

check_eq "gethostbyaddr of a ClusterIP" \
	"ghba name=web.default.svc.cluster.local type=AF_INET len=4 addr=10.96.0.80 aliases=0" \
	"$(rc ghba 10.96.0.80)"
check_eq "gethostbyaddr of the IPv6 ClusterIP" \
	"ghba name=web.default.svc.cluster.local type=AF_INET6 len=16 addr=fd00:96::80 aliases=0" \
	"$(rc ghba fd00:96::80)"
check_eq "gethostbyaddr_r of a headless endpoint" \
	"ghba_r name=db-0.db.data.svc.cluster.local type=AF_INET len=4 addr=10.244.3.1 aliases=0" \
	"$(rc ghba_r 10.244.3.1 1024)"
check_eq "gethostbyaddr_r with a short buffer: ERANGE (34), h_errno NETDB_INTERNAL (-1)" \
	"ghba_r rc=34 result=NULL h_errno=-1" "$(rc ghba_r 10.96.0.80 16)"
check_match "without the preload it fails" "NULL" "$(plain ghba 10.96.0.80)"

out=$(pl getent hosts 10.96.0.80 2>&1 || true)
check_match "getent hosts <ClusterIP>" "^10\.96\.0\.80 +web\.default\.svc\.cluster\.local$" "$out"
out=$(pl "$PY" -c 'import socket; print(socket.gethostbyaddr("10.244.3.1")[0], socket.getnameinfo(("10.96.0.80", 80), socket.NI_NAMEREQD)[0])' 2>&1 || true)
check_eq "python's socket.gethostbyaddr and getnameinfo" \
	"db-0.db.data.svc.cluster.local web.default.svc.cluster.local" "$out"
check_match "the trace says what answered" \
	"getnameinfo 10\.96\.0\.80 -> web\.default\.svc\.cluster\.local svc=default/web gen=" \
	"$(cat "$E2E_TMP/trace")"

# the table follows: an endpoint gone ready names it, a Service removed no more
sed -i 's/hostname: db-2, conditions: {ready: false}/hostname: db-2, conditions: {ready: true}/' "$MANIFESTS/svc.yaml"
named_db2() { [ "$(rc gni 10.244.3.3 5432 1025 numericserv)" = "gni host=db-2.db.data.svc.cluster.local serv=5432" ]; }
check "an endpoint become ready is named, in a new process" e2e_wait named_db2
e2e_done
