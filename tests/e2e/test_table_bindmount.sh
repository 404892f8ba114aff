#!/usr/bin/env bash
# Issue 22, item 3: a table that pods follow through their bind mount.
#
# Pods get the table through a hostPath volume, a bind mount: it pins the
# directory it was made from, so a table directory removed and recreated
# on the host would be a new directory the pod never sees. The layout: pods
# mount the parent the agent keeps (/run/ldmesh) and the table lives below
# it (/run/ldmesh/table); the reader follows a replaced table directory by
# path, which through the mounted parent reaches the new one.
#
# Here, in a private mount and network namespace: a "host" directory P with
# the table at P/table, P bind-mounted onto a "pod" path; a long-lived
# process under the preload (LDMESH_TABLE=<pod>/table) resolves a service;
# the table is removed on the host by the documented procedure (chattr -R
# -i, rm -rf of the table directory only); the agent recreates it; a
# service added after the removal resolves in the "pod".
#
# LDMESH_BINDMOUNT_LAYOUT=table runs the same steps with the old layout
# (the table directory itself mounted into the pod): the last checks fail.
. "$(dirname "$0")/lib.sh"
e2e_mountns "$@"
e2e_netns "$@"
e2e_setup
command -v chattr >/dev/null || e2e_skip "chattr (e2fsprogs) not installed"
mount --make-rprivate / 2>/dev/null || true
LAYOUT=${LDMESH_BINDMOUNT_LAYOUT:-parent}

# ---- the defaults: the table lies below the directory pods mount ---------------
default=$("$AGENT" --help 2>&1 | sed -n 's/.*table directory (default \([^)]*\)).*/\1/p')
mounted=$(printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: i\n' |
	"$CTL" inject - 2>/dev/null | awk '/name: ldmesh-table/ { t = 1 } t && /mountPath:/ { print $2; exit }' || true)
check_eq "the default table is below the directory inject mounts ($mounted)" \
	"$mounted/table" "$default"
ds=$LDMESH_SRC/examples/deploy/ldmesh.yaml
check_match "the DaemonSet's agent mounts the parent /run/ldmesh and keeps the default table" \
	"mountPath: /run/ldmesh\\}" "$(cat "$ds")"
check_nomatch "and names no other table" "--table" "$(cat "$ds")"
check_nomatch "no pod in the DaemonSet example mounts the table directory itself" \
	"mountPath: /run/ldmesh/table|path: /run/ldmesh/table" "$(cat "$ds")"

# ---- the agent and the parent it keeps -----------------------------------------
mkdir -m 0775 "$E2E_TMP/gw"
out=$("$AGENT" --once -m "$MANIFESTS" -t "$E2E_TMP/gw/table" --state none 2>&1; echo "exit $?")
check_match "a group-writable parent is refused, named" "table parent $E2E_TMP/gw must be owned" "$out"
check_eq "and the agent exits 1" "exit 1" "$(tail -n1 <<<"$out")"
ln -s "$E2E_TMP/gw" "$E2E_TMP/link"
chmod 0755 "$E2E_TMP/gw"
out=$("$AGENT" --once -m "$MANIFESTS" -t "$E2E_TMP/link/table" --state none 2>&1; echo "exit $?")
check_match "a parent that is a symbolic link is refused" "table parent $E2E_TMP/link is not a directory \(a symbolic link\)" "$out"

# ---- host and pod ----------------------------------------------------------------
P=$E2E_TMP/host # the host's /run/ldmesh: made by the agent, 0755
POD=$E2E_TMP/pod
TABLE=$P/table
mkdir -p "$POD"
# the mount first, then what is below it (e2e_cleanup removes $E2E_TMP)
# lazy: the pod process maps the table through it until cleanup ends it
trap 'rc=$?; umount -l "$POD" 2>/dev/null; e2e_cleanup; exit $rc' EXIT
e2e_put_web 10.244.1.5
# state outside the mounted parent, as the DaemonSet's --state
e2e_agent --state "$E2E_TMP/state"
check_eq "the agent made the parent 0755" 755 "$(stat -c %a "$P")"
if [ "$LAYOUT" = table ]; then
	mount --bind -o ro "$TABLE" "$POD" || e2e_skip "cannot bind-mount here"
	POD_TABLE=$POD
