#!/usr/bin/env bash
# ldmesh-dns beside unbound and dnsmasq, answering the same cluster names
# on loopback (issue 24's performance section). Run by hand, as root:
#   tests/bench/bench_dns.sh [BUILD_DIR]     (default build/)
# Needs dnsperf, unbound, dnsmasq (Debian packages of those names;
# dnsmasq-base suffices). Runs in a private network namespace of its own.
# Prints each measurement; tests/bench/results/dns.md keeps a run.
#   - queries per second (dnsperf, 10 s, 10,000 Services' A records) of
#     ldmesh-dns, unbound (local-data, warm) and dnsmasq (a hosts file)
#   - latency percentiles at 20,000 queries a second (bench_dns_latency):
#     of all three, and of ldmesh-dns with the table switching under it
#   - forwarded names answered from the cache: ldmesh-dns against unbound,
#     both forwarding to the same dnsmasq and warmed first
#   - at 100,000 Services: PTR queries (the index by address built by the
#     first, then per second; and one by ldmeshctl dig's scan), and
#     ldmesh-dns's RSS once every name and the PTRs were asked
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
N=${LDMESH_BENCH_SERVICES:-10000}
BIG=${LDMESH_BENCH_BIG:-100000}
SECS=${LDMESH_BENCH_SECONDS:-10}

if [ "${LDMESH_BENCH_IN_NETNS:-}" != 1 ]; then
	for t in dnsperf unbound dnsmasq; do
		command -v "$t" >/dev/null || { echo "bench_dns: $t not installed" >&2; exit 2; }
	done
	export LDMESH_BENCH_IN_NETNS=1
	exec unshare --net --pid --fork --kill-child --mount-proc -- bash "$0" "$@"
