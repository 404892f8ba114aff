#!/usr/bin/env bash
# ldmesh-dns answering real DNS clients (dig) from the table, in a private
# network namespace with no DNS server but a test upstream (dnsmasq on
# 127.0.0.2, logging its queries): A and AAAA of ClusterIP Services, the
# ready endpoints of a headless one and their hostname.subdomain names,
# SRV of named ports for both, PTR of a ClusterIP and of an endpoint, the
# ExternalName CNAME, dns-version, NXDOMAIN with the zone's SOA, TCP; an
# outside name forwarded to the upstream, then answered from the cache
# (the upstream asked once), with the asker's 0x20 spelling; garbage over
# UDP and TCP survived; `ldmeshctl dig` answering as the server does.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup
command -v dig >/dev/null || e2e_skip "dig not installed (bind9-dnsutils)"
. "$(dirname "$0")/dnslib.sh"

e2e_put svc.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: default}
spec:
  clusterIP: 10.96.0.10
  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: backend-x1, namespace: default, labels: {kubernetes.io/service-name: backend}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
- addresses: [10.244.1.5]
  conditions: {ready: true}
---
apiVersion: v1
kind: Service
metadata: {name: dual, namespace: default}
spec:
  ipFamilyPolicy: RequireDualStack
  ipFamilies: [IPv4, IPv6]
  clusterIP: 10.96.5.5
  clusterIPs: [10.96.5.5, "fd00:10:96::5"]
  ports: [{name: dns, port: 53, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec:
  clusterIP: None
  ports: [{name: pg, port: 5432, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: db-x1, namespace: shop, labels: {kubernetes.io/service-name: db}}
addressType: IPv4
ports: [{name: pg, port: 5432, protocol: TCP}]
endpoints:
- addresses: [10.244.2.1]
  hostname: db-0
  conditions: {ready: true}
- addresses: [10.244.2.2]
  conditions: {ready: true}
- addresses: [10.244.2.3]
  hostname: db-2
  conditions: {ready: false}
---
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: default}
spec: {type: ExternalName, externalName: example.org}
YAML
e2e_agent --service-cidr 10.96.0.0/12,fd00:10:96::/108

# the upstream answers example.org itself
# and a TXT record too large for 512 bytes: over UDP without EDNS it comes
# truncated, and ldmesh-dns asks again over TCP
BIG=$(printf 'x%.0s' $(seq 200))
dns_upstream --address=/example.org/192.0.2.7 --txt-record=big.example.org,"$BIG","$BIG","$BIG"
dns_server

check_eq "A of a ClusterIP Service" "10.96.0.10" "$(short backend.default.svc.cluster.local)"
check_eq "AAAA of a dual-stack Service" "fd00:10:96::5" "$(short dual.default.svc.cluster.local AAAA)"
check_eq "A of a dual-stack Service" "10.96.5.5" "$(short dual.default.svc.cluster.local A)"
check_eq "headless: A of each ready endpoint" "10.244.2.1 10.244.2.2" \
	"$(short db.shop.svc.cluster.local)"
check_eq "headless: hostname.subdomain" "10.244.2.1" "$(short db-0.db.shop.svc.cluster.local)"
check_eq "headless: the dashed name of an endpoint without hostname" "10.244.2.2" \
	"$(short 10-244-2-2.db.shop.svc.cluster.local)"
check_eq "SRV of a ClusterIP Service's named port" "0 100 80 backend.default.svc.cluster.local." \
	"$(short _http._tcp.backend.default.svc.cluster.local SRV)"
check_eq "SRV of a headless Service: one per ready endpoint" \
	"0 100 5432 10-244-2-2.db.shop.svc.cluster.local. 0 100 5432 db-0.db.shop.svc.cluster.local." \
	"$(short _pg._tcp.db.shop.svc.cluster.local SRV)"
out=$(q _pg._tcp.db.shop.svc.cluster.local SRV)
check_match "SRV: the targets' addresses in the additional section" \
	'db-0\.db\.shop\.svc\.cluster\.local\.[[:space:]]+5[[:space:]]+IN[[:space:]]+A[[:space:]]+10\.244\.2\.1' "$out"
check_eq "PTR of a ClusterIP" "backend.default.svc.cluster.local." "$(short -x 10.96.0.10)"
check_eq "PTR of an IPv6 ClusterIP" "dual.default.svc.cluster.local." "$(short -x fd00:10:96::5)"
check_eq "PTR of a headless endpoint" "db-0.db.shop.svc.cluster.local." "$(short -x 10.244.2.1)"
check_eq "CNAME of an ExternalName" "example.org." "$(short ext.default.svc.cluster.local CNAME)"
out=$(q ext.default.svc.cluster.local A)
check_match "A of an ExternalName: the CNAME..." 'ext\.default\.svc\.cluster\.local\.[[:space:]]+5[[:space:]]+IN[[:space:]]+CNAME[[:space:]]+example\.org\.' "$out"
check_match "... and the target's address, asked of the upstream" 'example\.org\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.7' "$out"
check_match "... again, from the cache, over TCP" 'example\.org\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.7' \
	"$(q +tcp ext.default.svc.cluster.local A)"
check_eq "dns-version" '"1.1.0"' "$(short dns-version.cluster.local TXT)"
out=$(q nope.default.svc.cluster.local)
check_match "a name the table lacks: NXDOMAIN" 'status: NXDOMAIN' "$out"
check_match "... with the zone's SOA" 'cluster\.local\.[[:space:]]+5[[:space:]]+IN[[:space:]]+SOA[[:space:]]+ns\.dns\.cluster\.local\.' "$out"
check_match "AA on cluster answers" 'flags: qr aa' "$(q backend.default.svc.cluster.local)"
check_match "TTL 5 on cluster answers" 'backend\.default\.svc\.cluster\.local\.[[:space:]]+5[[:space:]]+IN[[:space:]]+A' \
	"$(q backend.default.svc.cluster.local)"
check_eq "over TCP" "10.96.0.10" "$(short +tcp backend.default.svc.cluster.local)"
check_match "NODATA: AAAA of a v4-only Service" 'status: NOERROR.*ANSWER: 0' \
	"$(q backend.default.svc.cluster.local AAAA | tr '\n' ' ')"
check_nomatch "the upstream was asked nothing else so far" 'query\[[A-Z]*\] [^e]' "$(cat "$E2E_TMP/up.log")"

# forwarded, then cached: the upstream is asked once within the TTL
check_eq "an outside name is forwarded" "192.0.2.7" "$(short www.example.org)"
check_eq "... again, from the cache" "192.0.2.7" "$(short www.example.org)"
out=$(q WwW.ExAmPlE.OrG)
check_match "... 0x20: the asker's spelling kept" 'WwW\.ExAmPlE\.OrG\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.7' "$out"
check_eq "the upstream was asked once" 1 "$(grep -c 'query\[A\] www.example.org' "$E2E_TMP/up.log" || true)"
check_eq "over TCP too (forwarded)" "192.0.2.7" "$(short +tcp other.example.org)"
out=$(q +noedns big.example.org TXT)
check_match "a large answer: truncated upstream, asked again over TCP, whole to dig" \
	"big\.example\.org\..*TXT.*\"$BIG\" \"$BIG\" \"$BIG\"" "$out"
check_eq "... the upstream asked twice (UDP, then TCP), dig's TCP retry from the cache" 2 \
	"$(grep -c 'query\[TXT\] big\.example\.org' "$E2E_TMP/up.log" || true)"

# garbage: dropped or FORMERR, and the server answers the next query
"$PY" - <<'PY' >"$E2E_TMP/garbage.out"
import socket, struct, os
def udp(b, want=False):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
    s.sendto(b, ("127.0.0.1", 53))
    try:
        r = s.recv(65535)
    except socket.timeout:
        r = None
    s.close()
    return r
hdr = lambda qd, an=0, ns=0, ar=0, flags=0x0100: struct.pack(">HHHHHH", 0x1234, flags, qd, an, ns, ar)
udp(b"\x01")                                                     # shorter than a header
r = udp(hdr(1))                                                  # no question behind the count
print("truncated", r is not None and r[3] & 15)
r = udp(hdr(1) + b"\xc0\x0c\x00\x01\x00\x01")                    # a name pointing at itself
print("loop", r is not None and r[3] & 15)
r = udp(hdr(1, 65535, 65535, 65535) + b"\x01a\x00\x00\x01\x00\x01")  # huge counts
print("counts", r is not None and r[3] & 15)
opt = b"\x00\x00\x29\x04\xd0\x00\x05\x00\x00\x00\x00"            # EDNS version 5
r = udp(hdr(1, ar=1) + b"\x01a\x00\x00\x01\x00\x01" + opt)
print("badvers", r is not None and (r[3] & 15, r[-6] if len(r) > 20 else None))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(200):                                             # random bytes, unanswered
    s.sendto(os.urandom(i % 40 + 1), ("127.0.0.1", 53))
c = socket.create_connection(("127.0.0.1", 53)); c.sendall(b"\x00\x05abc"); c.close()
c = socket.create_connection(("127.0.0.1", 53)); c.sendall(b"\xff\xff" + os.urandom(100)); c.close()
PY
check_eq "malformed: a question cut off gets FORMERR" "truncated 1" "$(grep truncated "$E2E_TMP/garbage.out")"
check_eq "malformed: a compression loop gets FORMERR" "loop 1" "$(grep loop "$E2E_TMP/garbage.out")"
check_eq "malformed: huge counts get FORMERR" "counts 1" "$(grep counts "$E2E_TMP/garbage.out")"
check_eq "bad EDNS version: BADVERS" "badvers (0, 1)" "$(grep badvers "$E2E_TMP/garbage.out")"
check "the server survived the garbage" kill -0 "$DNS_PID"
check_eq "... and answers the next query" "10.96.0.10" "$(short backend.default.svc.cluster.local)"

# TCP connections are bounded (256) and closed when idle (10 s): of 300
# held open, 256 are served and 44 turned away; the served ones are
# closed by the server once idle
"$PY" - <<'PY' >"$E2E_TMP/tcp.out"
import socket, select, struct, time
name = b"".join(bytes([len(l)]) + l for l in b"backend.default.svc.cluster.local".split(b".")) + b"\0"
q = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0) + name + b"\0\1\0\1"
conns = []
for _ in range(300):
    c = socket.create_connection(("127.0.0.1", 53)); c.settimeout(10); conns.append(c)
served = 0
for c in conns:
    try:
        c.sendall(struct.pack(">H", len(q)) + q)
        served += len(c.recv(2)) == 2
    except (ConnectionError, socket.timeout):
        pass  # turned away: closed at once
print("served", served)
left = set(c for c in conns)
end = time.time() + 60
while left and time.time() < end:
    r, _, _ = select.select(list(left), [], [], 1)
    for c in r:
        try:
            if c.recv(65535) == b"": left.discard(c)
        except ConnectionError:
            left.discard(c)
print("open after idle", len(left))
PY
check_eq "300 TCP connections: 256 served" "served 256" "$(grep served "$E2E_TMP/tcp.out")"
check_eq "... and closed by the server once idle" "open after idle 0" "$(grep idle "$E2E_TMP/tcp.out")"
check_eq "... then a new TCP query is answered" "10.96.0.10" "$(short +tcp backend.default.svc.cluster.local)"

# ldmeshctl dig: the same code against the table
out=$("$CTL" -t "$TABLE" dig _pg._tcp.db.shop.svc.cluster.local SRV)
check_match "ldmeshctl dig answers SRV as the server" 'db-0\.db\.shop\.svc\.cluster\.local\.' "$out"
out=$("$CTL" -t "$TABLE" dig backend.default.svc.cluster.local)
check_match "ldmeshctl dig answers A as the server" 'IN[[:space:]]+A[[:space:]]+10\.96\.0\.10' "$out"
rc=0; out=$("$CTL" -t "$TABLE" dig www.example.org) || rc=$?
check_eq "ldmeshctl dig: an outside name is forwarded (exit 1)" 1 "$rc"
check_match "... and says so" 'forwards it' "$out"

# a table switch: a new Service answers at once
cat >>"$MANIFESTS/svc.yaml" <<'YAML'
---
apiVersion: v1
kind: Service
metadata: {name: late, namespace: default}
spec: {clusterIP: 10.96.0.77, ports: [{port: 80}]}
YAML
late() { [ "$(short late.default.svc.cluster.local)" = 10.96.0.77 ]; }
check "a Service added later is answered" e2e_wait late
e2e_done
