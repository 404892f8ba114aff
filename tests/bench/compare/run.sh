#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# ldmesh side by side with kube-proxy's iptables and nftables data paths and
# a real DNS server (issue 5).
#
#   sudo tests/bench/compare/run.sh [--smoke] [--out DIR]
#
# Needs root. Everything runs inside private network namespaces this script
# creates (one mount namespace, three network namespaces: "mesh" for the
# direct path, ldmesh and DNS; "nft" and "ipt" for kube-proxy's rules): pod
# IPs are /32s on their lo, ClusterIPs are reached only through DNAT rules
# (nft/ipt) or the preload (mesh, where 10.96.0.0/12 has no route at all).
# /etc/hosts and /etc/resolv.conf are bind-mounted over in the private mount
# namespace only. No packet leaves those namespaces.
#
# Measures at N = 1, 1000, 5000, 10000, 20000 services (--smoke: 1, 1000,
# a few seconds):
#   1. connect+close p50/p99 and short-connection requests/s: direct to the
#      pod IP, ldmesh (LD_PRELOAD, no rules), kube-proxy's iptables nat
#      layout (iptables-restore), kube-proxy's nftables layout (nft -f);
#   2. programming latency: one endpoint added to one service -> the first
#      connect that reaches it (full iptables-restore; incremental nft
#      transaction; manifest rename -> inotify -> publish -> connect);
#   3. bulk throughput over one long connection through each path;
#   4. getaddrinfo of a service name: ldmesh, /etc/hosts with N entries,
#      dnsmasq on 127.0.0.1; and the DNS queries a Kubernetes-style
#      resolv.conf (ndots:5) sends for an external name, with and without
#      ldmesh;
#   5. footprint at 10,000 services: snapshot bytes, added RSS/PSS.
# Output in --out DIR (default $LDMESH_BUILD/bench-compare, i.e.
# build/bench-compare): results.md (also printed), results.csv (aggregated),
# raw.csv (every run), machine.txt, *.png (gnuplot).
#
# Exit: 0 done; 77 cannot run here (not root, no namespaces, missing
# packages: the apt-get line is printed); 1 a failure.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF=$HERE/$(basename "${BASH_SOURCE[0]}")

# ----------------------------------------------------------------------------
# inside: helpers shared by the namespace part
# ----------------------------------------------------------------------------

log() { printf '# %s\n' "$*" >&2; }
die() { printf 'bench-compare: %s\n' "$*" >&2; exit 1; }
skip() { printf 'SKIP: %s\n' "$*"; exit 77; }

