#!/usr/bin/env bash
# examples/demo.sh (issue 23): it runs to the end on this build, its pods
# reach each other by name, and its headers are bold on a terminal only:
# written to a pipe or a log it prints no escape sequence.
#
# The demo makes its own private network namespace for the pods (and says
# "skipped" when it cannot); here it needs root for that, or the test skips.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || e2e_skip "the demo's pods need a network namespace: run as root"
unshare --net true 2>/dev/null || e2e_skip "cannot create a network namespace"
command -v script >/dev/null || e2e_skip "script(1) (bsdutils) not installed"
DEMO=$LDMESH_SRC/examples/demo.sh
E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ldmesh-e2e.XXXXXX")
trap 'rm -rf "$E2E_TMP"' EXIT

# To a pipe: plain text. (The demo configures and builds LDMESH_BUILD, which
# is up to date here: nothing is rebuilt.)
LDMESH_BUILD=$LDMESH_BUILD bash "$DEMO" 2>&1 | cat >"$E2E_TMP/pipe.out"
out=$(cat "$E2E_TMP/pipe.out")
check_match "the demo ran to its end" '^== done in [0-9]+ s: everything stopped' "$out"
check_match "the frontend reached a backend pod by name" 'GET http://backend/ -> hello from pod backend-' "$out"
check_match "the frontend reached redis by name" 'redis GET greeting -> hello from' "$out"
check_nomatch "no escape sequence when not on a terminal" $'\033' "$out"

# On a terminal (script(1) gives it one): bold headers.
LDMESH_BUILD=$LDMESH_BUILD script -qec "bash '$DEMO'" "$E2E_TMP/tty.out" >/dev/null 2>&1 </dev/null
check_match "bold headers on a terminal" $'\033\\[1m== done in' "$(cat "$E2E_TMP/tty.out")"

e2e_done
