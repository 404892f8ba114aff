#!/usr/bin/env bash
# The public headers from C++: include/ldmesh/*.h compile with g++ (and
# clang++ where installed) in every standard from C++11, warnings as
# errors, inside extern "C"; and the reader's structs that hold C11 atomics
# are laid out alike in C and in C++ (sizes and offsets printed by a C and
# a C++ program of the same text), so one ldmesh_table serves both.
. "$(dirname "$0")/lib.sh"
command -v g++ >/dev/null || e2e_skip "g++ not installed"
e2e_setup
INC=(-I"$LDMESH_SRC/include" -I"$LDMESH_BUILD/include")

cat >"$E2E_TMP/all.cpp" <<'CPP'
#include "ldmesh/hash.h"
#include "ldmesh/marker.h"
#include "ldmesh/reader.h"
#include "ldmesh/snapshot.h"
#include "ldmesh/version.h"
#include <cstdio>
int main(int argc, char **argv)
{
	struct ldmesh_snap s;
	char why[256];

	if (argc != 2)
		return 2;
	if (ldmesh_snap_map_file(&s, argv[1], why, sizeof(why)) < 0) {
		std::printf("refused: %s\n", why);
		return 1;
	}
	std::printf("%u services\n", ldmesh_snap_service_count(&s));
	ldmesh_snap_unmap(&s);
	return 0;
}
CPP
cxxs=(g++)
command -v clang++ >/dev/null && cxxs+=(clang++)
for cxx in "${cxxs[@]}"; do
	for std in c++11 c++17 c++20; do
		out=$("$cxx" -std=$std -fsyntax-only -Wall -Wextra -Werror -pedantic "${INC[@]}" \
			"$E2E_TMP/all.cpp" 2>&1) && rc=0 || rc=$?
		check_eq "the headers compile with $cxx -std=$std -Werror -pedantic${out:+: $(head -n 3 <<<"$out")}" 0 "$rc"
	done
done

# C linkage: a C++ program links the C reader library by its C names
READER=$(find "$LDMESH_BUILD" -name libldmesh_reader.a | head -n1)
if g++ -Wall -Wextra -Werror "${INC[@]}" -o "$E2E_TMP/cxxreader" "$E2E_TMP/all.cpp" "$READER" \
	2>"$E2E_TMP/link.log"; then
	"$AGENT" --once -m "$LDMESH_SRC/examples/manifests" -t "$E2E_TMP/table" >/dev/null 2>&1 ||
		e2e_die "the agent cannot publish examples/manifests"
	snap=$(find "$E2E_TMP/table" -name 'snap.*' | head -n1)
	check_match "a C++ program reads a table through the C library" '^[1-9][0-9]* services$' \
		"$("$E2E_TMP/cxxreader" "$snap" 2>&1)"
	check_match "and is told why a file is refused" '^refused: ' \
		"$("$E2E_TMP/cxxreader" /nonexistent 2>&1 || true)"
else
	not_ok "a C++ program links the reader library: $(head -n 5 "$E2E_TMP/link.log")"
fi

# the same text, compiled as C and as C++
cat >"$E2E_TMP/layout.c" <<'C'
#include <stdio.h>
#include "ldmesh/reader.h"
#define SZ(t) printf("sizeof " #t " %zu\n", sizeof(struct t))
#define AT(t, f) printf("offsetof " #t "." #f " %zu\n", offsetof(struct t, f))
int main(void)
{
	SZ(ldmesh_snap); SZ(ldmesh_table_slot); SZ(ldmesh_table);
	AT(ldmesh_table_slot, used); AT(ldmesh_table, pins);
	AT(ldmesh_table_slot, generation); AT(ldmesh_table_slot, snap);
	AT(ldmesh_table, control); AT(ldmesh_table, current);
	AT(ldmesh_table, seen_generation); AT(ldmesh_table, ticks_per_s);
	AT(ldmesh_table, refreshing); AT(ldmesh_table, dir_bad);
	AT(ldmesh_table, used_vip); AT(ldmesh_table, used_name);
	AT(ldmesh_table, slots); AT(ldmesh_table, on_event);
	return 0;
}
C
cp "$E2E_TMP/layout.c" "$E2E_TMP/layout.cpp"
cc -std=gnu11 "${INC[@]}" -o "$E2E_TMP/layout-c" "$E2E_TMP/layout.c" || e2e_die "layout.c does not compile"
if g++ -Wno-invalid-offsetof "${INC[@]}" -o "$E2E_TMP/layout-cxx" "$E2E_TMP/layout.cpp" 2>"$E2E_TMP/layout.log"; then
	c=$("$E2E_TMP/layout-c")
	check_eq "the reader's structs have one layout in C and C++" "$c" "$("$E2E_TMP/layout-cxx")"
	check_match "(and the comparison printed them)" '^offsetof ldmesh_table\.slots [0-9]+$' "$c"
else
	not_ok "layout.cpp compiles: $(head -n 3 "$E2E_TMP/layout.log")"
fi
e2e_done