if [ "${1:-}" = --inner ]; then
	# The environment carries BC_* from the outer part.
	OUT=$BC_OUT BIN=$BC_BIN T=$BC_TMP
	GEN="python3 $HERE/gen.py"
	AGENT=$BIN/ldmesh-agent CTL=$BIN/ldmeshctl LIB=$BIN/libldmesh.so
	CLIENT=$BIN/client SERVER=$BIN/server
	SCPU=0 CCPU=$BC_CLIENT_CPU
	read -r -a NS_LIST <<<"$BC_NS"
	NMAX=${NS_LIST[${#NS_LIST[@]}-1]}
	FOOT_N=$BC_FOOT_N
	PIDS=()

	declare -A NSPID NSID
	cleanup() {
		local p n
		set +e
		# safety net: whatever still runs inside one of our namespaces
		for n in "${!NSID[@]}"; do
			for p in /proc/[0-9]*; do
				[ "$(readlink "$p/ns/net" 2>/dev/null)" = "${NSID[$n]}" ] && PIDS+=("${p#/proc/}")
			done
		done
		for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
		for p in "${PIDS[@]}"; do
			for _ in $(seq 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
			kill -9 "$p" 2>/dev/null
			wait "$p" 2>/dev/null
		done
	}
	trap cleanup EXIT
	trap 'exit 130' INT TERM

	track() { PIDS+=("$1"); }
	# wait_for CMD...: until CMD succeeds (0), or a minute has passed (1):
	# as soon as the state holds on a quiet machine, and long enough for a
	# busy one (the smoke run is a CI test, tests/e2e/test_bench_smoke.sh)
	wait_for() {
		local end=$((SECONDS + 60))
		while [ "$SECONDS" -lt "$end" ]; do
			"$@" && return 0
			sleep 0.02
		done
		"$@"
	}
	untrack_kill() { # stop one tracked process now
		local p=$1
		kill "$p" 2>/dev/null || true
		for _ in $(seq 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	}

	rec() { # test path n rep metric value unit
		printf '%s,%s,%s,%s,%s,%s,%s\n' "$@" >>"$OUT/raw.csv"
	}

	# --- the private mount namespace: our own hosts and resolv.conf -----
	mount --make-rprivate / 2>/dev/null || true
	ETC_HOSTS=$T/etc-hosts ETC_RESOLV=$T/etc-resolv.conf
	printf '127.0.0.1\tlocalhost\n' >"$ETC_HOSTS"
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$ETC_RESOLV"
	mount --bind "$ETC_HOSTS" /etc/hosts || die "cannot bind-mount /etc/hosts"
	mount --bind "$ETC_RESOLV" /etc/resolv.conf || die "cannot bind-mount /etc/resolv.conf"
	# rewrite in place (same inode) so the bind mounts keep showing them
	set_hosts() { cat "$1" >"$ETC_HOSTS"; }
	set_resolv() { printf '%b' "$1" >"$ETC_RESOLV"; }

	# --- network namespaces --------------------------------------------
	mk_ns() { # name: a holder process owns a fresh network namespace
		unshare --net -- sleep 100000 </dev/null >/dev/null 2>&1 &
		NSPID[$1]=$!
		track $!
		own_ns() { NSID[$1]=$(readlink "/proc/${NSPID[$1]}/ns/net") &&
			[ "${NSID[$1]}" != "$(readlink /proc/self/ns/net)" ]; }
		wait_for own_ns "$1" || die "could not make network namespace $1"
	}
	# run in a namespace; in the background use `bg_ns`, whose $! is the
	# program itself (nsenter and taskset exec), so it can be killed
	in_ns() { local n=$1; shift; nsenter -t "${NSPID[$n]}" -n -- "$@"; }

	setup_ns() { # name [route]: only lo, pod IPs, sysctls, the pods' server
		local n=$1 ifs
		ifs=$(in_ns "$n" ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' ')
		[ "$ifs" = "lo " ] || die "refusing to run: namespace $n shows interfaces other than lo ($ifs)"
		in_ns "$n" ip link set lo up
		for a in 10.244.0.1 10.244.0.2 10.244.0.3 10.240.0.1; do
			in_ns "$n" ip addr add "$a/32" dev lo
		done
		# many short connections: no TIME_WAIT pile-up, a deep accept queue
		in_ns "$n" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" \
			net.ipv4.tcp_max_tw_buckets=0 net.core.somaxconn=65535
		if [ "${2:-}" = route ]; then
			# kube-proxy nodes route ClusterIPs somewhere (the default
			# route); here: lo, so nothing but DNAT ever answers them
			in_ns "$n" ip route add 10.96.0.0/12 dev lo src 10.240.0.1
		elif in_ns "$n" ip route get 10.96.0.10 >/dev/null 2>&1; then
			die "refusing to run: 10.96.0.0/12 is routable in namespace $n"
		fi
		rm -f "$T/ready.$n"
		nsenter -t "${NSPID[$n]}" -n -- taskset -c $SCPU "$SERVER" "$T/ready.$n" \
			</dev/null >>"$T/server.log" 2>&1 &
		track $!
		wait_for test -e "$T/ready.$n" || die "pod server did not start in namespace $n"
	}
	ct_short() { # conntrack: short TIME_WAIT/CLOSE so the table never fills
		in_ns "$1" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_time_wait=1 \
			net.netfilter.nf_conntrack_tcp_timeout_close=1 2>/dev/null || true
	}

	# the client, pinned, bounded; with the preload for ldmesh
	cl() { local n=$1; shift; in_ns "$n" timeout -k 2 120 taskset -c "$CCPU" "$CLIENT" "$@"; }
	cl_pl() { # n table ns -- args
		local n=$1 tb=$2 kns=$3; shift 3
		in_ns "$n" env LD_PRELOAD="$LIB" LDMESH_TABLE="$tb" LDMESH_NAMESPACE="$kns" \
			timeout -k 2 120 taskset -c "$CCPU" "$CLIENT" "$@"
	}

	mk_ns mesh; setup_ns mesh
	mk_ns nft; setup_ns nft route
	mk_ns ipt; setup_ns ipt route
	log "namespaces: mesh (direct, ldmesh, DNS), nft, ipt: only lo in each"

	# safety proof for the ldmesh path: without the preload, a ClusterIP is
	# unreachable in the mesh namespace
	if cl mesh lat 10.96.0.10 80 10 0 >/dev/null 2>&1; then
		die "a ClusterIP answered without the preload in the mesh namespace"
	fi

	if command -v iptables-legacy-restore >/dev/null; then
		IPT_RESTORE=iptables-legacy-restore IPT=iptables-legacy
	else
		IPT_RESTORE=iptables-restore IPT=iptables
	fi

	# --- agents: one per N, all tables ready before anything is timed ----
	declare -A TB INFO
	for n in "${NS_LIST[@]}"; do
		$GEN manifests "$n" "$T/m$n"
		TB[$n]=$T/table$n
		taskset -c $SCPU "$AGENT" -m "$T/m$n" -t "${TB[$n]}" </dev/null >>"$T/agent$n.log" 2>&1 &
		track $!
		INFO[$n]=$($GEN info "$n")
	done
	tb_status() { "$CTL" -t "$1" -o json status 2>/dev/null || true; }
	json_num() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
	published_n() { s=$(tb_status "${TB[$1]}"); [ "$(printf '%s' "$s" | json_num services)" = "$1" ]; }
	for n in "${NS_LIST[@]}"; do
		wait_for published_n "$n" || die "agent for N=$n published nothing: $(tail -3 "$T/agent$n.log")"
		rec footprint ldmesh "$n" 1 snapshot_bytes "$(printf '%s' "$s" | json_num bytes)" bytes
	done
	log "ldmesh tables published for N = ${NS_LIST[*]}"

	routes_without() { ! "$CTL" -t "$1" route "$2" 2>/dev/null | grep -q "$3:"; }
	wait_route_without() { # table vip:port ip: until the route no longer lists ip
		wait_for routes_without "$@" || die "ldmesh: $3 still routed for $2 after the revert"
	}

	# rounds alternate the order (ABCD DCBA ...) so that no path always
	# runs right after another one or at the same point of a drift
	order() { if [ $(($1 % 2)) = 1 ]; then echo direct ldmesh nftables iptables
		  else echo iptables nftables ldmesh direct; fi; }

	# --- 1 + 2: connect latency, requests/s, programming, per N ----------
	for n in "${NS_LIST[@]}"; do
		read -r sname sns vip fqdn <<<"${INFO[$n]}"
		tb=${TB[$n]}
		log "N=$n: loading kube-proxy rules (nft -f, $IPT_RESTORE)"
		$GEN nft "$n" >"$T/nft.full"
		$GEN nft-add "$n" >"$T/nft.add"
		$GEN nft-del "$n" >"$T/nft.del"
		$GEN ipt "$n" >"$T/ipt.full"
		$GEN ipt "$n" --extra >"$T/ipt.extra"
		t0=$(date +%s%N)
		in_ns nft taskset -c $SCPU nft -f "$T/nft.full" || die "nft -f failed at N=$n"
		rec load nftables "$n" 1 full_load_ms "$(( ($(date +%s%N) - t0) / 1000000 ))" ms
		in_ns ipt $IPT -t nat -F; in_ns ipt $IPT -t nat -X
		t0=$(date +%s%N)
		in_ns ipt taskset -c $SCPU $IPT_RESTORE --noflush "$T/ipt.full" || die "$IPT_RESTORE failed at N=$n"
		rec load iptables "$n" 1 full_load_ms "$(( ($(date +%s%N) - t0) / 1000000 ))" ms
		ct_short nft; ct_short ipt

		log "N=$n: connect+close latency and requests/s (${BC_REPS} interleaved rounds of ${BC_LAT_S} s)"
		for rep in $(seq "$BC_REPS"); do
			for path in $(order "$rep"); do
				case $path in
				direct) r=$(cl mesh lat 10.244.0.1 8080 "$BC_LAT_MAX" "$BC_LAT_S") ;;
				ldmesh) r=$(cl_pl mesh "$tb" "$sns" lat "$vip" 80 "$BC_LAT_MAX" "$BC_LAT_S") ;;
				nftables) r=$(cl nft lat "$vip" 80 "$BC_LAT_MAX" "$BC_LAT_S") ;;
				iptables) r=$(cl ipt lat "$vip" 80 "$BC_LAT_MAX" "$BC_LAT_S") ;;
				esac
				read -r p50 p99 mean cnt <<<"$r"
				rec connect "$path" "$n" "$rep" p50_us "$p50" us
				rec connect "$path" "$n" "$rep" p99_us "$p99" us
				rec connect "$path" "$n" "$rep" mean_us "$mean" us
				rec connect "$path" "$n" "$rep" samples "$cnt" count
			done
		done
		for rep in $(seq "$BC_RPS_REPS"); do
			for path in $(order "$rep"); do
				case $path in
				direct) r=$(cl mesh rps 10.244.0.1 8082 "$BC_RPS_S") ;;
				ldmesh) r=$(cl_pl mesh "$tb" "$sns" rps "$vip" 82 "$BC_RPS_S") ;;
				nftables) r=$(cl nft rps "$vip" 82 "$BC_RPS_S") ;;
				iptables) r=$(cl ipt rps "$vip" 82 "$BC_RPS_S") ;;
				esac
				rec rps "$path" "$n" "$rep" req_per_s "${r%% *}" req/s
			done
		done

		log "N=$n: programming latency (one endpoint added to $sns/$sname)"
		for rep in $(seq "$BC_PROG_REPS"); do
			# ldmesh: rename a prepared manifest into the watched folder
			$GEN measured "$n" "$T/prep.yaml" --extra
			r=$(cl_pl mesh "$tb" "$sns" prog "$vip" 81 10.244.0.3 10000 rename "$T/prep.yaml" "$T/m$n/measured.yaml") ||
				die "ldmesh never reached the new endpoint at N=$n"
			rec program ldmesh "$n" "$rep" ms "${r%% *}" ms
			$GEN measured "$n" "$T/prep.yaml"
			mv "$T/prep.yaml" "$T/m$n/measured.yaml"
			wait_route_without "$tb" "$vip:81" 10.244.0.3
			# nftables: kube-proxy's incremental transaction
			r=$(cl nft prog "$vip" 81 10.244.0.3 20000 exec nft -f "$T/nft.add") ||
				die "nftables never reached the new endpoint at N=$n"
			rec program nftables "$n" "$rep" ms "${r%% *}" ms
			in_ns nft taskset -c $SCPU nft -f "$T/nft.del"
			# iptables: kube-proxy's full sync, the whole nat table
			if [ "$rep" -le "$BC_IPT_PROG_REPS" ]; then
				r=$(cl ipt prog "$vip" 81 10.244.0.3 60000 exec $IPT_RESTORE --noflush "$T/ipt.extra") ||
					die "iptables never reached the new endpoint at N=$n"
				rec program iptables "$n" "$rep" ms "${r%% *}" ms
				in_ns ipt taskset -c $SCPU $IPT_RESTORE --noflush "$T/ipt.full"
			fi
		done

		# the agent's own share: "published generation G: ... in X ms"
		# for every generation after the first (changes and reverts)
		k=0
		for ms in $(sed -n 's/.*published generation \([0-9]*\):.* in \([0-9.]*\) ms.*/\1 \2/p' "$T/agent$n.log" |
			    awk '$1 > 1 { print $2 }'); do
			k=$((k + 1)); rec program agent_publish "$n" "$k" ms "$ms" ms
		done

		# --- 3: bulk, at the largest N ----------------------------------
		if [ "$n" = "$NMAX" ]; then
			log "N=$n: bulk throughput (${BC_BULK_REPS} interleaved rounds of ${BC_BULK_S} s)"
			for rep in $(seq "$BC_BULK_REPS"); do
				for path in $(order "$rep"); do
					case $path in
					direct) r=$(cl mesh bulk 10.244.0.1 9000 "$BC_BULK_S") ;;
					ldmesh) r=$(cl_pl mesh "$tb" "$sns" bulk "$vip" 90 "$BC_BULK_S") ;;
					nftables) r=$(cl nft bulk "$vip" 90 "$BC_BULK_S") ;;
					iptables) r=$(cl ipt bulk "$vip" 90 "$BC_BULK_S") ;;
					esac
					rec bulk "$path" "$n" "$rep" gbit_per_s "${r%% *}" Gbit/s
				done
			done
		fi
		in_ns nft nft delete table ip kube-proxy
		in_ns ipt $IPT -t nat -F; in_ns ipt $IPT -t nat -X
	done

	# --- 4 + 5: names, in the mesh namespace ------------------------------
	printf '192.0.2.10\texample.com\n' >"$T/external-hosts"   # TEST-NET-1, never dialled
	DNSMASQ_PID=
	start_dnsmasq() { # hostsfile name-it-holds
		: >"$T/dnsmasq.log"
		nsenter -t "${NSPID[mesh]}" -n -- taskset -c $SCPU dnsmasq --no-daemon --conf-file=/dev/null \
			--listen-address=127.0.0.1 --bind-interfaces --port=53 --no-resolv --no-hosts \
			--addn-hosts="$1" --addn-hosts="$T/external-hosts" --local=/cluster.local/ \
			--log-queries --log-facility="$T/dnsmasq.log" --pid-file="$T/dnsmasq.pid" \
			--user=root --group=root --cache-size=1000 </dev/null >>"$T/dnsmasq.err" 2>&1 &
		DNSMASQ_PID=$!
		track $DNSMASQ_PID
		dnsmasq_answers() { ! kill -0 "$DNSMASQ_PID" 2>/dev/null || cl mesh gai1 "$1" >/dev/null 2>&1; }
		wait_for dnsmasq_answers "$2" && kill -0 "$DNSMASQ_PID" 2>/dev/null ||
			die "dnsmasq did not answer: $(tail -3 "$T/dnsmasq.err" 2>/dev/null)"
	}
	queries() { grep -c 'query\[' "$T/dnsmasq.log" || true; }

	for n in "${NS_LIST[@]}"; do
		read -r sname sns vip fqdn <<<"${INFO[$n]}"
		tb=${TB[$n]}
		log "N=$n: getaddrinfo $fqdn (ldmesh, /etc/hosts with $n entries, dnsmasq)"
		$GEN hosts "$n" "$T/hosts$n"
		set_resolv 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n'
		start_dnsmasq "$T/hosts$n" "$fqdn"
		for rep in $(seq "$BC_REPS"); do
			for path in ldmesh hosts dnsmasq; do
				case $path in
				ldmesh) set_hosts "$T/hosts-localhost"
					r=$(cl_pl mesh "$tb" "$sns" gai "$fqdn" "$BC_GAI_MAX" "$BC_GAI_S") ;;
				hosts) set_hosts "$T/hosts$n"
					r=$(cl mesh gai "$fqdn" "$BC_GAI_MAX" "$BC_GAI_S") ;;
				dnsmasq) set_hosts "$T/hosts-localhost"
					r=$(cl mesh gai "$fqdn" "$BC_GAI_MAX" "$BC_GAI_S") ;;
				esac || die "getaddrinfo $fqdn failed for $path: $r"
				read -r p50 p99 mean cnt answer <<<"$r"
				[ "$answer" = "$vip" ] || die "getaddrinfo $fqdn via $path answered $answer, not $vip"
				rec resolve "$path" "$n" "$rep" p50_us "$p50" us
				rec resolve "$path" "$n" "$rep" p99_us "$p99" us
			done
		done
		set_hosts "$T/hosts-localhost"

		if [ "$n" = "$FOOT_N" ]; then
			log "N=$n: footprint (smaps_rollup after one lookup and one connect)"
			for rep in 1 2 3; do
				read -r rss pss _ <<<"$(cl mesh foot "$fqdn" "$vip" 80)"
				rec footprint plain "$n" "$rep" rss_kb "$rss" kB
				rec footprint plain "$n" "$rep" pss_kb "$pss" kB
				read -r rss pss _ <<<"$(cl_pl mesh "$tb" "$sns" foot "$fqdn" "$vip" 80)"
				rec footprint ldmesh "$n" "$rep" rss_kb "$rss" kB
				rec footprint ldmesh "$n" "$rep" pss_kb "$pss" kB
			done
		fi

		if [ "$n" = "$NMAX" ]; then
			log "N=$n: DNS queries with a Kubernetes resolv.conf (ndots:5, 3 search domains)"
			set_resolv "nameserver 127.0.0.1\nsearch $sns.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5 timeout:1 attempts:1\n"
			for what in external service; do
				case $what in
				external) name=example.com want=192.0.2.10 ;;
				service) name=$sname want=$vip ;;
				esac
				for path in plain ldmesh; do
					sleep 0.2; q0=$(queries)
					if [ $path = ldmesh ]; then
						r=$(cl_pl mesh "$tb" "$sns" gai1 "$name") || true
					else
						r=$(cl mesh gai1 "$name") || true
					fi
					sleep 0.3; q1=$(queries)
					[ "$r" = "$want" ] || die "$name via $path answered '$r', not $want"
					rec dnsq "$path" "$n" 1 "${what}_queries" "$((q1 - q0))" queries
				done
			done
			set_resolv 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n'
		fi
		untrack_kill "$DNSMASQ_PID"
	done
	exit 0
