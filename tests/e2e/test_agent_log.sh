#!/usr/bin/env bash
# The shape of ldmesh-agent's and ldmesh-sync's log (issue 23, section 3,
# Logs): every line has its time (RFC 3339, UTC, milliseconds) and level;
# --log-format json writes one object a line that python3's json module
# reads, with time, level, msg, and file/line/col for a manifest problem,
# whatever bytes the file name holds; `--check` of a folder that is missing
# or not a folder says so in one line. No traffic.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

SYNC=$LDMESH_BUILD/agent/ldmesh-sync
TEXT='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z (debug|info|warn|error) ldmesh-(agent|sync): '
# lines of $1 that are not of the text shape
misshapen() { grep -vE "$TEXT" <<<"$1" || true; }

printf 'apiVersion: v1\nkind: Service\nmetadata: {name: x\n' >"$MANIFESTS/bad.yaml"
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: out, namespace: default}\nspec: {clusterIP: 10.200.0.1, ports: [{port: 80}]}\n' \
	>"$MANIFESTS/out.yaml"
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: default}\nspec: {clusterIP: 10.96.30.1, ports: [{port: 80}]}\n' \
	>"$MANIFESTS/a.yaml"

# --- text: time and level on every line, a running agent's too ---------------
e2e_agent -v
kill -HUP "$E2E_AGENT_PID"
check "SIGHUP is logged" e2e_wait grep -q 'SIGHUP: rereading' "$E2E_TMP/agent.log"
log=$(cat "$E2E_TMP/agent.log")
check_eq "text: every agent line starts with its time and level" "" "$(misshapen "$log")"
check_match "text: a broken file is an error, at its position" \
	"Z error ldmesh-agent: $MANIFESTS/bad\\.yaml:4:1: did not find" "$log"
check_match "text: a service left out is a warning" \
	"Z warn ldmesh-agent: $MANIFESTS/out\\.yaml:1:1: warning: clusterIP 10\\.200\\.0\\.1" "$log"
check_match "text: a publish is info" 'Z info ldmesh-agent: published generation 1 ' "$log"
check_match "text: -v adds debug lines" 'Z debug ldmesh-agent: ' "$log"

# --- json: what python3 reads -------------------------------------------------
# a file name with a quote, a backslash, a tab and a byte that is not UTF-8
odd=$(printf 'o"d\\d\t\377.yaml')
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: y\n' >"$MANIFESTS/$odd"
out=$("$AGENT" -m "$MANIFESTS" -t "$E2E_TMP/table2" --state none --once --log-format json -v 2>&1) && rc=0 || rc=$?
check_eq "--once with broken files exits 1" 1 "$rc"
json_check() { # LABEL: every line of stdin an object of the log's shape
	"$PY" -c '
import json, re, sys, datetime
label, problems = sys.argv[1], []
lines = sys.stdin.buffer.read().split(b"\n")[:-1]
seen = {}
for raw in lines:
    try:
        o = json.loads(raw.decode("utf-8"))   # strict: valid UTF-8 only
    except Exception as e:
        problems.append("not JSON (%s): %r" % (e, raw[:120])); continue
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o.get("time", "")):
        problems.append("time %r" % o.get("time"))
    else:
        t = datetime.datetime.strptime(o["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        if abs((now - t).total_seconds()) > 3600:
            problems.append("time %s is not UTC now (%s)" % (o["time"], now))
    if o.get("level") not in ("debug", "info", "warn", "error"):
        problems.append("level %r" % o.get("level"))
    if not isinstance(o.get("msg"), str) or not o.get("program", "").startswith("ldmesh-"):
        problems.append("msg/program in %r" % o)
    for k in ("line", "col"):
        if k in o and not isinstance(o[k], int):
            problems.append("%s %r" % (k, o[k]))
    seen.setdefault(o.get("level"), []).append(o)
print("\n".join("%s: %s" % (label, p) for p in problems))
json.dump(seen, open(sys.argv[2], "w"))
' "$1" "$2"
}
check_eq "json: every line parses, with time, level, program and msg" "" \
	"$(json_check json "$E2E_TMP/seen.json" <<<"$out")"
field() { "$PY" -c "import json,sys; print('\n'.join(sys.argv[2] % o for l in json.load(open(sys.argv[1])).values() for o in l if 'file' in o))" \
	"$E2E_TMP/seen.json" "$1"; }
check_match "json: the broken file's error has file, line and col as fields" \
	"^error $MANIFESTS/bad\\.yaml 4 1 did not find expected" "$(field '%(level)s %(file)s %(line)s %(col)s %(msg)s')"
check_match "json: a name that is not text arrives escaped, not broken" \
	"^error $MANIFESTS/o\"d\\\\d	\\\\ufffd\\.yaml 4 1 did not find" \
	"$(field '%(level)s %(file)s %(line)s %(col)s %(msg)s' | "$PY" -c 'import sys; sys.stdout.write(sys.stdin.read().encode("ascii", "backslashreplace").decode())')"
check_match "json: the warning is level warn" "^warn $MANIFESTS/out\\.yaml 1 1 warning: clusterIP" \
	"$(field '%(level)s %(file)s %(line)s %(col)s %(msg)s')"
check_match "json: the summary line is info" '"level":"info","program":"ldmesh-agent","msg":"published generation' "$out"
rm -f "$MANIFESTS/$odd"

# --- ldmesh-sync: the same shape ----------------------------------------------
out=$("$SYNC" -m "$E2E_TMP/s" --lost-after 0 2>&1) && rc=0 || rc=$?
check_eq "ldmesh-sync: a bad flag exits 2" 2 "$rc"
check_eq "ldmesh-sync: its line has time and level too" "" "$(misshapen "$out")"
check_match "ldmesh-sync: says what was wrong" 'Z error ldmesh-sync: --lost-after: not a positive number' "$out"
out=$("$SYNC" --log-format json -m "$E2E_TMP/s" --lost-after 0 2>&1 || true)
check_eq "ldmesh-sync --log-format json: parses" "" "$(json_check sync "$E2E_TMP/seen-sync.json" <<<"$out")"
check_match "ldmesh-sync json: program and level" '"level":"error","program":"ldmesh-sync","msg":"--lost-after' "$out"
out=$("$AGENT" -m "$MANIFESTS" --check --log-format yaml 2>&1) && rc=0 || rc=$?
check_eq "--log-format yaml: a usage error" 2 "$rc"
check_match "and says so" 'error ldmesh-agent: --log-format yaml: not text or json' "$out"

# --- --check of no folder: one clear line --------------------------------------
out=$("$AGENT" --check -m /nonexistent 2>&1) && rc=0 || rc=$?
check_eq "--check -m /nonexistent exits 1" 1 "$rc"
check_eq "--check -m /nonexistent: one line" 1 "$(printf '%s\n' "$out" | wc -l)"
check_match "that says what is wrong, with time and level" \
	"${TEXT%ldmesh-*}ldmesh-agent: /nonexistent: No such file or directory\$" "$out"
out=$("$AGENT" --check -m "$MANIFESTS/a.yaml" 2>&1) && rc=0 || rc=$?
check_eq "--check -m FILE exits 1" 1 "$rc"
check_eq "--check -m FILE: one line, not two" 1 "$(printf '%s\n' "$out" | wc -l)"
check_match "that says it is not a folder" "Z error ldmesh-agent: $MANIFESTS/a\\.yaml: Not a directory\$" "$out"

e2e_done
