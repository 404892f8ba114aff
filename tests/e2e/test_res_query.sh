#!/usr/bin/env bash
# Issue 24, item 2: res_query, res_search, res_nquery and res_nsearch for
# the cluster's names answered in process, with the replies ldmesh-dns
# builds (the same code), parsed by libresolv (ns_initparse, ns_parserr).
#
# In a private network namespace with no DNS server: A, AAAA, SRV, PTR of a
# ClusterIP and of a headless endpoint, the search list, NXDOMAIN and
# NODATA with glibc's h_errno, glibc's contract for a short answer buffer
# (a TCP reply cut with TC and its full length returned; below a header
# EINVAL); without the preload every one fails. Then a test upstream
# (dnsmasq on 127.0.0.2) for what is not the table's: outside names, and a
# cluster name an incomplete table lacks, passed on untouched.
. "$(dirname "$0")/lib.sh"
e2e_mountns "$@"
e2e_netns "$@"
e2e_setup
RQ=$(e2e_cc resclient -lresolv)
# no DNS server: a nameserver with nothing listening
printf 'search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 127.0.0.2\noptions ndots:5 attempts:1 timeout:1\n' >"$RESOLV"
mount --bind "$RESOLV" /etc/resolv.conf
printf '127.0.0.1 localhost\n' >"$E2E_TMP/hosts"
mount --bind "$E2E_TMP/hosts" /etc/hosts