else
	mount --bind -o ro "$P" "$POD" || e2e_skip "cannot bind-mount here"
	POD_TABLE=$POD/table
fi
e2e_log "layout: $LAYOUT (the pod mounts $( [ "$LAYOUT" = table ] && echo "the table" || echo "its parent"); LDMESH_TABLE=$POD_TABLE)"

# A long-lived "pod" process: resolves each name every 50 ms, logs a line
# when an answer changes; stops at $E2E_TMP/stop or after 600 s.
cat >"$E2E_TMP/watch.py" <<'PY'
import os, socket, sys, time
stop, names, last = sys.argv[1], sys.argv[2:], {}
end = time.monotonic() + 600
while time.monotonic() < end and not os.path.exists(stop):
    for n in names:
        try:
            a = sorted({ai[4][0] for ai in socket.getaddrinfo(n, 80, socket.AF_INET, socket.SOCK_STREAM)})
            r = " ".join(a)
        except OSError as e:
            r = "ERR %s" % e.__class__.__name__
        if last.get(n) != r:
            last[n] = r
            print("%d %s %s" % (time.monotonic_ns() // 1000000, n, r), flush=True)
    time.sleep(0.05)
PY
W=$E2E_TMP/watch.log
env LD_PRELOAD="$PRELOAD" LDMESH_TABLE="$POD_TABLE" LDMESH_NAMESPACE=default \
	"$PY" "$E2E_TMP/watch.py" "$E2E_TMP/stop" web.default.svc.cluster.local \
	late.default.svc.cluster.local >"$W" 2>"$E2E_TMP/watch.err" &
e2e_track $!
answers() { grep -q " $1 $2\$" "$W"; }
check "the pod resolves web through its mount" e2e_wait answers web.default.svc.cluster.local 10.96.0.80

# ---- the documented procedure, on the host ----------------------------------------
ino0=$(stat -c %i "$TABLE")
# rm -rf races the agent, which writes control again as soon as it goes
# (rm then fails with "Directory not empty"): repeated, as the README
# says, until the directory at the path is another one
removed() {
	chattr -R -i "$TABLE" 2>/dev/null
	rm -rf "$TABLE" 2>/dev/null
	[ "$(stat -c %i "$TABLE" 2>/dev/null)" != "$ino0" ]
}
check "the table directory removed on the host (chattr -R -i, rm -rf)" e2e_wait removed
t0=$(date +%s%N)
cat <<YAML | e2e_put late.yaml
apiVersion: v1
kind: Service
metadata: {name: late, namespace: default}
spec:
  clusterIP: 10.96.0.81
  ports: [{name: tcp, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: late-x1, namespace: default, labels: {kubernetes.io/service-name: late}}
addressType: IPv4
ports: [{name: tcp, port: 80, protocol: TCP}]
endpoints:
- addresses: [10.244.1.6]
  conditions: {ready: true}
YAML
recreated() { [ -f "$TABLE/control" ] && [ "$(stat -c %i "$TABLE")" != "$ino0" ]; }
check "the agent recreated the table directory on the host" e2e_wait recreated
host_has_late() { [ "$(e2e_cluster_ip late)" = 10.96.0.81 ]; }
check "the host's table has late" e2e_wait host_has_late
check_eq "the parent the pod mounts is still there" 755 "$(stat -c %a "$P")"
if e2e_wait answers late.default.svc.cluster.local 10.96.0.81; then
	ok "the pod follows the new table: late resolves there"
	e2e_log "late resolved in the pod $((($(date +%s%N) - t0) / 1000000)) ms after the removal"
else
	not_ok "the pod follows the new table: late never resolved there"
fi
check "and web still does" answers web.default.svc.cluster.local 10.96.0.80
touch "$E2E_TMP/stop"
sed 's/^/#   watch: /' "$W"
e2e_done