fi
ip link set lo up
tmp=$(mktemp -d /tmp/ldmesh-bench-dns.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	chattr -R -i "$tmp" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
AGENT=$build/agent/ldmesh-agent CTL=$build/agent/ldmeshctl DNS=$build/agent/ldmesh-dns
LAT=$build/tests/bench_dns_latency

# N Services svc-I in namespace default, ClusterIPs from 10.96.0.1 up
services() { # COUNT DIR
	python3 - "$1" "$2" <<'PY'
import sys
n, d = int(sys.argv[1]), sys.argv[2]
def ip(i):
    i += 1
    return "10.%d.%d.%d" % (96 + (i >> 16), (i >> 8) & 255, i & 255)
with open(d + "/svc.yaml", "w") as f:
    for i in range(n):
        f.write("---\napiVersion: v1\nkind: Service\nmetadata: {name: svc-%d, namespace: default}\n"
                "spec: {clusterIP: %s, ports: [{name: http, port: 80}]}\n" % (i, ip(i)))
with open(d + "/names.txt", "w") as f:
    for i in range(n):
        f.write("svc-%d.default.svc.cluster.local A\n" % i)
with open(d + "/hosts", "w") as f:
    for i in range(n):
        f.write("%s svc-%d.default.svc.cluster.local\n" % (ip(i), i))
with open(d + "/unbound-local.conf", "w") as f:
    f.write('local-zone: "cluster.local." static\n')
    for i in range(n):
        f.write('local-data: "svc-%d.default.svc.cluster.local. 5 IN A %s"\n' % (i, ip(i)))
with open(d + "/ptr.txt", "w") as f:
    for i in range(0, n, max(1, n // 1000)):
        a = ip(i).split(".")
        f.write("%s.%s.%s.%s.in-addr.arpa PTR\n" % (a[3], a[2], a[1], a[0]))
PY
}
agent() { # DIR: publish DIR/m into DIR/table, wait for it
	mkdir -p "$1/m"
	mv "$1/svc.yaml" "$1/m/"
	"$AGENT" -m "$1/m" -t "$1/table" --service-cidr 10.96.0.0/12 >"$1/agent.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 600); do
		"$CTL" -t "$1/table" status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "agent did not publish: $(tail -3 "$1/agent.log")" >&2
	exit 1
}
wait_port() { # PORT
	for _ in $(seq 300); do
		dig @127.0.0.1 -p "$1" +time=1 +tries=1 svc-0.default.svc.cluster.local >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "nothing answers on port $1" >&2
	exit 1
}
qps() { # PORT DATAFILE [dnsperf args]: queries per second
	local port=$1 data=$2
	shift 2
	dnsperf -s 127.0.0.1 -p "$port" -d "$data" -l "$SECS" -c 8 -q 200 "$@" 2>&1 |
		awk '/Queries per second/ {print $4} /Queries lost/ {lost=$3} END {}'
}

d=$tmp/small
mkdir -p "$d"
services "$N" "$d"
agent "$d"

# forwarded names: an upstream both forwarders share
for i in $(seq 1000); do echo "h-$i.example.test A"; done >"$tmp/fwd.txt"
dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts --listen-address=127.0.0.2 \
	--bind-interfaces --port=5399 --local-ttl=3600 --address=/example.test/192.0.2.7 \
	>/dev/null 2>&1 &
pids+=($!)

"$DNS" --listen 127.0.0.1:5301 --upstream 127.0.0.2:5399 --table "$d/table" 2>"$tmp/dns.log" &
dns_pid=$!
pids+=($dns_pid)
cat >"$tmp/unbound.conf" <<EOF
server:
  interface: 127.0.0.1@5302
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$tmp"
  pidfile: ""
  use-syslog: no
  num-threads: 1
  do-ip6: no
  do-not-query-localhost: no
  include: "$d/unbound-local.conf"
forward-zone:
  name: "example.test."
  forward-addr: 127.0.0.2@5399
EOF
unbound -c "$tmp/unbound.conf" >"$tmp/unbound.log" 2>&1 &
pids+=($!)
dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts --addn-hosts="$d/hosts" \
	--listen-address=127.0.0.1 --bind-interfaces --port=5303 --cache-size=10000 \
	>/dev/null 2>&1 &
pids+=($!)
for p in 5301 5302 5303; do wait_port $p; done

echo "machine: $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(uname -r)"
echo "services: $N; dnsperf $(dnsperf -h 2>&1 | sed -n 's/^Version //p'); $SECS s per run, -c 8 -q 200"
# warm all three (unbound and dnsmasq answer from memory already)
for p in 5301 5302 5303; do dnsperf -s 127.0.0.1 -p $p -d "$d/names.txt" -n 1 >/dev/null 2>&1; done
echo "cluster names, queries/s: ldmesh-dns $(qps 5301 "$d/names.txt")"
echo "cluster names, queries/s: unbound $(qps 5302 "$d/names.txt")"
echo "cluster names, queries/s: dnsmasq $(qps 5303 "$d/names.txt")"
echo "ldmesh-dns at 20000 qps: $("$LAT" 127.0.0.1 5301 "$d/names.txt" 20000 "$SECS")"
# the same client against unbound: what the machine's scheduling adds
echo "unbound at 20000 qps: $("$LAT" 127.0.0.1 5302 "$d/names.txt" 20000 "$SECS")"
echo "dnsmasq at 20000 qps: $("$LAT" 127.0.0.1 5303 "$d/names.txt" 20000 "$SECS")"

# the table switching under the same load: a Service added every second
(
	for i in $(seq "$SECS"); do
		printf -- '---\napiVersion: v1\nkind: Service\nmetadata: {name: extra-%d, namespace: default}\nspec: {clusterIP: 10.100.0.%d, ports: [{port: 80}]}\n' "$i" "$i" >"$d/m/extra-$i.yaml"
		sleep 1
	done
) &
g0=$("$CTL" -t "$d/table" -o json status | sed -n 's/.*"generation":\([0-9]*\).*/\1/p')
echo "ldmesh-dns at 20000 qps, table switching: $("$LAT" 127.0.0.1 5301 "$d/names.txt" 20000 "$SECS")"
wait $!
g1=$("$CTL" -t "$d/table" -o json status | sed -n 's/.*"generation":\([0-9]*\).*/\1/p')
echo "  generations published meanwhile: $((g1 - g0))"

# forwarded names from the cache: warmed, then measured
for p in 5301 5302; do dnsperf -s 127.0.0.1 -p $p -d "$tmp/fwd.txt" -n 1 >/dev/null 2>&1; done
echo "forwarded, cached, queries/s: ldmesh-dns $(qps 5301 "$tmp/fwd.txt")"
echo "forwarded, cached, queries/s: unbound $(qps 5302 "$tmp/fwd.txt")"
echo "ldmesh-dns RSS at $N services: $(grep VmRSS /proc/$dns_pid/status | awk '{print $2}') kB"

# 100,000 Services: RSS once every name was asked, and PTR queries
b=$tmp/big
mkdir -p "$b"
services "$BIG" "$b"
agent "$b"
"$DNS" --listen 127.0.0.1:5304 --upstream 127.0.0.2:5399 --table "$b/table" 2>"$tmp/dns-big.log" &
big_pid=$!
pids+=($big_pid)
wait_port 5304
dnsperf -s 127.0.0.1 -p 5304 -d "$b/names.txt" -n 1 >/dev/null 2>&1
# PTR: the first query of a generation builds the index by address
first=$(sed -n 1p "$b/ptr.txt" | cut -d' ' -f1)
echo "first PTR query at $BIG services (builds the index): $(dig @127.0.0.1 -p 5304 "$first" PTR | sed -n 's/.*Query time: //p')"
echo "PTR queries/s at $BIG services (indexed): $(qps 5304 "$b/ptr.txt")"
# the scan ldmeshctl dig makes (no index): 20 of its PTR lookups less 20
# A lookups (the program's start and the table's mapping), per lookup
t0=$(date +%s%N)
for _ in $(seq 20); do "$CTL" -t "$b/table" dig svc-1.default.svc.cluster.local A >/dev/null; done
t1=$(date +%s%N)
for _ in $(seq 20); do "$CTL" -t "$b/table" dig "$first" PTR >/dev/null; done
t2=$(date +%s%N)
echo "PTR by a scan (ldmeshctl dig) at $BIG services: $(( (t2 - t1 - (t1 - t0)) / 20000 )) us a lookup"
echo "ldmesh-dns at $BIG services, every name and the PTRs asked: $(grep -E 'VmRSS|RssAnon|RssFile' /proc/$big_pid/status | awk '{printf "%s %s kB; ", $1, $2}')"
