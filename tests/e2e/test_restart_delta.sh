#!/usr/bin/env bash
# A restarted agent publishes a delta over the base readers have (issue 26):
# its cache's shadows are rebuilt from the base on disk (snap_restore.c), so
# a restart with a changed folder writes only what changed, and a process
# that had the base mapped keeps it and maps the small delta. With 100 other
# Services in the table:
#  1. restart with one file changed (web's endpoint), one Service removed
#     and one added: the first publish is a delta over the base, which
#     `ldmeshctl status` shows; the long-lived client follows it; the table
#     lists what a fresh agent on the same folder lists;
#  2. restart again (the current snapshot now a delta): a delta over the
#     same base;
#  3. restart with no change: it still publishes (an empty delta);
#     then with a TCPRoute added to a Service unchanged since the base: a
#     delta that carries the split (part of what a reader sees of its parent);
#  4. a base made for another node (--node): a base, and why;
#  5. a damaged base (its header overwritten): a base, and the table right.
# Before: every restart published a new base.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

C="$PY $E2E_DIR/pyclient.py"
OTHERS=100

kind_of() { # the agent's word on generation $1: "base" or "delta over N"
	sed -n "s/.*published generation $1 (\([^)]*\)).*/\1/p" "$E2E_TMP/agent.log" | tail -n1
}
put_others() { # $1: the port of other-0 (the others keep 80)
	local i
	for i in $(seq 0 $((OTHERS - 1))); do
		printf -- '---\napiVersion: v1\nkind: Service\nmetadata: {name: other-%d, namespace: bulk}\n' "$i"
		printf 'spec:\n  clusterIP: 10.97.%d.%d\n  ports: [{port: %d}]\n' $((i / 250)) \
			$((i % 250 + 1)) "$([ "$i" = 0 ] && echo "$1" || echo 80)"
	done | e2e_put others.yaml
}
put_svc() { # name clusterIP
	printf 'apiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: default}\nspec:\n  clusterIP: %s\n  ports: [{port: 80}]\n' \
		"$1" "$2" | e2e_put "$1.yaml"
}
stop_agent() {
	G_STOP=$(e2e_gen)
	kill "$E2E_AGENT_PID"
	e2e_wait e2e_gone "$E2E_AGENT_PID" || e2e_die "the agent did not exit on SIGTERM"
}
start_agent() { # agent arguments; sets G to the generation it publishes first
	"$AGENT" -v -m "$MANIFESTS" -t "$TABLE" "$@" >>"$E2E_TMP/agent.log" 2>&1 &
	E2E_AGENT_PID=$!
	e2e_track "$E2E_AGENT_PID"
	G=$(e2e_wait_gen_after "$G_STOP") || G=0
}
same_as_fresh() { # agent arguments: what a fresh agent on this folder publishes
	local fresh=$E2E_TMP/fresh.$RANDOM
	"$AGENT" -m "$MANIFESTS" -t "$fresh" --state none --once "$@" >/dev/null 2>&1
	"$CTL" -t "$fresh" services >"$fresh.want"
	"$CTL" -t "$TABLE" services >"$fresh.got"
	diff "$fresh.want" "$fresh.got" >"$fresh.diff" && return 0
	sed 's/^/# /' "$fresh.diff" | head -20
	return 1
}

e2e_add_ip 10.244.1.5 10.244.2.5
e2e_pod 10.244.1.5 9100 banner
e2e_pod 10.244.2.5 9100 banner
put_others 80
put_svc gone 10.96.0.91
e2e_put_web 10.244.1.5
e2e_agent -v
BASE=$(e2e_gen)
check_eq "generation $BASE is a base" base "$(kind_of "$BASE")"
e2e_rounds web 9000 5
R=$E2E_ROUNDS
e2e_round 1
check_eq "round 1 reaches 10.244.1.5" 5 "$(grep -c '^10\.244\.1\.5$' "$R/out.1" || true)"