# a headless Service of 40 pods: its A reply (40 records) is larger than
# a 512-byte UDP reply, so the resolver takes it over TCP
pods() {
	for i in $(seq 1 40); do printf -- '- {addresses: [10.244.5.%d], conditions: {ready: true}}\n' "$i"; done
}
cat >"$MANIFESTS/svc.yaml" <<YAML
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: default}
spec: {clusterIP: 10.96.0.10, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIPs: [10.96.0.80, "fd00:96::80"]
  ipFamilies: [IPv4, IPv6]
  ipFamilyPolicy: RequireDualStack
  ports: [{name: http, port: 80}]
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
---
apiVersion: v1
kind: Service
metadata: {name: many, namespace: default}
spec: {clusterIP: None, ports: [{port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: many-1, namespace: default, labels: {kubernetes.io/service-name: many}}
addressType: IPv4
ports: [{port: 80, protocol: TCP}]
endpoints:
$(pods)
YAML
# complete from the start (the folder is the whole truth: no --require-sync)
e2e_agent --service-cidr 10.96.0.0/12,fd00:96::/112
rq() { pl env LDMESH_TRACE=1 LDMESH_TRACE_FILE="$E2E_TMP/trace" "$RQ" "$@" 2>&1; }
# the reply's length: the part below compares it with glibc's over the
# network; here what it says
rql() { rq "$@" | sed -E 's/^rc=[0-9]+ /rc=N /'; }
plain() { "$RQ" "$@" 2>&1; }
lines() { printf '%s\n' "$@"; }
FQDN=backend.default.svc.cluster.local

check_eq "res_query A of a Service: its ClusterIP" \
	"$(lines "rc=N h_errno=0 errno=0" "rcode=0 an=1 tc=0" "A 10.96.0.10")" "$(rql query $FQDN A)"
check_eq "res_query AAAA of a dual-stack Service" \
	"$(lines "rc=N h_errno=0 errno=0" "rcode=0 an=1 tc=0" "AAAA fd00:96::80")" \
	"$(rql query web.default.svc.cluster.local AAAA)"
check_eq "res_query SRV of a named port: the Service, its port" \
	"$(lines "rc=N h_errno=0 errno=0" "rcode=0 an=1 tc=0" "SRV 0 100 80 $FQDN")" \
	"$(rql query _http._tcp.$FQDN SRV)"
check_eq "res_query PTR of a ClusterIP" \
	"$(lines "rc=N h_errno=0 errno=0" "rcode=0 an=1 tc=0" "PTR $FQDN")" \
	"$(rql query 10.0.96.10.in-addr.arpa PTR)"
check_eq "res_query PTR of a headless endpoint: its hostname name" \
	"$(lines "rc=N h_errno=0 errno=0" "rcode=0 an=1 tc=0" "PTR db-0.db.data.svc.cluster.local")" \
	"$(rql query 1.3.244.10.in-addr.arpa PTR)"
check_eq "res_search of a short name: the search list finds it" \
	"$(lines "rc=N h_errno=HOST_NOT_FOUND errno=0" "rcode=0 an=1 tc=0" "A 10.96.0.10")" \
	"$(rql search backend A)"
check_eq "res_search of svc.ns" \
	"$(lines "rc=N h_errno=HOST_NOT_FOUND errno=0" "rcode=0 an=1 tc=0" "A 10.244.3.1")" \
	"$(rql search db.data A)"
check_eq "__res_query@GLIBC_2.2.5, as programs built before glibc 2.34 call it" \
	"$(lines "rc=N h_errno=0 errno=0" "rcode=0 an=1 tc=0" "A 10.96.0.10")" "$(rql query-compat $FQDN A)"
check_eq "res_nquery with a state from res_ninit" \
	"$(lines "rc=N h_errno=0 errno=0" "statp h_errno=0" "rcode=0 an=1 tc=0" "A 10.96.0.10")" \
	"$(rql nquery $FQDN A)"
check_eq "res_nsearch with a state from res_ninit" \
	"$(lines "rc=N h_errno=HOST_NOT_FOUND errno=0" "statp h_errno=HOST_NOT_FOUND" "rcode=0 an=1 tc=0" "SRV 0 100 80 $FQDN")" \
	"$(rql nsearch _http._tcp.backend SRV)"
check_eq "a cluster name a complete table lacks: -1, HOST_NOT_FOUND, the NXDOMAIN reply" \
	"$(lines "rc=-1 h_errno=HOST_NOT_FOUND errno=0" "header rcode=3 an=0")" \
	"$(rq query nope.default.svc.cluster.local A)"
check_eq "res_nquery: h_errno in the state too" \
	"$(lines "rc=-1 h_errno=HOST_NOT_FOUND errno=0" "statp h_errno=HOST_NOT_FOUND" "header rcode=3 an=0")" \
	"$(rq nquery nope.default.svc.cluster.local A)"
check_eq "a name without the type asked: -1, NO_DATA" \
	"$(lines "rc=-1 h_errno=NO_DATA errno=0" "header rcode=0 an=0")" "$(rq query $FQDN AAAA)"
# nope.<each search domain> is the table's (NXDOMAIN), "nope" itself is not:
# the real resolver is asked last, and finds no server
check_eq "res_search of a short name that is nowhere: the bare name last, the real resolver's" \
	"rc=-1 h_errno=TRY_AGAIN errno=111" "$(rq search nope A | head -n1)"

# a reply larger than 512 bytes comes over TCP: whole in a large buffer,
# cut with TC and its full length returned in a short one (glibc send_vc)
out=$(rq query many.default.svc.cluster.local A)
check_eq "a headless Service of 40 pods: 40 A records" 40 "$(grep -c '^A 10\.244\.5\.' <<<"$out")"
check_match "... in a reply of more than 512 bytes" "^rc=(5[1-9][0-9]|[6-9][0-9][0-9]) " "$out"
full=$(sed -n 's/^rc=\([0-9]*\) .*/\1/p' <<<"$out")
check_eq "a 100-byte buffer: the full length returned, TC set, the message cut" \
	"$(lines "rc=$full h_errno=0 errno=0" "tc=1 parse=fail")" \
	"$(rq query many.default.svc.cluster.local A 100)"
check_eq "a UDP-sized reply in a 60-byte buffer: 60 returned, the message cut" \
	"$(lines "rc=60 h_errno=0 errno=0" "tc=0 parse=fail")" "$(rq query $FQDN A 60)"
# glibc matches the reply to its query by the question, and a question
# name cut short "matches" (__libc_res_queriesmatch returns -1), leaving
# dn_expand's EMSGSIZE behind
check_eq "... in one its question name does not fit: 40, EMSGSIZE in errno" \
	"$(lines "rc=40 h_errno=0 errno=90" "tc=0 parse=fail")" "$(rq query $FQDN A 40)"
check_eq "a buffer smaller than a header: -1, EINVAL, TRY_AGAIN" \
	"rc=-1 h_errno=TRY_AGAIN errno=22" "$(rq query $FQDN A 11)"

# musl (libldmesh-musl.so): res_query and res_search (which is res_query
# there: no search list, no res_n* functions)
MUSL_CC=$(command -v musl-gcc || true)
if [ -n "$MUSL_CC" ] && [ -f "$MUSL_LIB" ]; then
	"$MUSL_CC" -O1 -Wall -Wextra -Werror -o "$E2E_TMP/resclient-musl" "$E2E_DIR/resclient.c" ||
		e2e_die "cannot compile resclient.c with musl-gcc"
	mq() { env LD_PRELOAD="$MUSL_LIB" LDMESH_TABLE="$TABLE" LDMESH_RESOLV_CONF="$RESOLV" \
		LDMESH_NAMESPACE=default "$E2E_TMP/resclient-musl" "$@" 2>&1; }
	check_eq "musl: res_query A of a Service" \
		"$(lines "rc=67 h_errno=0 errno=0" "rcode=0 an=1 tc=0" "A 10.96.0.10")" "$(mq query $FQDN A)"
	check_eq "musl: res_search SRV (res_query there)" \
		"$(lines "rc=131 h_errno=0 errno=0" "rcode=0 an=1 tc=0" "SRV 0 100 80 $FQDN")" \
		"$(mq search _http._tcp.$FQDN SRV)"
	check_eq "musl: NXDOMAIN, HOST_NOT_FOUND, errno untouched" \
		"$(lines "rc=-1 h_errno=HOST_NOT_FOUND errno=0" "header rcode=3 an=0")" \
		"$(mq query nope.default.svc.cluster.local A)"
	check_eq "musl: a short buffer gets what fits (1.2.3)" \
		"$(lines "rc=40 h_errno=0 errno=0" "tc=0 parse=fail")" "$(mq query $FQDN A 40)"
	check_match "musl: without the preload it fails" "^rc=-1 h_errno=TRY_AGAIN" \
		"$("$E2E_TMP/resclient-musl" query $FQDN A 2>&1)"
else
	e2e_log "musl-gcc or libldmesh-musl.so missing: musl part not run"
fi

# without the preload there is nobody to ask
check_eq "without the preload res_query fails" "rc=-1 h_errno=TRY_AGAIN errno=111" \
	"$(plain query $FQDN A)"
check_eq "... and res_search" "rc=-1 h_errno=TRY_AGAIN errno=111" "$(plain search backend A)"
# a state its program never initialised is not read: the real function's
check_eq "res_nquery on a state never initialised: the real function's answer" \
	"$(plain nquery-noinit $FQDN A)" "$(rq nquery-noinit $FQDN A)"
check_match "the trace says what answered" \
	"res_query backend\.default\.svc\.cluster\.local type=1 -> rcode=0 an=1 len=67 udp ret=67 gen=" \
	"$(cat "$E2E_TMP/trace")"

# ---- what is not the table's goes to the resolver, untouched --------------
. "$(dirname "$0")/dnslib.sh"
dns_upstream --address=/example.org/192.0.2.7 \
	--host-record=kubernetes.default.svc.cluster.local,10.96.0.1
asked() { grep -c "query\[$1\] $2" "$E2E_TMP/up.log" || true; }
check_eq "an outside name: the upstream's answer, as without the preload" \
	"$(plain query example.org A)" "$(rq query example.org A)"
check_eq "... (which is there)" "A 192.0.2.7" "$(rq query example.org A | tail -n1)"
check_eq "... asked of the upstream (three times: plain, preloaded, preloaded)" 3 \
	"$(asked A example.org)"
check_eq "res_search of an outside name: the search list, then the name (the upstream's)" \
	"A 192.0.2.7" "$(rq search example.org A | tail -n1)"
check_eq "... the cluster's candidates answered in process, not asked" 0 \
	"$(asked A example.org.default.svc.cluster.local)"
check_eq "an outside PTR: the upstream's answer, as without the preload" \
	"$(plain query 7.2.0.192.in-addr.arpa PTR)" "$(rq query 7.2.0.192.in-addr.arpa PTR)"
check_eq "a cluster name: not asked of the upstream" 0 "$(asked A backend)"

# an incomplete table (--require-sync, no fresh marker): a cluster name it
# lacks is not said to be missing but passed on
M2=$E2E_TMP/manifests2
mkdir -p "$M2"
cp "$MANIFESTS/svc.yaml" "$M2/"
"$AGENT" -m "$M2" -t "$E2E_TMP/table2" --require-sync >>"$E2E_TMP/agent2.log" 2>&1 &
e2e_track $!
rq2() { pl env LDMESH_TABLE="$E2E_TMP/table2" "$RQ" "$@" 2>&1; }
has_table2() { rq2 query $FQDN A | grep -q '^A 10\.96\.0\.10$'; }
check "the incomplete table answers the names it has" e2e_wait has_table2
check_eq "a cluster name an incomplete table lacks: the upstream's answer" \
	"A 10.96.0.1" "$(rq2 query kubernetes.default.svc.cluster.local A | tail -n1)"
check_eq "... asked of the upstream" 1 "$(asked A kubernetes.default.svc.cluster.local)"
check_eq "the complete table says NXDOMAIN for it, without asking" \
	"rc=-1 h_errno=HOST_NOT_FOUND errno=0" "$(rq query kubernetes.default.svc.cluster.local A | head -n1)"
check_eq "... (still asked once only)" 1 "$(asked A kubernetes.default.svc.cluster.local)"

# ---- glibc's own resolver against ldmesh-dns: the same bytes, the same ----
# return values, h_errno and errno as in process (the reference the
# contract above is checked against)
printf 'search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 127.0.0.1\noptions ndots:5 attempts:1 timeout:1\n' >"$RESOLV"
dns_server 127.0.0.1
same() {
	local want got
	# a headless Service's records come in a rotating order
	want=$(plain "$@" | sort)
	got=$(rq "$@" | sort)
	check_eq "as glibc over the network: $*" "$want" "$got"
}
same query $FQDN A
same query web.default.svc.cluster.local AAAA
same query _http._tcp.$FQDN SRV
same query 10.0.96.10.in-addr.arpa PTR
same query 1.3.244.10.in-addr.arpa PTR
same query nope.default.svc.cluster.local A
same query $FQDN AAAA
same search backend A
same search db.data A
same search example.org A
same nquery $FQDN A
same nsearch _http._tcp.backend SRV
same nquery nope.default.svc.cluster.local A
same query many.default.svc.cluster.local A
same query many.default.svc.cluster.local A 100
same query $FQDN A 60
same query $FQDN A 40
same query $FQDN A 11
# the state's options: EDNS (a 1200-byte UDP reply holds the 40 pods: no
# TCP), TCP alone (use-vc: a short buffer gets the full length)
opts() {
	local o=$1 want got
	shift
	want=$(RES_OPTIONS=$o plain "$@" | sort)
	got=$(RES_OPTIONS=$o rq "$@" | sort)
	check_eq "as glibc over the network, options $o: $*" "$want" "$got"
}
opts edns0 query many.default.svc.cluster.local A
opts edns0 query many.default.svc.cluster.local A 100
opts edns0 nsearch many A 600
opts use-vc query $FQDN A 40
check_eq "use-vc: over TCP a 40-byte buffer gets the full length and TC" \
	"$(lines "rc=67 h_errno=0 errno=0" "tc=1 parse=fail")" "$(RES_OPTIONS=use-vc rq query $FQDN A 40)"
check_eq "edns0: 40 pods in one UDP reply, whole, with its OPT record" "rc=699 h_errno=0 errno=0" \
	"$(RES_OPTIONS=edns0 rq query many.default.svc.cluster.local A 700 | head -n1)"
opts use-vc search backend A
opts use-vc query nope.default.svc.cluster.local A
# musl's resolver against ldmesh-dns, and libldmesh-musl.so in process
if [ -x "$E2E_TMP/resclient-musl" ]; then
	msame() {
		check_eq "as musl over the network: $*" "$("$E2E_TMP/resclient-musl" "$@" 2>&1 | sort)" \
			"$(mq "$@" | sort)"
	}
	msame query $FQDN A
	msame query $FQDN A 40
	msame search _http._tcp.$FQDN SRV
	msame query 1.3.244.10.in-addr.arpa PTR
	msame query nope.default.svc.cluster.local A
	msame query $FQDN AAAA
	msame query many.default.svc.cluster.local A
	msame query many.default.svc.cluster.local A 100
	msame query $FQDN A 11
fi
e2e_done
