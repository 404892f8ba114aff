#!/usr/bin/env bash
# The README's own procedure on a live table (issue 21, item 9):
# `chattr -R -i` then `chattr -R +i`, no byte changed, moves every file's
# inode change time, and new processes rightly refuse a snapshot that is
# not provably the file published. The agent notices within its
# once-a-second look and publishes a new base, which new processes take;
# with a delta current too; and a current snapshot removed by hand is
# replaced the same way. The agent keeps publishing edits afterwards.
# On a tmpfs of our own (in a private mount namespace), as /run is: there
# `control` can be immutable while the agent writes it; then on the
# filesystem of the temporary directory, where it cannot.
. "$(dirname "$0")/lib.sh"
e2e_mountns "$@"
e2e_netns "$@"
e2e_setup
command -v chattr >/dev/null || e2e_skip "chattr not installed (e2fsprogs)"
FS=$E2E_TMP/fs
mkdir "$FS"
mount -t tmpfs -o size=16m,mode=0755 tmpfs "$FS" || e2e_skip "cannot mount a tmpfs"
trap 'chattr -R -i "$FS" 2>/dev/null; umount -l "$FS" 2>/dev/null || true; e2e_cleanup' EXIT
touch "$FS/probe"
chattr +i "$FS/probe" 2>/dev/null || e2e_skip "this tmpfs takes no FS_IMMUTABLE_FL (Linux < 6.0?)"
chattr -i "$FS/probe"; rm "$FS/probe"
TABLE=$FS/table

svc() {
	printf 'apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: default}\nspec: {clusterIP: %s, ports: [{port: 80}]}\n' "$1"
}
# A new process takes the table and finds a at $1, in a generation past $2.
takes() {
	[ "$(e2e_cluster_ip a 2>/dev/null)" = "$1" ] && [ "$(e2e_gen)" -gt "$2" ]
}
refusal() { "$CTL" -t "$TABLE" resolve a 2>&1 >/dev/null | head -n1; }

svc 10.96.0.11 | e2e_put a.yaml
e2e_agent --state none
check_eq "a new process takes the table" 10.96.0.11 "$(e2e_cluster_ip a)"

g=$(e2e_gen)
chattr -R -i "$TABLE"
chattr -R +i "$TABLE"
check "after chattr -R -i, +i: a new process takes the table again" e2e_wait takes 10.96.0.11 "$g"
takes 10.96.0.11 "$g" || e2e_log "it says: $(refusal)"
check_match "the agent said why it republished" \
	"snap\\.$g changed since it was published .*; publishing a new base" "$(cat "$E2E_TMP/agent.log")"

# a delta current (over a base): both files' identities count
g=$(e2e_gen)
svc 10.96.0.12 | e2e_put a.yaml
e2e_wait takes 10.96.0.12 "$g" || true
g=$(e2e_gen)
check_match "an edit is published as a delta" "generation $g \\(delta over" "$(cat "$E2E_TMP/agent.log")"
chattr -R -i "$TABLE"
chattr -R +i "$TABLE"
check "with a delta current, too" e2e_wait takes 10.96.0.12 "$g"
takes 10.96.0.12 "$g" || e2e_log "it says: $(refusal)"

# the current snapshot removed by hand
g=$(e2e_gen)
chattr -i "$TABLE/snap.$g" 2>/dev/null || true
rm -f "$TABLE/snap.$g"
check "the current snapshot removed: a new process takes the table again" \
	e2e_wait takes 10.96.0.12 "$g"

# and the agent goes on: an edit is published, the status file is kept
g=$(e2e_gen)
svc 10.96.0.13 | e2e_put a.yaml
check "an edit afterwards is published" e2e_wait takes 10.96.0.13 "$g"
check "the agent is alive" kill -0 "$E2E_AGENT_PID"
before=$(stat -c %Y.%i "$TABLE/status")
chattr +i "$TABLE/status"
kill -HUP "$E2E_AGENT_PID"
status_rewritten() { [ "$(stat -c %Y.%i "$TABLE/status")" != "$before" ]; }
check "an immutable status file is replaced all the same" e2e_wait status_rewritten
kill "$E2E_AGENT_PID"; wait "$E2E_AGENT_PID" 2>/dev/null || true

# On a filesystem that is not tmpfs (ext4 here) `control` cannot stay
# immutable under its writer: `chattr -R +i` made the agent's next store
# into it SIGBUS. The agent lifts the flag before it writes.
TABLE=$E2E_TMP/disk-table
touch "$E2E_TMP/probe"
if [ "$(stat -f -c %T "$E2E_TMP")" = tmpfs ] || ! chattr +i "$E2E_TMP/probe" 2>/dev/null; then
	e2e_skip "the rest needs $E2E_TMP on a filesystem other than tmpfs that takes FS_IMMUTABLE_FL"
fi
chattr -i "$E2E_TMP/probe"
svc 10.96.0.21 | e2e_put a.yaml
e2e_agent --state none
g=$(e2e_gen)
chattr -R -i "$TABLE"
chattr -R +i "$TABLE"
check "on $(stat -f -c %T "$E2E_TMP"): a new process takes the table again" e2e_wait takes 10.96.0.21 "$g"
g=$(e2e_gen)
svc 10.96.0.22 | e2e_put a.yaml
check "and an edit is published" e2e_wait takes 10.96.0.22 "$g"
check "the agent is alive (no SIGBUS writing control)" kill -0 "$E2E_AGENT_PID"
e2e_done
