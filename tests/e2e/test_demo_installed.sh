#!/usr/bin/env bash
# The demo as installed (<prefix>/share/doc/ldmesh/examples/demo.sh, by
# `cmake --install` or the ldmesh package) runs: its dependency step reads
# the package list installed beside it (it once looked for tests/deps.sh,
# which is not installed), it builds nothing and uses the installed agent,
# ldmeshctl and library. The demo makes its own network namespace for its
# pods; this test runs it inside one of its own as well.
. "$(dirname "$0")/lib.sh"
command -v cmake >/dev/null || e2e_skip "cmake not installed"
e2e_netns "$@"
e2e_setup

PREFIX=$E2E_TMP/prefix
cmake --install "$LDMESH_BUILD" --prefix "$PREFIX" >"$E2E_TMP/install.log" 2>&1 ||
	{ cat "$E2E_TMP/install.log"; e2e_die "cmake --install failed"; }
demo=$PREFIX/share/doc/ldmesh/examples/demo.sh
check "installed: the demo" test -x "$demo"
check "installed: the package list it sources, beside it" test -f "$(dirname "$demo")/deps.sh"

rc=0; out=$(cd / && bash "$demo" --deps-only 2>&1) || rc=$?
check_eq "the installed demo's dependency step passes" 0 "$rc"
check_nomatch "it finds every file it sources" 'No such file' "$out"
check_match "it builds nothing and uses the installed programs" \
	"^using the installed $PREFIX/bin/ldmesh-agent, $PREFIX/bin/ldmeshctl and $PREFIX/lib/.*libldmesh\.so\.0\$" "$out"

rc=0; out=$(cd / && bash "$demo" 2>&1) || rc=$?
check_eq "the whole installed demo runs" 0 "$rc"
check_match "the installed agent checks and publishes the examples" '^default +backend +ClusterIP ' "$out"
if grep -q '^skipped: cannot create a network namespace' <<<"$out"; then
	e2e_log "the demo could not make its own namespace here: its pods part was skipped"
else
	check_match "the pods reach each other by service name through the installed library" \
		'GET http://backend/ -> hello from pod backend-' "$out"
fi
e2e_done
