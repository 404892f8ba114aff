#!/usr/bin/env bash
# How long ldmesh-exec and the program under it live, one against the other:
#  - the supervisor killed (SIGKILL): the program goes too, instead of
#    living on with every connect failing ENOSYS;
#  - the program exits leaving a process behind (a daemon): ldmesh-exec
#    stays, that process's connects to a service are still redirected, and
#    ldmesh-exec exits with the program's status once it ends;
#  - a signal to ldmesh-exec after the program is gone reaches what it
#    left behind.
. "$(dirname "$0")/lib.sh"
e2e_mountns "$@"
e2e_netns "$@"
# this pid namespace's own /proc: pgrep and ldmesh-exec see its numbers
mount -t proc proc /proc || e2e_skip "cannot mount /proc for this pid namespace"
e2e_setup
e2e_need_exec
e2e_web banner 10.244.1.5 10.244.2.5

# a process that has ended (gone, or a zombie its new parent has not reaped)
ended() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
child_of() { pgrep -P "$1" "$2" | head -n1; }
# (a command, not a function: `X... &` makes $! ldmesh-exec itself)
X=(env LDMESH_TABLE="$TABLE" LDMESH_NAMESPACE=default "$EXEC")

# --- the supervisor dies: the program with it
"${X[@]}" sleep 300 &
sup=$!
e2e_track "$sup"
e2e_wait child_of "$sup" sleep >/dev/null || e2e_die "the program did not start"
prog=$(child_of "$sup" sleep)
e2e_track "$prog"
kill -KILL "$sup"
if e2e_wait ended "$prog"; then
	ok "SIGKILL of ldmesh-exec ends the program"
else
	not_ok "SIGKILL of ldmesh-exec ends the program: pid $prog still runs"
fi

# --- the program leaves a process behind, which connects after it is gone
DAEMON='
import os, socket, sys, time
out = sys.argv[1]
parent = os.getpid()
if os.fork():
    os._exit(3)                      # the program: gone at once
deadline = time.monotonic() + 20
while os.getppid() == parent and time.monotonic() < deadline:
    time.sleep(0.01)                 # until the program has exited
try:
    s = socket.create_connection(("10.96.0.80", 9000), timeout=5)
    msg = s.recv(64).decode().strip()
except OSError as e:
    msg = "error: %s" % e
with open(out + ".tmp", "w") as f:
    f.write(msg + "\n")
os.rename(out + ".tmp", out)
'
rc=0
"${X[@]}" "$PY" -c "$DAEMON" "$E2E_TMP/left.out" || rc=$?
check_eq "ldmesh-exec exits with the program's status, not the leftover's" 3 "$rc"
check_match "it waited for the leftover, whose connect to the VIP was redirected" \
	'^10\.244\.[12]\.5$' "$(cat "$E2E_TMP/left.out" 2>/dev/null || echo 'no output: ldmesh-exec left first')"

# --- a signal after the program is gone goes to what it left
LEFT='
import os, signal, sys, time
parent = os.getpid()
if os.fork():
    os._exit(0)
deadline = time.monotonic() + 20
while os.getppid() == parent and time.monotonic() < deadline:
    time.sleep(0.01)                 # until the program has exited
signal.signal(signal.SIGTERM, lambda *a: (open(sys.argv[1], "w").close(), os._exit(0)))
open(sys.argv[1] + ".up", "w").close()
time.sleep(60)
'
"${X[@]}" "$PY" -c "$LEFT" "$E2E_TMP/term" &
sup=$!
e2e_track "$sup"
e2e_wait_file "$E2E_TMP/term.up" 400 || e2e_die "the leftover did not start"
kill -TERM "$sup"
rc=0
wait "$sup" || rc=$?
check "SIGTERM to ldmesh-exec reached the leftover" test -e "$E2E_TMP/term"
check_eq "and ldmesh-exec then exits with the program's status" 0 "$rc"
e2e_done
