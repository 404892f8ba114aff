#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench_sync.sh: ldmesh-sync's figures of issue 22 ("Performance"). Run by
# hand, as root, after building (results: tests/bench/results/sync.md):
#
#     cmake -S . -B build -DLDMESH_WERROR=ON && cmake --build build -j2
#     tests/bench/bench_sync.sh                 # N=10000 and N=100000
#     tests/bench/bench_sync.sh 10000           # one size
#     tests/bench/bench_sync.sh --smoke         # N=200, 5 events, seconds
#
# Environment knobs:
#     LDMESH_BUILD   build directory (default <repo>/build)
#     ENDPOINTS=3    endpoints per EndpointSlice (one slice per Service)
#     EVENTS=40      watch events timed (at the sizes in LAT_AT)
#     LAT_AT=10000   sizes at which the watch latency is measured
#     IDLE_S=30      steady-state window after the table is complete
#     MAX_S=900      give up on a first sync after this long
#     STALL_S=30     ... or when the marker is there and the table has not
#                    changed for this long (the agent stopped short)
#     SYNC_ONLY=1    no agent: ldmesh-sync alone, start -> marker (where
#                    its time goes without an agent beside it)
#     PERF=1         perf record (-g, 499 Hz) of ldmesh-sync and the agent
#                    during the first sync; the top of each profile is
#                    printed (needs perf)
#     BENCH_LOGS=DIR copy the agent's and ldmesh-sync's logs there
#     TMPFS=1        the folder and the table on a tmpfs mounted in the
#                    private mount namespace (default: the temp dir's file
#                    system: ext4 on the machine of results/sync.md)
#
# What it measures, for each size N, all on this machine:
#   1. The fake API server (tests/e2e/fakeapi.py, HTTPS, bearer token) holds
#      N Services and N EndpointSlices of ENDPOINTS endpoints each
#      (tests/bench/sync_objects.py), pages of 500. Its own share first: a
#      plain keep-alive client (Python http.client) reads every page of both
#      collections, one after the other, and is timed ("fake alone").
#   2. First complete table from an empty folder: ldmesh-agent
#      --require-sync runs on the empty folder (publishing an incomplete
#      table); ldmesh-sync starts at t0. Reported: the marker
#      (.ldmesh-synced) appearing, the table flagged "complete": true
#      (`ldmeshctl -o json status`), and the table holding all N services
#      and N*ENDPOINTS endpoints (the figure the target is about), polled
#      every 50 ms. Peak RSS of each is VmHWM from /proc/PID/status, CPU
#      their utime+stime from /proc/PID/stat, taken from t0 to that point.
#   3. Steady state: then IDLE_S seconds idle; each program's VmRSS (and
#      its anonymous part) at the end and its CPU over the window (the
#      fake keeps every watch open and sends a bookmark a second; the
#      marker is rewritten every 10 s).
#   4. At the sizes in LAT_AT, the watch latency: a running process under
#      LD_PRELOAD=libldmesh.so (tests/bench/sync_client.c) polls
#      getaddrinfo("lat-K") every 100 us; the fake is told to add an
#      EndpointSlice and then the Service lat-K, and logs (fakeapi.py
#      --event-log) when it began writing the Service's ADDED event into
#      the watch stream. The latency is the client's first success minus that,
#      both CLOCK_REALTIME on this one machine: median, p90 and max over
#      EVENTS events, one at a time, 0-100 ms apart.
#
# Network safety: through tests/e2e/lib.sh the script re-executes itself in
# a private network, pid and mount namespace (its own /proc) where lo is
# the only interface,
# and skips (exit 77) when it cannot make one; the fake listens on
# 127.0.0.1 there; the ClusterIPs in the table are never routed. Every
# wait is bounded (MAX_S, STALL_S, and e2e_wait's deadline).
set -euo pipefail

if [ "${1:-}" = --smoke ]; then
	export BENCH_SYNC_SMOKE=1 # kept across e2e_netns's re-execution
	shift