fi

# ----------------------------------------------------------------------------
# outside: arguments, checks, build, machine line, then the namespaces
# ----------------------------------------------------------------------------

SMOKE=0
OUT=
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) SMOKE=1 ;;
	--out) OUT=${2:?--out needs a directory}; shift ;;
	--out=*) OUT=${1#--out=} ;;
	-h|--help) sed -n '3,34p' "$SELF" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: $0 [--smoke] [--out DIR]" >&2; exit 2 ;;
	esac
	shift
done

LDMESH_SRC=${LDMESH_SRC:-$(cd "$HERE/../../.." && pwd)}
LDMESH_BUILD=${LDMESH_BUILD:-$LDMESH_SRC/build}
OUT=${OUT:-$LDMESH_BUILD/bench-compare}

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy LD_PRELOAD \
	LDMESH_TABLE LDMESH_TRACE LDMESH_TRACE_FILE LDMESH_DISABLE LDMESH_NAMESPACE \
	LDMESH_RESOLV_CONF LOCALDOMAIN RES_OPTIONS 2>/dev/null || true

[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, iptables, nft, bind mounts)"

# command -> Debian package
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need python3 python3
need cc gcc
need ip iproute2
need unshare util-linux
need nsenter util-linux
need taskset util-linux
need nft nftables
need dnsmasq dnsmasq-base
need gnuplot gnuplot-nox
command -v iptables-legacy-restore >/dev/null 2>&1 || command -v iptables-restore >/dev/null 2>&1 ||
	missing+=(iptables)
