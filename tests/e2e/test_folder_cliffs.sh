#!/usr/bin/env bash
# The folder's cliffs (issue 21, item 10). Past 16,384 directories the agent
# watches what it can, rescans the rest on a timer, says so once (log and
# ldmeshctl status), keeps applying edits, and ends on SIGTERM; at start
# and when such a tree arrives live. Past --max-files files it publishes
# the first ones (in sorted order), says so, and marks the table
# incomplete. A symlink to / in the folder
# is not followed. No traffic.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

# Poll (bounded) until a command succeeds: wait_for SECONDS CMD...
wait_for() {
	local secs=$1 t0
	shift
	t0=$(date +%s)
	until "$@" >/dev/null 2>&1; do
		[ $(($(date +%s) - t0)) -ge "$secs" ] && return 1
		sleep 0.1
	done
}
svc() { # name clusterIP
	printf 'apiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: default}\nspec: {clusterIP: %s, ports: [{port: 80}]}\n' "$1" "$2"
}
has_svc() { "$CTL" -t "$TABLE" services 2>/dev/null | grep -Eq "^default +$1 "; }
# SIGTERM the agent; wait (bounded) for it to end; kill -9 if it does not
term_ends() {
	local pid=$1
	kill -TERM "$pid"
	if wait_for 15 bash -c "! kill -0 $pid"; then return 0; fi
	kill -9 "$pid" 2>/dev/null
	return 1
}

# 16,385 directories under big/zz (one more than the agent watches), made
# beside the folder and moved in with one rename
BIG=$E2E_TMP/big
"$PY" - "$BIG/zz" <<'PY'
import os, sys
root = sys.argv[1]
os.makedirs(root)
for i in range(16385):
    os.mkdir(os.path.join(root, "%05d" % i))
PY

svc a 10.96.8.1 | e2e_put a.yaml
e2e_agent
check "small folder: published" has_svc a

e2e_log "phase at ${SECONDS}s"
mv "$BIG/zz" "$MANIFESTS/zz"
svc b 10.96.8.2 | e2e_put b.yaml
check "live, past 16,384 directories: an edit in a watched directory is applied" wait_for 60 has_svc b
# the last directory in sorted order is one the agent cannot watch
svc late 10.96.8.3 >"$MANIFESTS/zz/16384/late.yaml"
check "live: an edit in an unwatched directory is applied by the rescan" wait_for 90 has_svc late
log=$(cat "$E2E_TMP/agent.log")
check_eq "live: the partial watch is said once" 1 "$(grep -c 'not all' <<<"$log" || true)"
check_nomatch "live: no rescan fails" 'rescanning .*: Argument list too long' "$log"
check_match "live: ldmeshctl status says it" 'watching [0-9]+ directories, not all' \
	"$("$CTL" -t "$TABLE" status)"
check "live: SIGTERM ends the agent in the rescan-on-a-timer state" term_ends "$E2E_AGENT_PID"

e2e_log "phase at ${SECONDS}s"
# at start, on the same folder
: >"$E2E_TMP/agent.log"
"$AGENT" -m "$MANIFESTS" -t "$TABLE" >>"$E2E_TMP/agent.log" 2>&1 &
pid=$!
e2e_track "$pid"
check "start, past 16,384 directories: the agent keeps running" wait_for 60 \
	grep -q 'not all' "$E2E_TMP/agent.log"
check "start: still alive once it has said so" kill -0 "$pid"
svc c 10.96.8.4 | e2e_put c.yaml
check "start: an edit is applied" wait_for 60 has_svc c
check "start: SIGTERM ends it" term_ends "$pid"
rm -rf "$MANIFESTS/zz" # (faster than the cleanup's chattr -R over it)

e2e_log "phase at ${SECONDS}s"
# past --max-files (2,000 here; 400,000 by default): the first ones in
# sorted order are read and published, the rest said once, and the table
# is not complete (a name it lacks may be in a file not read)
M2=$E2E_TMP/many
mkdir -p "$M2"
svc first 10.96.9.1 >"$M2/a.yaml"
"$PY" - "$M2/f" <<'PY'
import os, sys
root = sys.argv[1]
os.makedirs(root)
for i in range(2000):
    open(os.path.join(root, "%06d.yaml" % i), "w").close()
PY
T2=$E2E_TMP/table2
"$AGENT" -m "$M2" -t "$T2" --once --max-files 2000 >"$E2E_TMP/once.log" 2>&1 || true
once=$(cat "$E2E_TMP/once.log")
check_match "2,001 files, --max-files 2000: a table is published" '^default +first ' \
	"$("$CTL" -t "$T2" services 2>&1 || true)"
check_match "the limit is said, naming the first file left out" \
	'more than 2000 manifest files: .*/f/001999\.yaml and the files after it' "$once"
check_match "and the table is published incomplete, saying why" \
	'published incomplete.*holds more than 2000 manifest files \(--max-files\)' "$once"
check_match "ldmeshctl status: complete no" '"complete":false' \
	"$("$CTL" -t "$T2" -o json status 2>&1 || true)"
"$AGENT" -m "$M2" -t "$T2" --once --max-files 2001 >"$E2E_TMP/once.log" 2>&1 || true
check_match "2,001 files, --max-files 2001: all read, complete" '"complete":true' \
	"$("$CTL" -t "$T2" -o json status 2>&1 || true)"
check_match "the default bound is 400,000" 'max-files N .*default 400000' "$("$AGENT" --help 2>&1)"
rm -rf "$M2"

e2e_log "phase at ${SECONDS}s"
# a symlink to / walked the whole machine into the directory bound
M3=$E2E_TMP/slash
mkdir -p "$M3"
svc s 10.96.9.2 >"$M3/s.yaml"
ln -s / "$M3/root"
"$AGENT" -m "$M3" -t "$E2E_TMP/table3" --once >"$E2E_TMP/once3.log" 2>&1 || true
check_match "a symlink to /: the rest is published" '^default +s ' \
	"$("$CTL" -t "$E2E_TMP/table3" services 2>&1 || true)"
check_match "a symlink to / is not followed, and said" 'root: a symlink to /, outside .*not followed' \
	"$(cat "$E2E_TMP/once3.log")"

e2e_log "phase at ${SECONDS}s"
e2e_done
