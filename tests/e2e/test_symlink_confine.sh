#!/usr/bin/env bash
# Symlinks that leave the folder (issue 21, item 11). A symlink in the folder
# to a root-only file elsewhere is not read (so none of its lines reach the
# log or the status), neither at start nor when it appears live; a symlinked
# directory leading out is not walked; the kubelet's ConfigMap layout
# (`..data` -> `..2026_...`, visible links into it) keeps working; and the
# status, which quotes manifests, is the agent's alone (0600). No traffic.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

SECRET=$E2E_TMP/secret
mkdir -p "$SECRET/dir"
# a line that would fail a parse and be quoted, were it read
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: "db-password=hunter2"}\nspec: {ports: [{port: 80}]}\n' \
	>"$SECRET/db.yaml"
chmod 0600 "$SECRET/db.yaml"
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: outdir, namespace: default}\nspec: {clusterIP: 10.96.7.7, ports: [{port: 80}]}\n' \
	>"$SECRET/dir/out.yaml"

# the kubelet's ConfigMap volume layout
mkdir -p "$MANIFESTS/..2026_12_07_10_00_00.1"
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: cm, namespace: default}\nspec: {clusterIP: 10.96.7.1, ports: [{port: 80}]}\n' \
	>"$MANIFESTS/..2026_12_07_10_00_00.1/cm.yaml"
ln -s ..2026_12_07_10_00_00.1 "$MANIFESTS/..data"
ln -s ..data/cm.yaml "$MANIFESTS/cm.yaml"
# leading out: a file and a directory
ln -s "$SECRET/db.yaml" "$MANIFESTS/leak.yaml"
ln -s "$SECRET/dir" "$MANIFESTS/outside"

e2e_agent
st=$("$CTL" -t "$TABLE" status 2>&1 || true)
log=$(cat "$E2E_TMP/agent.log")
check_match "the ConfigMap layout is read through ..data" '^default +cm +ClusterIP +10\.96\.7\.1 ' \
	"$("$CTL" -t "$TABLE" services)"
check_nomatch "a symlinked directory leading out is not walked" 'outdir' "$("$CTL" -t "$TABLE" services)"
check_nomatch "the secret's lines are in no log" 'hunter2' "$log"
check_nomatch "nor in the status file" 'hunter2' "$(cat "$TABLE/status")"
check_match "the link is refused, naming where it leads" \
	"leak\.yaml: a symlink to $SECRET/db\.yaml, outside .*: not read" "$st"
check_match "the directory link is said too" "outside: a symlink to $SECRET/dir, outside .*not followed" "$st"
check_eq "the status is the agent's alone" 600 "$(stat -c %a "$TABLE/status")"

# live: a link leading out appears, and a ..data swap still works
ln -s "$SECRET/db.yaml" "$MANIFESTS/leak2.yaml"
mkdir -p "$MANIFESTS/..2026_12_07_10_00_01.2"
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: cm, namespace: default}\nspec: {clusterIP: 10.96.7.2, ports: [{port: 80}]}\n' \
	>"$MANIFESTS/..2026_12_07_10_00_01.2/cm.yaml"
ln -s ..2026_12_07_10_00_01.2 "$MANIFESTS/..data_tmp"
mv -T "$MANIFESTS/..data_tmp" "$MANIFESTS/..data"
for _ in $(seq 400); do
	"$CTL" -t "$TABLE" services | grep -q '10\.96\.7\.2 ' &&
		grep -q 'leak2\.yaml' "$TABLE/status" && break
	sleep 0.05
done
check_match "live: the ..data swap is applied" '^default +cm +ClusterIP +10\.96\.7\.2 ' \
	"$("$CTL" -t "$TABLE" services)"
check_match "live: the new link is refused" 'leak2\.yaml: a symlink to .*, outside .*: not read' \
	"$(cat "$TABLE/status")"
check_nomatch "live: the secret's lines are in no log" 'hunter2' "$(cat "$E2E_TMP/agent.log")"
check_nomatch "live: nor in the status" 'hunter2' "$(cat "$TABLE/status")"

e2e_done