if [ ${#missing[@]} -gt 0 ]; then
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
	echo "bench-compare: missing packages; as root run:"
	echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
	exit 77
fi
for f in agent/ldmesh-agent agent/ldmeshctl preload/libldmesh.so; do
	[ -e "$LDMESH_BUILD/$f" ] || die "build first: $LDMESH_BUILD/$f is missing (cmake -S . -B build && cmake --build build)"
done
if ! err=$(unshare --net --mount true 2>&1); then
	skip "cannot create network + mount namespaces: ${err:-unshare failed}"
fi

if [ "$SMOKE" = 1 ]; then
	export BC_NS="1 1000" BC_FOOT_N=1000 BC_REPS=1 BC_LAT_S=0.1 BC_LAT_MAX=20000 \
		BC_RPS_REPS=1 BC_RPS_S=0.1 BC_PROG_REPS=1 BC_IPT_PROG_REPS=1 \
		BC_BULK_REPS=1 BC_BULK_S=0.2 BC_GAI_S=0.05 BC_GAI_MAX=2000
	# a backstop, not a budget: the smoke run takes ~15 s on a quiet
	# 2-core machine and several times that beside busy loops
	LIMIT=900
else
	export BC_NS="1 1000 5000 10000 20000" BC_FOOT_N=10000 BC_REPS=5 BC_LAT_S=0.3 \
		BC_LAT_MAX=100000 BC_RPS_REPS=3 BC_RPS_S=0.4 BC_PROG_REPS=5 BC_IPT_PROG_REPS=3 \
		BC_BULK_REPS=6 BC_BULK_S=1 BC_GAI_S=0.3 BC_GAI_MAX=50000
	LIMIT=900
	# another engineer's preload benchmark: do not time both at once
	for _ in $(seq 60); do
		pgrep -f bench_preload >/dev/null 2>&1 || break
		[ "${waited:-}" ] || { log "bench_preload is running; waiting (at most 120 s)"; waited=1; }
		sleep 2
	done
fi
NPROC=$(nproc)
export BC_CLIENT_CPU=$((NPROC > 1 ? 1 : 0))

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
BIN=$OUT/bin
mkdir -p "$BIN"
rm -f "$OUT"/raw.csv "$OUT"/results.md "$OUT"/results.csv "$OUT"/*.png "$OUT"/*.dat
cc -O2 -Wall -Wextra -Werror -o "$BIN/client" "$HERE/client.c" || die "cannot compile client.c"
cc -O2 -Wall -Wextra -Werror -pthread -o "$BIN/server" "$HERE/server.c" || die "cannot compile server.c"
# a private copy: a concurrent rebuild of build/ must not change what is timed
cp "$LDMESH_BUILD/agent/ldmesh-agent" "$LDMESH_BUILD/agent/ldmeshctl" \
	"$LDMESH_BUILD/preload/libldmesh.so" "$BIN/"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ldmesh-bench-compare.XXXXXX")
trap 'chattr -R -i "$TMP" 2>/dev/null; rm -rf "$TMP"' EXIT
printf '127.0.0.1\tlocalhost\n' >"$TMP/hosts-localhost"

# the machine, on one line
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
distro=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-?}")
glibc=$(ldd --version 2>/dev/null | awk 'NR == 1 { print $NF }')
if command -v iptables-legacy >/dev/null; then iptv="$(iptables-legacy --version)"; else iptv="$(iptables --version)"; fi
rev=$(git -C "$LDMESH_SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$LDMESH_SRC" diff --quiet HEAD 2>/dev/null || rev="$rev+dirty"
MACHINE="$(uname -sr) $(uname -m); $cpu x $NPROC CPUs (server on CPU 0, client on CPU $BC_CLIENT_CPU); $mem RAM; $distro; glibc $glibc; $iptv; $(nft --version); dnsmasq $(dnsmasq --version 2>/dev/null | awk 'NR == 1 { print $3 }'); $(gnuplot --version); ldmesh $rev; $([ "$SMOKE" = 1 ] && echo smoke || echo full) run $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "$MACHINE" >"$OUT/machine.txt"
echo "test,path,n,rep,metric,value,unit" >"$OUT/raw.csv"

log "machine: $MACHINE"
log "output: $OUT"
t0=$(date +%s)
export BC_OUT=$OUT BC_BIN=$BIN BC_TMP=$TMP BC_SMOKE=$SMOKE
rc=0
timeout -k 10 "$LIMIT" unshare --net --mount -- bash "$SELF" --inner || rc=$?
[ "$rc" -eq 0 ] || die "the measurements failed (exit $rc)$([ "$rc" -eq 124 ] && echo ": over the ${LIMIT} s limit")"
log "measured in $(( $(date +%s) - t0 )) s"

python3 "$HERE/report.py" --out "$OUT" --machine "$MACHINE" --smoke "$SMOKE" || die "report failed"
(cd "$OUT" && gnuplot "$HERE/plot.gp") || die "gnuplot failed"
cat "$OUT/results.md"
echo
echo "files: $OUT/{results.md,results.csv,raw.csv,machine.txt,$(cd "$OUT" && ls -- *.png | tr '\n' ',' | sed 's/,$//')}"