# 1. One file changed, one Service gone, one new, while the agent is down.
stop_agent
e2e_put_web 10.244.2.5
rm "$MANIFESTS/gone.yaml"
put_svc added 10.96.0.92
start_agent
check_eq "the restart's first publish (generation $G) is a delta over $BASE" \
	"delta over $BASE" "$(kind_of "$G")"
check_match "ldmeshctl status says so" "generation: +$G \\(delta, base $BASE\\)" \
	"$("$CTL" -t "$TABLE" status)"
check "the delta is smaller than the base" \
	test "$(stat -c %s "$TABLE/snap.$G")" -lt "$(stat -c %s "$TABLE/snap.$BASE")"
check_match "the agent says how much of the base it kept" \
	"restarted over base $BASE \\($((OTHERS + 2)) services, $OTHERS as the folder says them\\)" \
	"$(cat "$E2E_TMP/agent.log")"
e2e_round 2
check_eq "round 2: the long-lived client follows it to 10.244.2.5" 5 \
	"$(grep -c '^10\.244\.2\.5$' "$R/out.2" || true)"
check "the table lists what a fresh agent on the folder lists" same_as_fresh
check_eq "a new process reaches 10.244.2.5" 10.244.2.5 "$(pl $C connect 10.96.0.80 9000 1 2>&1)"

# 2. Again, now that a delta is current: a delta over the same base.
stop_agent
put_others 81
start_agent
check_eq "a restart over a delta: generation $G, a delta over $BASE" "delta over $BASE" \
	"$(kind_of "$G")"
check "the table lists what a fresh agent lists" same_as_fresh

# 3. No change: still a publish, an empty delta.
stop_agent
start_agent
check_eq "a restart with nothing changed publishes a delta (generation $G)" \
	"delta over $BASE" "$(kind_of "$G")"
check "the table lists what a fresh agent lists" same_as_fresh

# A TCPRoute attached while the agent is down to other-5, which no restart
# has changed since the base: the delta must carry it.
stop_agent
printf '%s\n' 'apiVersion: gateway.networking.k8s.io/v1' 'kind: TCPRoute' \
	'metadata: {name: split, namespace: bulk}' \
	'spec:' '  parentRefs: [{kind: Service, name: other-5}]' \
	'  rules: [{backendRefs: [{name: other-5, port: 80, weight: 3}, {name: other-6, port: 80}]}]' |
	e2e_put split.yaml
start_agent
check_eq "a restart with a route added: generation $G, a delta over $BASE" "delta over $BASE" \
	"$(kind_of "$G")"
check_match "and other-5 carries the split" "Traffic Split:" \
	"$("$CTL" -t "$TABLE" describe service other-5 -n bulk)"
check "the table lists what a fresh agent lists" same_as_fresh

# 4. A base made for another node: a base.
stop_agent
put_others 82
start_agent --node elsewhere
check_eq "restarted as another node: generation $G is a base" base "$(kind_of "$G")"
check_match "and the agent says why" "snap.$BASE: made for another node" "$(cat "$E2E_TMP/agent.log")"
check "the table lists what a fresh agent lists" same_as_fresh --node elsewhere

# 5. A damaged base: a base, and the table right.
stop_agent
chattr -i "$TABLE/snap.$G" 2>/dev/null || true
printf 'XXXXXXXX' | dd of="$TABLE/snap.$G" bs=1 seek=0 conv=notrunc 2>/dev/null
put_others 83
start_agent --node elsewhere
check_eq "over a damaged base: generation $G is a base" base "$(kind_of "$G")"
check "the table lists what a fresh agent lists" same_as_fresh --node elsewhere
e2e_round 3
check_eq "round 3: the long-lived client still reaches 10.244.2.5" 5 \
	"$(grep -c '^10\.244\.2\.5$' "$R/out.3" || true)"
touch "$R/stop"

e2e_done
