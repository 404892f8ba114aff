#!/usr/bin/env bash
# libldmesh-musl.so preloaded into a glibc program by mistake: the program
# stops before main, as the loader would have stopped it (127), but with a
# message that names the library meant for it, never ld.so's "libc.so:
# invalid ELF header". No network: nothing here connects.
. "$(dirname "$0")/lib.sh"
command -v musl-gcc >/dev/null || e2e_skip "musl-gcc not installed (musl-tools)"
[ -f "$MUSL_LIB" ] || e2e_skip "$MUSL_LIB not built (configure with musl-gcc installed)"
e2e_setup

check_match "the musl library is a shared library of its own name" \
	'SONAME.*\[libldmesh-musl\.so\.[0-9]+\]' "$(readelf -d "$MUSL_LIB")"
for prog in /bin/echo "$PY"; do
	rc=0
	out=$(LD_PRELOAD=$MUSL_LIB "$prog" --version 2>"$E2E_TMP/err") || rc=$?
	err=$(cat "$E2E_TMP/err")
	check_eq "$prog under the musl library stops as the loader would" 127 "$rc"
	check_eq "before its main (no output)" "" "$out"
	check_match "saying which library it is and which to preload instead" \
		'^ldmesh: libldmesh-musl\.so is for musl programs .* uses glibc: preload libldmesh\.so instead$' "$err"
	check_nomatch "not with the loader's unreadable error" 'invalid ELF header|error while loading' "$err"
done
check_match "the glibc library still serves the same program" '^echo \(GNU coreutils\)' \
	"$(LD_PRELOAD=$LIB /bin/echo --version 2>&1 | head -n1)"
e2e_done
