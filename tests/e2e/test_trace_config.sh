#!/usr/bin/env bash
# The trace says what it could not do (issue 23, section 3, Trace):
# LDMESH_TRACE=stack names the module and the offset in it for every frame
# (the program's own, libc's), and the symbol where one is known; a bad
# LDMESH_* number is said once, with what is used instead, however many
# calls follow; an LDMESH_TRACE_FILE that cannot be opened is said once, on
# stderr, where the trace then goes; a name passed to DNS without its
# search list is said as such, not as "no cluster search domains".
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

ldconfig -p 2>/dev/null | grep -q 'libunwind\.so\.8 ' ||
	e2e_skip "libunwind.so.8 not installed (LDMESH_TRACE=stack loads it; tests/deps.sh)"
svc() { printf 'apiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: default}\nspec: {clusterIP: %s, ports: [{port: 80}]}\n' "$1" "$2"; }
svc a 10.96.40.1 | e2e_put a.yaml
e2e_agent
e2e_pod 127.0.0.1 9200 banner
NC=$(e2e_cc netclient)

# --- LDMESH_TRACE=stack: module+offset per frame ------------------------------
pl env LDMESH_TRACE=stack LDMESH_TRACE_FILE="$E2E_TMP/stack.trace" "$NC" banner 127.0.0.1 9200 1 >/dev/null
t=$(cat "$E2E_TMP/stack.trace" 2>/dev/null || true)
frame='^ldmesh\[[0-9]+\]   #[0-9]+ 0x[0-9a-f]+ '
check_match "stack: the connect is traced" '^ldmesh\[[0-9]+\] connect fd=[0-9]+ 127\.0\.0\.1:9200 pass$' "$t"
check_match "stack: a frame in the program names it and the offset in it" \
	"${frame}netclient\\+0x[0-9a-f]+( \\([A-Za-z_0-9.]+\\+0x[0-9a-f]+\\))?\$" "$t"
check_match "stack: with the symbol where one is known" \
	"${frame}libc\\.so\\.6\\+0x[0-9a-f]+ \\(__libc_start_main\\+0x[0-9a-f]+\\)\$" "$t"
check_match "stack: a frame in libc names libc.so.6 and the offset" \
	"${frame}libc\\.so\\.6\\+0x[0-9a-f]+( \\([A-Za-z_0-9.]+\\+0x[0-9a-f]+\\))?\$" "$t"
check_eq "stack: every frame names its module" "" \
	"$(grep -E "$frame" <<<"$t" | grep -vE "${frame}[^ ()]+\\+0x[0-9a-f]+( \\(.*\\+0x[0-9a-f]+\\))?\$" || true)"
# the offset is the module's: addr2line-able, the same in every run
off() { grep -E "${frame}netclient\\+0x" "$1" | head -n1 | sed -E 's/.* netclient\+(0x[0-9a-f]+).*/\1/'; }
pl env LDMESH_TRACE=stack LDMESH_TRACE_FILE="$E2E_TMP/stack2.trace" "$NC" banner 127.0.0.1 9200 1 >/dev/null
check_match "stack: the program's first frame has an offset" '^0x[0-9a-f]+$' "$(off "$E2E_TMP/stack.trace")"
check_eq "stack: the program's offset does not move with its load address" \
	"$(off "$E2E_TMP/stack.trace")" "$(off "$E2E_TMP/stack2.trace")"

# --- a bad number: said once, with what is used -------------------------------
pl env LDMESH_TRACE=1 LDMESH_TRACE_FILE="$E2E_TMP/bad.trace" LDMESH_CONNECT_ATTEMPTS=abc \
	LDMESH_OUTLIER_BASE_MS=-5 "$NC" banner 127.0.0.1 9200 3 >/dev/null
t=$(cat "$E2E_TMP/bad.trace" 2>/dev/null || true)
check_eq "the calls are traced (3 connects)" 3 "$(grep -c ' connect fd=' <<<"$t" || true)"
check_eq "a bad LDMESH_CONNECT_ATTEMPTS is said once" 1 "$(grep -c 'LDMESH_CONNECT_ATTEMPTS' <<<"$t" || true)"
check_match "with what it held, what is wanted and what is used" \
	'^ldmesh\[[0-9]+\] LDMESH_CONNECT_ATTEMPTS=abc: not a whole number from 1 to 10; using 3$' "$t"
check_match "any bad LDMESH_* number is" \
	'^ldmesh\[[0-9]+\] LDMESH_OUTLIER_BASE_MS=-5: not a whole number of ms from 0 to 86400000; using [0-9]+$' "$t"
pl env LDMESH_TRACE=1 LDMESH_TRACE_FILE="$E2E_TMP/good.trace" LDMESH_CONNECT_ATTEMPTS=2 \
	"$NC" banner 127.0.0.1 9200 1 >/dev/null
check_nomatch "a good value is not mentioned" 'LDMESH_CONNECT_ATTEMPTS' "$(cat "$E2E_TMP/good.trace")"

# --- an LDMESH_TRACE_FILE that cannot be opened: said on stderr ---------------
err=$(pl env LDMESH_TRACE=1 LDMESH_TRACE_FILE="$E2E_TMP/no/such/dir.trace" \
	"$NC" banner 127.0.0.1 9200 2 2>&1 >/dev/null)
check_eq "the unopenable trace file is said once" 1 "$(grep -c 'LDMESH_TRACE_FILE' <<<"$err" || true)"
check_match "on stderr, with why, and where the trace goes" \
	"^ldmesh\\[[0-9]+\\] LDMESH_TRACE_FILE=$E2E_TMP/no/such/dir\\.trace: cannot open: No such file or directory; tracing to stderr\$" "$err"
check_eq "the trace follows on stderr" 2 "$(grep -c ' connect fd=' <<<"$err" || true)"

# --- a name DNS gets without its search list ----------------------------------
pl env LDMESH_TRACE=1 LDMESH_TRACE_FILE="$E2E_TMP/pass.trace" getent ahosts localhost >/dev/null || true
t=$(cat "$E2E_TMP/pass.trace" 2>/dev/null || true)
check_match "the pass says what it means" \
	'^ldmesh\[[0-9]+\] getaddrinfo localhost pass \(not a cluster name: every search domain lies in the cluster domain, where the table has no such name, so DNS is asked for the name alone, without the search list\)$' "$t"
check_nomatch "not the old words" 'no cluster search domains' "$t"

e2e_done
