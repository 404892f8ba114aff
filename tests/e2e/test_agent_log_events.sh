#!/usr/bin/env bash
# What the agent's log says about files (issue 23, section 3, Logs): a
# removed file is logged as removed, not "changed"; a file that stays
# broken is reported once per change of its bytes: not again when an
# unrelated file of its ConfigMap is saved (a kubelet ..data swap gives
# every file a new identity), when it is touched or copied over itself, or
# on SIGHUP; a new, different error in it is reported again. No traffic.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

svc() { printf 'apiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: default}\nspec: {clusterIP: %s, ports: [{port: 80}]}\n' "$1" "$2"; }
has_svc() { "$CTL" -t "$TABLE" services 2>/dev/null | grep -Eq "^default +$1 "; }
LOG=$E2E_TMP/agent.log
BAD1="did not find expected ',' or '}'"
BAD2="mapping values are not allowed"
# error lines about bad.yaml, of either kind (the position is only in those)
errors() { grep -cE "/bad\.yaml:[0-9]+:[0-9]+: " "$LOG" || true; }
agains() { grep -c 'bad\.yaml: read again, the same bytes' "$LOG" || true; }
# Wait until the agent has read bad.yaml once more: it said so (the note of
# -v), or it reported the file again (what the old agent did).
read_again() { [ "$(agains)" -gt "$1" ] || [ "$(errors)" -gt "$2" ]; }

# A ConfigMap as the kubelet mounts it: cm/..data -> ..v1, cm/x.yaml ->
# ..data/x.yaml; an update writes ..vN and renames ..data over.
CM=$MANIFESTS/cm
mkdir -p "$CM/..v1"
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: x\n' >"$CM/..v1/bad.yaml"
svc a 10.96.20.1 >"$CM/..v1/good.yaml"
ln -s ..v1 "$CM/..data"
ln -s ..data/bad.yaml "$CM/bad.yaml"
ln -s ..data/good.yaml "$CM/good.yaml"
svc gone 10.96.20.9 | e2e_put gone.yaml
e2e_agent -v
check "the good file of the ConfigMap is published" e2e_wait has_svc a
check_eq "the broken file is reported" 1 "$(errors)"

# --- a removed file: "removed" ----------------------------------------------
rm "$MANIFESTS/gone.yaml"
check "a removed file's service goes" e2e_wait eval '! has_svc gone'
check_match "the removal is logged as such" '/gone\.yaml: removed$' "$(cat "$LOG")"
check_nomatch "and never as a change" 'chang.*gone\.yaml|gone\.yaml.*chang' "$(cat "$LOG")"

# --- an unrelated file of the ConfigMap saved: a ..data swap -----------------
mkdir "$CM/..v2"
cp "$CM/..v1/bad.yaml" "$CM/..v2/bad.yaml"
svc b 10.96.20.2 >"$CM/..v2/good.yaml"
ln -s ..v2 "$CM/..data_tmp"
mv -T "$CM/..data_tmp" "$CM/..data"
rm -rf "$CM/..v1"
check "the saved file is applied" e2e_wait has_svc b
check "bad.yaml was read again (new identity)" e2e_wait read_again 0 1
check_eq "an unrelated save: the broken file is not reported again" 1 "$(errors)"

# --- touched; copied over itself; SIGHUP --------------------------------------
n=$(agains)
touch "$CM/..v2/bad.yaml"
kill -HUP "$E2E_AGENT_PID" # ..v2 is not watched: a rescan reads it
check "touched: read again" e2e_wait read_again "$n" 1
n=$(agains)
cp "$CM/..v2/bad.yaml" "$E2E_TMP/same.yaml"
mv "$E2E_TMP/same.yaml" "$CM/..v2/bad.yaml"
kill -HUP "$E2E_AGENT_PID"
check "copied over itself: read again" e2e_wait read_again "$n" 1
check_eq "touched, copied over itself, SIGHUP: not reported again" 1 "$(errors)"

# --- a new, different error: reported ---------------------------------------
printf 'apiVersion: v1\nkind: Service\nmetadata: x: y\n' >"$E2E_TMP/new.yaml"
mv "$E2E_TMP/new.yaml" "$CM/..v2/bad.yaml"
kill -HUP "$E2E_AGENT_PID"
check "a different error is reported" e2e_wait eval '[ "$(errors)" -ge 2 ]'
check_eq "once" 2 "$(errors)"
check_match "and it is the new one, an error" "error ldmesh-agent: .*/bad\\.yaml:[0-9]+:[0-9]+: $BAD2" "$(cat "$LOG")"
check_eq "the first error was said once" 1 "$(grep -c "bad\\.yaml:.*$BAD1" "$LOG" || true)"

e2e_done
