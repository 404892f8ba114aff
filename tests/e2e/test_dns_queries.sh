#!/usr/bin/env bash
# What reaches a real DNS server (dnsmasq on 127.0.0.1, logging every query)
# from a pod with Kubernetes' resolv.conf (search <ns>.svc.cluster.local
# svc.cluster.local cluster.local, ndots:5; the server answers NXDOMAIN
# inside cluster.local, as CoreDNS does): without ldmesh an external name
# costs four queries (three search expansions, then the name); with ldmesh,
# which knows the cluster domain's names, one. A service name costs none
# with ldmesh, and names in /etc/hosts still resolve.
. "$(dirname "$0")/lib.sh"
# glibc reads /etc/resolv.conf: ours, in a private mount namespace
e2e_mountns "$@"
e2e_netns "$@"
e2e_setup

printf '127.0.0.1 localhost\n10.244.9.9 legacy-db\n' >"$E2E_TMP/hosts"
printf 'hosts: files dns\n' >"$E2E_TMP/nsswitch.conf"
mount --bind "$E2E_TMP/hosts" /etc/hosts
mount --bind "$E2E_TMP/nsswitch.conf" /etc/nsswitch.conf
e2e_cluster_dns --address=/example.org/192.0.2.7

e2e_put svc.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: default}
spec: {clusterIP: 10.96.0.10, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: default}
spec: {type: ExternalName, externalName: example.org}
YAML
e2e_agent

queries() { grep -c 'query\[A\]' "$E2E_TMP/dns.log" || true; }
ask() { "$PY" -c 'import socket,sys; print(socket.getaddrinfo(sys.argv[1], 80, socket.AF_INET, socket.SOCK_STREAM)[0][4][0])' "$1" 2>&1 | tail -n1; }

q0=$(queries)
check_eq "without ldmesh: example.org resolves" 192.0.2.7 "$(ask example.org)"
q1=$(queries)
check_eq "without ldmesh: four queries (3 search domains, then the name)" 4 "$((q1 - q0))"

check_eq "with ldmesh: example.org resolves" 192.0.2.7 "$(pl env LDMESH_TABLE="$TABLE" "$PY" -c 'import socket,sys; print(socket.getaddrinfo(sys.argv[1], 80, socket.AF_INET, socket.SOCK_STREAM)[0][4][0])' example.org 2>&1 | tail -n1)"
q2=$(queries)
check_eq "with ldmesh: one query" 1 "$((q2 - q1))"
grep 'query\[A\]' "$E2E_TMP/dns.log" | tail -n1 | sed 's/^/# /'

check_eq "with ldmesh: the service name answers from the table" 10.96.0.10 "$(pl "$PY" -c 'import socket,sys; print(socket.getaddrinfo(sys.argv[1], 80, socket.AF_INET, socket.SOCK_STREAM)[0][4][0])' backend 2>&1 | tail -n1)"
q3=$(queries)
check_eq "with ldmesh: no query for the service name" 0 "$((q3 - q2))"
# An ExternalName is a CNAME to an absolute name: its target is asked once,
# not through the search list (issue 9, item 12: it cost four queries).
check_eq "with ldmesh: an ExternalName service resolves through its target" 192.0.2.7 \
	"$(pl "$PY" -c 'import socket,sys; print(socket.getaddrinfo(sys.argv[1], 80, socket.AF_INET, socket.SOCK_STREAM)[0][4][0])' ext 2>&1 | tail -n1)"
q4=$(queries)
check_eq "with ldmesh: one query for the ExternalName's target" 1 "$((q4 - q3))"
check_eq "with ldmesh: /etc/hosts names still resolve" 10.244.9.9 "$(pl "$PY" -c 'import socket,sys; print(socket.getaddrinfo(sys.argv[1], 80, socket.AF_INET, socket.SOCK_STREAM)[0][4][0])' legacy-db 2>&1 | tail -n1)"

e2e_done
