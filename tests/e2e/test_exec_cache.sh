#!/usr/bin/env bash
# ldmesh-exec's caches give no wrong answer (issue 26):
#  - a receiver's cached pidfd for a thread that has exited, its tid now a
#    new process's (clone3 set_tid): that process's connects reach the
#    service from its own descriptors;
#  - one descriptor number reused for a direct TCP socket, then a UDP one,
#    after a redirected socket: getpeername and SO_ERROR answer for the
#    socket there now, not the VIP remembered for the one before.
. "$(dirname "$0")/lib.sh"
e2e_mountns "$@"
e2e_netns "$@"
# this pid namespace's own /proc: the tids ldmesh-exec sees are its numbers
mount -t proc proc /proc || e2e_skip "cannot mount /proc for this pid namespace"
e2e_setup
e2e_need_exec
e2e_web banner 10.244.1.5 10.244.2.5

BIN=$E2E_TMP/exec_reuse
# static: no preload can answer its connects in-process, ldmesh-exec must
cc -static -O1 -pthread -o "$BIN" "$E2E_DIR/exec_reuse.c" 2>/dev/null ||
	e2e_die "cannot link a static exec_reuse"
x() { env LDMESH_TABLE="$TABLE" LDMESH_NAMESPACE=default "$EXEC" "$@"; }

# --- tid reuse
out=$(x "$BIN" tid 10.96.0.80 9000 2>&1) || rc=$?
case ${rc:-0} in
77) e2e_skip "clone3 with set_tid refused here: $out" ;;
esac
tid=$(printf '%s\n' "$out" | sed -n 's/^thread \([0-9]*\):.*/\1/p')
check_match "the thread's 8 connects reached the pods" '^thread [0-9]+:( 10\.244\.[12]\.5){8}$' \
	"$(printf '%s\n' "$out" | grep '^thread')"
check_eq "a new process took the exited thread's tid" "reused $tid" \
	"$(printf '%s\n' "$out" | grep '^reused')"
check_match "its 8 connects reached the pods through its own descriptors" \
	'^child 8 of 8( 10\.244\.[12]\.5){8}$' "$(printf '%s\n' "$out" | grep '^child')"

# --- descriptor number reuse, another socket type
out=$(x "$BIN" fd 10.96.0.80 9000 10.244.1.5 9100 2>&1 || true)
check_match "the redirected socket answers the VIP" '^vip-tcp fd=[0-9]+ peer 10\.96\.0\.80:9000 so_error 0$' \
	"$(printf '%s\n' "$out" | grep '^vip-tcp')"
check_match "a TCP socket on that number, straight to the pod, answers the pod" \
	'^pod-tcp fd=[0-9]+ peer 10\.244\.1\.5:9100 so_error 0$' "$(printf '%s\n' "$out" | grep '^pod-tcp')"
check_match "a UDP socket on that number answers the pod" \
	'^pod-udp fd=[0-9]+ peer 10\.244\.1\.5:9100 so_error 0$' "$(printf '%s\n' "$out" | grep '^pod-udp')"
e2e_done
