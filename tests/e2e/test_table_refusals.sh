#!/usr/bin/env bash
# What the agent must not do silently with its table (issue 21, item 15):
#  1. a table directory made group-writable under a running agent: every
#     new process refuses it, so the agent publishes nothing into it and
#     says why (log, and a note line of the status file); once the mode
#     is fixed it publishes what changed meanwhile;
#  2. an agent without CAP_LINUX_IMMUTABLE publishes files it cannot make
#     immutable: it says so once in the log, and `ldmeshctl status` shows
#     it (run last: it may skip);
#  3. (item 13) a control page whose generation is rewritten by hand, near
#     the wrap, under a running agent or while it is away: the agent
#     publishes a sane generation again and says why.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

svc() {
	printf 'apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: default}\nspec: {clusterIP: %s, ports: [{port: 80}]}\n' "$1"
}
log_has() { grep -Eq -- "$1" "$E2E_TMP/agent.log"; }
# the generation in the control page itself (readers refuse the directory)
control_gen() { od -An -t u8 -j 8 -N 8 "$1/control" | tr -d ' '; }
ip_is() { [ "$(e2e_cluster_ip a 2>/dev/null)" = "$1" ]; }

# ---- 1. a group-writable table directory --------------------------------------
svc 10.96.0.11 | e2e_put a.yaml
e2e_agent --state none
g=$(control_gen "$TABLE")
chmod g+w "$TABLE"
svc 10.96.0.12 | e2e_put a.yaml
check "the agent says it refuses a group-writable table directory" e2e_wait log_has \
	"table directory $TABLE is writable by others \\(mode 0775.*publishes nothing into it"
check_eq "and publishes nothing into it" "$g" "$(control_gen "$TABLE")"
check_match "the status file says so" "^note table directory $TABLE is writable by others" \
	"$(cat "$TABLE/status")"
chmod g-w "$TABLE"
check "once fixed, the edit made meanwhile is published" e2e_wait ip_is 10.96.0.12
check "and the agent says so" log_has "table directory $TABLE may be published into again"
check_nomatch "the status file no longer warns" "^note table directory" "$(cat "$TABLE/status")"

# ---- 3. a control page whose generation was written by hand ------------------
# (2^64 - 2: the agent used to publish 2^64 - 1, "retired", then 0,
# "nothing yet", and every reader passed through)
set_gen() {
	chattr -i "$TABLE/control" 2>/dev/null || true
	"$PY" -c 'import struct, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(8); f.write(struct.pack("<Q", int(sys.argv[2])))' "$TABLE/control" "$1"
}
sane() { g=$(e2e_gen); [ "$g" -gt 0 ] && [ "$g" -lt 1000 ] && ip_is 10.96.0.12; }
set_gen 18446744073709551614
check "rewritten under a running agent: it publishes a sane generation again" e2e_wait sane
check "and says why" log_has "control page of $TABLE says generation 18446744073709551614"
kill "$E2E_AGENT_PID"; wait "$E2E_AGENT_PID" 2>/dev/null || true
set_gen 18446744073709551614
e2e_agent --state none
check "rewritten while it was away: the restarted agent publishes a sane generation" sane
check "and says it rebuilt the page" log_has "said generation 18446744073709551614.*rebuilt from the snapshots on disk"
kill "$E2E_AGENT_PID"; wait "$E2E_AGENT_PID" 2>/dev/null || true

# ---- 2. no CAP_LINUX_IMMUTABLE --------------------------------------------------
command -v setpriv >/dev/null || e2e_skip "setpriv not installed (util-linux)"
command -v chattr >/dev/null || e2e_skip "chattr not installed (e2fsprogs)"
T2=$E2E_TMP/table2
touch "$E2E_TMP/probe"
chattr +i "$E2E_TMP/probe" 2>/dev/null ||
	e2e_skip "$E2E_TMP takes no FS_IMMUTABLE_FL here (filesystem, or no CAP_LINUX_IMMUTABLE)"
chattr -i "$E2E_TMP/probe"
nocap() { setpriv --inh-caps=-linux_immutable --bounding-set=-linux_immutable "$@"; }
nocap chattr +i "$E2E_TMP/probe" 2>/dev/null && e2e_skip "setpriv could not drop CAP_LINUX_IMMUTABLE"
rc=0
nocap "$AGENT" -m "$MANIFESTS" -t "$T2" --state none --once >"$E2E_TMP/nocap.log" 2>&1 || rc=$?
check_eq "without CAP_LINUX_IMMUTABLE the agent still publishes" 0 "$rc"
check_match "and says its files are not immutable" \
	"published without FS_IMMUTABLE_FL: the agent lacks CAP_LINUX_IMMUTABLE" "$(cat "$E2E_TMP/nocap.log")"
check_eq "once" 1 "$(grep -c "lacks CAP_LINUX_IMMUTABLE" "$E2E_TMP/nocap.log")"
check_match "ldmeshctl status shows it" "lacks CAP_LINUX_IMMUTABLE" "$("$CTL" -t "$T2" status)"
check_nomatch "(the snapshot is indeed mutable)" "i" "$(lsattr -d "$T2"/snap.* | awk '{print $1}')"
e2e_done
