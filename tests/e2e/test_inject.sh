#!/usr/bin/env bash
# ldmeshctl inject / uninject (issue 22, item 4): workload YAML in the shapes
# charts and kubectl produce (init containers, several containers, existing
# env, envFrom, volumes and LD_PRELOAD, null lists, kind: List in JSON,
# CronJob, Job, StatefulSet, DaemonSet, ReplicaSet) comes out with every pod
# template set up for ldmesh, exactly as the reviewed files in
# tests/fixtures/inject/expected/ say; injecting twice is injecting once;
# uninject takes out exactly what inject put in; anything that is not a pod
# carrier passes through unchanged; the agent's own reader accepts the
# result; bad input is refused with file:line:col and nothing on stdout.
# No network: nothing here runs a server or a client.
. "$(dirname "$0")/lib.sh"
e2e_setup
FIX=$LDMESH_SRC/tests/fixtures/inject
cd "$FIX"

for f in deployment.yaml list.json cronjob.yaml statefulset.yaml; do
	"$CTL" inject --exec "$f" >"$E2E_TMP/$f.exec" 2>"$E2E_TMP/$f.notes"
	check "inject --exec $f: as reviewed" cmp -s "expected/$f.exec" "$E2E_TMP/$f.exec"
	"$CTL" inject --exec "$E2E_TMP/$f.exec" >"$E2E_TMP/$f.twice" 2>/dev/null
	check "inject --exec $f twice is once" cmp -s "$E2E_TMP/$f.exec" "$E2E_TMP/$f.twice"
	"$CTL" inject "$f" >"$E2E_TMP/$f.plain" 2>/dev/null
	"$CTL" inject "$E2E_TMP/$f.plain" >"$E2E_TMP/$f.plain2" 2>/dev/null
	check "inject $f twice is once" cmp -s "$E2E_TMP/$f.plain" "$E2E_TMP/$f.plain2"
	"$CTL" uninject "$E2E_TMP/$f.exec" >"$E2E_TMP/$f.undone"
	check_nomatch "uninject $f leaves no trace of ldmesh" 'ldmesh|LD_PRELOAD: ?/opt' \
		"$(cat "$E2E_TMP/$f.undone")"
done
check "inject without --exec wraps no command" cmp -s expected/deployment.yaml "$E2E_TMP/deployment.yaml.plain"
# uninject gives back the input as libyaml writes it (comments aside), for
# deployment.yaml byte for byte the file itself (statefulset.yaml came with
# a mount of ldmesh's own, which uninject takes out too)
check "uninject(inject deployment.yaml) is deployment.yaml" cmp -s deployment.yaml \
	"$E2E_TMP/deployment.yaml.undone"
"$CTL" uninject list.json >"$E2E_TMP/list.norm"
check "uninject(inject list.json) is list.json as read" cmp -s "$E2E_TMP/list.norm" "$E2E_TMP/list.json.undone"
check "JSON in, JSON out" "$PY" -c 'import json, sys; json.load(open(sys.argv[1]))' "$E2E_TMP/list.json.exec"
check_match "an existing LD_PRELOAD keeps its library behind ldmesh's" \
	'value: /opt/ldmesh/libldmesh.so:/usr/lib/libjemalloc.so.2$' "$(cat "$E2E_TMP/deployment.yaml.exec")"
check_match "and gets it back alone after uninject" 'value: /usr/lib/libjemalloc.so.2$' \
	"$(cat "$E2E_TMP/deployment.yaml.undone")"
notes=$(cat "$E2E_TMP/statefulset.yaml.notes")
check_match "a container without a command is named, not wrapped" \
	'statefulset.yaml: DaemonSet/node-exporter container exporter: no command' "$notes"
check_match "an LD_PRELOAD from a ConfigMap is named and left alone" \
	'StatefulSet/cache container redis: LD_PRELOAD is not a plain value' "$notes"
check_eq "notes go to stderr only" 0 "$(grep -c 'no command' "$E2E_TMP/statefulset.yaml.exec" || true)"
check_match "--musl takes the musl library" 'value: /opt/ldmesh/libldmesh-musl.so$' \
	"$("$CTL" inject --musl deployment.yaml 2>/dev/null)"
check_eq "stdin works as '-'" "$(cat expected/deployment.yaml)" \
	"$("$CTL" inject - <deployment.yaml 2>/dev/null)"

# the agent reads the injected Pod (a kind it knows) without a complaint
mkdir -p "$E2E_TMP/m"
cp "$E2E_TMP/list.json.exec" "$E2E_TMP/m/list.json"
cp "$E2E_TMP/deployment.yaml.exec" "$E2E_TMP/m/deployment.yaml"
check "ldmesh-agent --check accepts the injected files" \
	"$AGENT" --check --manifests "$E2E_TMP/m" --service-cidr 10.96.0.0/12

# bad input: refused with where, nothing on stdout
printf 'kind: Pod\nspec:\n  containers: [\n' >"$E2E_TMP/bad.yaml"
rc=0; out=$("$CTL" inject "$E2E_TMP/bad.yaml" 2>"$E2E_TMP/bad.err") || rc=$?
check_eq "bad YAML: exit 1" 1 "$rc"
check_eq "bad YAML: nothing on stdout" "" "$out"
check_match "bad YAML: the error names file:line:col" 'bad\.yaml:4:1: ' "$(cat "$E2E_TMP/bad.err")"
rc=0; "$CTL" inject "$E2E_TMP/missing.yaml" >/dev/null 2>&1 || rc=$?
check_eq "a missing file: exit 1" 1 "$rc"
for args in "inject a.yaml b.yaml" "uninject --exec deployment.yaml" "--exec status"; do
	rc=0; "$CTL" $args >/dev/null 2>&1 || rc=$?
	check_eq "usage error: ldmeshctl $args exits 2" 2 "$rc"
done
e2e_done