fi
SMOKE=${BENCH_SYNC_SMOKE:-0}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export LDMESH_SRC=${LDMESH_SRC:-$(cd "$BENCH_DIR/../.." && pwd)}
# waits on the fake's loading of 200,000 objects take longer than a test's
export LDMESH_E2E_WAIT_S=${LDMESH_E2E_WAIT_S:-900}
. "$LDMESH_SRC/tests/e2e/lib.sh"
. "$LDMESH_SRC/tests/e2e/synclib.sh"
e2e_mountns "$@"
e2e_netns "$@"
# the pid namespace's own /proc (in the private mount namespace), so the
# /proc/PID figures below are of our processes
mount -t proc proc /proc || e2e_skip "cannot mount a /proc for the pid namespace"
e2e_setup
sync_pki

if [ "$SMOKE" = 1 ]; then
	SIZES=(200) EVENTS=${EVENTS:-5} LAT_AT=${LAT_AT:-200} IDLE_S=${IDLE_S:-2}
else
	SIZES=("${@:-10000}")
	[ $# -gt 0 ] || SIZES=(10000 100000)
fi
ENDPOINTS=${ENDPOINTS:-3}
EVENTS=${EVENTS:-40}
LAT_AT=${LAT_AT:-10000}
IDLE_S=${IDLE_S:-30}
MAX_S=${MAX_S:-900}
STALL_S=${STALL_S:-30}
TICK=$(getconf CLK_TCK)

FS=$E2E_TMP
if [ "${TMPFS:-0}" = 1 ]; then
	FS=$E2E_TMP/fs
	mkdir -p "$FS"
	mount -t tmpfs -o size=4g,mode=0755 tmpfs "$FS" || e2e_skip "cannot mount a tmpfs"
	trap 'umount -l "$FS"; e2e_cleanup' EXIT # before e2e_cleanup's rm -rf
fi
command -v cc >/dev/null || e2e_skip "no C compiler for sync_client.c"
CLIENT=$E2E_TMP/sync_client
cc -O2 -Wall -Wextra -Werror -o "$CLIENT" "$BENCH_DIR/sync_client.c" || e2e_die "cannot compile sync_client.c"

# ---- helpers -------------------------------------------------------------
now_ns() { date +%s%N; }
ms_since() { echo $((($(now_ns) - $1) / 1000000)); }
# user and system CPU seconds: "u s"
cpu_us() { awk -v t="$TICK" '{ printf "%.2f user + %.2f sys", $14 / t, $15 / t }' "/proc/$1/stat"; }
# Where a process's time went since its start, in s: "on a CPU X, waiting
# for one Y" (/proc/PID/task/*/schedstat, summed over its threads); the
# rest of its life it was blocked (on the fake, the disk, a timer).
sched_s() { cat /proc/"$1"/task/*/schedstat | awk '{ c += $1; w += $2 } END { printf "on a CPU %.2f s, waiting for one %.2f s", c / 1e9, w / 1e9 }'; }
cpu_s() { [ -e "/proc/$1/stat" ] || e2e_die "process $1 is gone: $(tail -n 5 "$E2E_TMP/agent.log" "$E2E_TMP/sync.log" 2>&1)"; awk -v t="$TICK" '{ printf "%.2f\n", ($14 + $15) / t }' "/proc/$1/stat"; }
kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
secs() { awk -v m="$1" 'BEGIN { printf "%.2f", m / 1000 }'; }
status_json() { "$CTL" -t "$TABLE" -o json status 2>/dev/null || true; }
field() { sed -n "s/.*\"$1\":\([a-z0-9]*\).*/\1/p" <<<"$2"; }
say() { printf '%s\n' "$*" | tee -a "$E2E_TMP/results"; }

stop() { # pid...: SIGTERM, then SIGKILL after 5 s (bounded)
	local pid
	for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
	for pid in "$@"; do
		e2e_wait -t 5 e2e_gone "$pid" || kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

# Every page of one collection, as a plain client reads it (keep-alive,
# pages of 500): prints the item count.
read_all() {
	"$PY" - "$FAKE_PORT" "$PKI/ca.crt" "$(cat "$SA/token")" "$1" <<-'PY'
	import http.client, json, re, ssl, sys, urllib.parse
	port, ca, token, path = sys.argv[1:5]
	ctx = ssl.create_default_context(cafile=ca)
	c = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx)
	cont, n = None, 0
	for _ in range(100000):
	    q = "limit=500" + ("&continue=" + urllib.parse.quote(cont) if cont else "")
	    c.request("GET", path + "?" + q, headers={"Authorization": "Bearer " + token})
	    body = c.getresponse().read()
	    n += body.count(b'"resourceVersion"') - 1  # one per item, one for the list
	    m = re.search(rb'"continue": "([^"]+)"', body[:2000])
	    if not m:
	        break
	    cont = m.group(1).decode()
	print(n)
	PY
}

# ---- one size ------------------------------------------------------------
run_size() {
	local n=$1 t0 objs s_list e_list t_fake fake_cpu0 done_ms="" flag_ms="" marker_ms=""
	local st gen svcs eps complete last="" last_ms idle0 sync_cpu0 agent_cpu0
	objs=$E2E_TMP/objects.$n.json
	MANIFESTS=$FS/manifests.$n TABLE=$FS/table.$n
	mkdir -p "$MANIFESTS"
	e2e_log "N=$n: generating $n Services and $n EndpointSlices"
	"$PY" "$BENCH_DIR/sync_objects.py" "$n" "$ENDPOINTS" "$objs"
	t0=$(now_ns)
	sync_fake --objects "$objs" --event-log "$E2E_TMP/events.$n"
	e2e_log "N=$n: the fake loaded them in $(secs "$(ms_since "$t0")") s"
	rm -f "$objs"

	t0=$(now_ns)
	s_list=$(read_all /api/v1/services)
	e_list=$(read_all /apis/discovery.k8s.io/v1/endpointslices)
	t_fake=$(ms_since "$t0")
	if [ "$s_list" != "$n" ] || [ "$e_list" != "$n" ]; then
		e2e_die "the fake listed $s_list services and $e_list slices, not $n"
	fi

	local agent="" perfs=() profiled=()
	if [ "${SYNC_ONLY:-0}" != 1 ]; then
		e2e_agent --require-sync
		agent=$E2E_AGENT_PID
		agent_cpu0=$(cpu_s "$agent")
	fi
	fake_cpu0=$(cpu_s "$FAKE_PID")
	t0=$(now_ns)
	sync_start --lost-after 60
	local sync=$SYNC_PID p
	if [ "${PERF:-0}" = 1 ]; then
		for p in "$sync" $agent; do
			perf record -q -e cpu-clock -F 499 -g -p "$p" -o "$E2E_TMP/perf.$p" >/dev/null 2>&1 &
			perfs+=($!) profiled+=("$p")
			e2e_track $!
		done
	fi
	last_ms=0
	while :; do
		local ms
		ms=$(ms_since "$t0")
		[ -n "$marker_ms" ] || [ ! -e "$MANIFESTS/.ldmesh-synced" ] || marker_ms=$ms
		if [ -z "$agent" ]; then
			[ -z "$marker_ms" ] || break
			[ "$ms" -lt $((MAX_S * 1000)) ] || { e2e_log "N=$n: no marker in $MAX_S s"; break; }
			sleep 0.05
			continue
		fi
		st=$(status_json)
		complete=$(field complete "$st") svcs=$(field services "$st")
		eps=$(field endpoints "$st") gen=$(field generation "$st")
		[ -n "$flag_ms" ] || [ "$complete" != true ] || flag_ms=$ms
		if [ "$complete" = true ] && [ "$svcs" = "$n" ] && [ "$eps" = $((n * ENDPOINTS)) ]; then
			done_ms=$ms
			break
		fi
		if [ "$svcs/$eps/$gen" != "$last" ]; then last="$svcs/$eps/$gen" last_ms=$ms; fi
		if [ -n "$marker_ms" ] && [ $((ms - last_ms)) -gt $((STALL_S * 1000)) ]; then
			e2e_log "N=$n: marker there and the table unchanged for $STALL_S s: giving up"
			break
		fi
		[ "$ms" -lt $((MAX_S * 1000)) ] || { e2e_log "N=$n: not complete in $MAX_S s"; break; }
		kill -0 "$sync" 2>/dev/null || e2e_die "ldmesh-sync died: $(tail -5 "$E2E_TMP/sync.log")"
		kill -0 "$agent" 2>/dev/null || e2e_die "ldmesh-agent died: $(tail -5 "$E2E_TMP/agent.log")"
		sleep 0.05
	done

	for p in "${perfs[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	for p in "${perfs[@]}"; do e2e_wait e2e_gone "$p" || true; done
	say ""
	say "### N = $n Services + $n EndpointSlices ($ENDPOINTS endpoints each)$([ -n "$agent" ] || echo ', ldmesh-sync alone (no agent)')"
	say ""
	say "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); folder and table on $(stat -f -c %T "$FS")."
	say ""
	say "| figure | value |"
	say "|---|---|"
	say "| fake alone: a plain client reads every page (both collections, sequential) | $(secs "$t_fake") s |"
	say "| ldmesh-sync start -> marker written | $([ -n "$marker_ms" ] && echo "$(secs "$marker_ms") s" || echo never) |"
	if [ -z "$agent" ]; then
		: # no agent, no table
	elif [ -n "$done_ms" ]; then
		say "| ldmesh-sync start -> table flagged complete | $(secs "$flag_ms") s |"
		say "| **ldmesh-sync start -> complete table with all $n services, $((n * ENDPOINTS)) endpoints** | **$(secs "$done_ms") s** |"
	else
		say "| ldmesh-sync start -> table flagged complete | $([ -n "$flag_ms" ] && echo "$(secs "$flag_ms") s" || echo never) |"
		say "| **ldmesh-sync start -> complete table with all $n services** | **never: the table holds $svcs services, $eps endpoints, complete=$complete** |"
	fi
	say "| ldmesh-sync peak RSS (VmHWM) / CPU to that point | $(mb "$(kb "$sync" VmHWM)") MB / $(sub "$(cpu_s "$sync")" 0) s ($(cpu_us "$sync")) |"
	say "| ldmesh-sync's time from its start (schedstat; the rest blocked on the fake or the disk) | $(sched_s "$sync"), of $(secs "$(ms_since "$t0")") s |"
	[ -z "$agent" ] ||
		say "| ldmesh-agent peak RSS (VmHWM) / CPU to that point | $(mb "$(kb "$agent" VmHWM)") MB / $(sub "$(cpu_s "$agent")" "$agent_cpu0") s ($(cpu_us "$agent")) |"
	say "| fakeapi.py CPU over the same time | $(sub "$(cpu_s "$FAKE_PID")" "$fake_cpu0") s |"
	say "| files in the folder | $(find "$MANIFESTS" -type f -name '*.json' | wc -l) |"

	for p in "${profiled[@]}"; do
		say ""
		say "perf record -g of $(tr '\0' ' ' <"/proc/$p/cmdline" | cut -c1-60)..., self time by symbol (top 25):"
		say ""
		say '```'
		perf report -i "$E2E_TMP/perf.$p" --stdio --no-children -g none --sort dso,sym 2>/dev/null |
			grep -E '^ +[0-9]' | head -n 25 | tee -a "$E2E_TMP/results" || true
		say '```'
	done
	if [ -n "${BENCH_LOGS:-}" ]; then
		mkdir -p "$BENCH_LOGS"
		cp "$E2E_TMP/sync.log" "$BENCH_LOGS/sync.$n.log"
		[ -z "$agent" ] || cp "$E2E_TMP/agent.log" "$BENCH_LOGS/agent.$n.log"
	fi
	if [ -z "$agent" ]; then
		stop "$sync" "$FAKE_PID"
		rm -rf "$MANIFESTS"
		return 0
	fi

	# ---- steady state ----
	sync_cpu0=$(cpu_s "$sync") agent_cpu0=$(cpu_s "$agent") fake_cpu0=$(cpu_s "$FAKE_PID")
	idle0=$(now_ns)
	sleep "$IDLE_S"
	local idle_s
	idle_s=$(secs "$(ms_since "$idle0")")
	say "| steady state after ${IDLE_S} s idle: ldmesh-sync RSS (anon) / CPU over the window | $(mb "$(kb "$sync" VmRSS)") MB ($(mb "$(kb "$sync" RssAnon)")) / $(sub "$(cpu_s "$sync")" "$sync_cpu0") s in $idle_s s |"
	say "| steady state after ${IDLE_S} s idle: ldmesh-agent RSS (anon) / CPU over the window | $(mb "$(kb "$agent" VmRSS)") MB ($(mb "$(kb "$agent" RssAnon)")) / $(sub "$(cpu_s "$agent")" "$agent_cpu0") s in $idle_s s |"
	say "| table size on disk (ldmeshctl status bytes) | $(field bytes "$(status_json)") bytes |"

	if [[ " $LAT_AT " == *" $n "* ]] && [ -n "$done_ms" ]; then
		latency "$n"
	fi
	stop "$sync" "$agent" "$FAKE_PID"
	chattr -R -i "$TABLE" 2>/dev/null || true
	rm -rf "$MANIFESTS" "$TABLE" "$TABLE-state"
}

# ---- watch event -> a running process ------------------------------------
lat_svc() { printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"lat-%06d","namespace":"default"},"spec":{"clusterIP":"10.100.%d.%d","ports":[{"name":"http","port":80,"targetPort":8080}]}}' "$1" $(($1 / 200)) $(($1 % 200 + 10)); }
lat_slice() { printf '{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"lat-%06d-x","namespace":"default","labels":{"kubernetes.io/service-name":"lat-%06d"}},"addressType":"IPv4","ports":[{"name":"http","port":8080,"protocol":"TCP"}],"endpoints":[{"addresses":["10.200.%d.%d"],"conditions":{"ready":true}}]}' "$1" "$1" $(($1 / 200)) $(($1 % 200 + 10)); }
polling() { grep -qx "$1 polling" "$2"; }
seen() { grep -qE "^$1 [0-9]+ " "$2"; }

latency() {
	local n=$1 out ev k client
	out=$E2E_TMP/seen.$n ev=$E2E_TMP/events.$n
	: >"$out"
	pl "$CLIENT" lat- 0 "$EVENTS" "$out" 2>>"$E2E_TMP/client.err" &
	client=$!
	e2e_track "$client"
	for ((k = 0; k < EVENTS; k++)); do
		e2e_wait polling "$k" "$out" || e2e_die "the client is not polling lat-$k: $(cat "$E2E_TMP/client.err")"
		sleep "0.0$((RANDOM % 10))" # 0-90 ms apart: no lock-step with any timer
		fake put "{\"resource\":\"endpointslices\",\"object\":$(lat_slice "$k")}"
		fake put "{\"resource\":\"services\",\"object\":$(lat_svc "$k")}"
		e2e_wait seen "$k" "$out" || e2e_die "lat-$k never seen: $(cat "$E2E_TMP/client.err")"
	done
	stop "$client"
	# "<k> <seen ns>" joined with the Service's event time -> ms
	awk 'NR == FNR { if ($2 == "services" && $3 == "ADDED") { split($4, a, "/"); t[a[2]] = $1 }; next }
	     $2 != "polling" { name = sprintf("lat-%06d", $1); if (name in t) printf "%.3f\n", ($2 - t[name]) / 1e6 }' \
		"$ev" "$out" | sort -n >"$E2E_TMP/lat.$n"
	local cnt
	cnt=$(wc -l <"$E2E_TMP/lat.$n")
	[ "$cnt" -eq "$EVENTS" ] || e2e_die "$cnt latencies for $EVENTS events"
	say "| watch event written by the fake -> getaddrinfo in a running process sees it, $cnt events: median / p90 / max | $(awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; p = v[int(NR * 0.9 + 0.999)]; printf "%.1f / %.1f / %.1f ms", m, p, v[NR] }' "$E2E_TMP/lat.$n") |"
	say "| (every latency, ms, sorted) | $(tr '\n' ' ' <"$E2E_TMP/lat.$n") |"
}

: >"$E2E_TMP/results"
e2e_log "bench_sync: sizes ${SIZES[*]}, $ENDPOINTS endpoints a slice, $(nproc) CPUs, $(uname -r)"
for n in "${SIZES[@]}"; do run_size "$n"; done
e2e_log "done"
