#!/usr/bin/env bash
# What is wrong with the folder itself is said once, and stays in the status
# while it lasts (issue 21, item 15, the deep-directory part): a directory
# deeper than 32 levels is not read, logged once however many rescans meet
# it (SIGHUP, or a directory created), shown by ldmeshctl status, and gone
# from the status once it is fixed. No traffic.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

wait_for() { # SECONDS CMD...: poll (bounded) until CMD succeeds
	local secs=$1 t0
	shift
	t0=$(date +%s)
	until "$@" >/dev/null 2>&1; do
		[ $(($(date +%s) - t0)) -ge "$secs" ] && return 1
		sleep 0.1
	done
}
svc() { printf 'apiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: default}\nspec: {clusterIP: %s, ports: [{port: 80}]}\n' "$1" "$2"; }
has_svc() { "$CTL" -t "$TABLE" services 2>/dev/null | grep -Eq "^default +$1 "; }

deep=$MANIFESTS
for i in $(seq 1 33); do deep=$deep/d$i; done
mkdir -p "$deep"
svc deep 10.96.10.9 >"$deep/deep.yaml"
svc a 10.96.10.1 | e2e_put a.yaml
e2e_agent

# two more rescans: a SIGHUP, then a new directory; each seen done by the
# service written after it
kill -HUP "$E2E_AGENT_PID"
svc b 10.96.10.2 | e2e_put b.yaml
check "after SIGHUP: published" wait_for 30 has_svc b
mkdir "$MANIFESTS/newdir"
svc c 10.96.10.3 >"$MANIFESTS/newdir/c.yaml"
check "after a new directory: published" wait_for 30 has_svc c

log=$(cat "$E2E_TMP/agent.log")
check_eq "the too-deep directory is logged once over three scans" 1 \
	"$(grep -c 'd33: deeper than 32 directories' <<<"$log" || true)"
check_nomatch "its service is not read" '^default +deep ' "$("$CTL" -t "$TABLE" services)"
st=$("$CTL" -t "$TABLE" status)
check_match "ldmeshctl status shows it" '^  .*/d33: deeper than 32 directories, skipped' "$st"
check_match "and in JSON" '"notes": ?\[".*d33: deeper than 32 directories' \
	"$("$CTL" -t "$TABLE" -o json status)"

# fixed: gone from the status
mv "$MANIFESTS/d1/d2" "$MANIFESTS/shallow"
check "fixed: the service comes in" wait_for 30 has_svc deep
check_nomatch "fixed: the status no longer shows it" 'deeper than' "$("$CTL" -t "$TABLE" status)"

e2e_done
