#!/usr/bin/env bash
# libldmesh.so exports exactly the functions its sources mark LDMESH_EXPORT
# (preload/redirect/export.h), and none of them is defined in an archive that a
# program of ours links (ldmeshctl, ldmesh-exec, the tests), where it would
# replace that program's own libc call. Whatever a file is named.
#
#   check_preload_exports.sh PRELOAD_SRC_DIR LIBLDMESH_SO ARCHIVE...
set -uo pipefail
src=${1:?usage: $0 PRELOAD_SRC_DIR LIBLDMESH_SO ARCHIVE...}
lib=${2:?libldmesh.so}
shift 2
bad=0

# "LDMESH_EXPORT int close(int fd)" -> close: the name before the first '('
marked=$(grep -rhoE --include='*.c' 'LDMESH_EXPORT[^(;]*\(' "$src" |
	sed -E 's/\($//; s/.*[^A-Za-z0-9_]//' | sort -u)
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TtWiI]$/ { print $3 }' | sed 's/@.*//' | sort -u)
[ -n "$marked" ] || { echo "no LDMESH_EXPORT function found under $src"; exit 1; }

while read -r name; do
	[ -n "$name" ] && { echo "$lib exports $name, which no source marks LDMESH_EXPORT"; bad=1; }
done < <(comm -13 <(echo "$marked") <(echo "$exported"))
while read -r name; do
	[ -n "$name" ] && { echo "$lib does not export $name, marked LDMESH_EXPORT"; bad=1; }
done < <(comm -23 <(echo "$marked") <(echo "$exported"))

for a in "$@"; do
	while read -r name; do
		[ -n "$name" ] && { echo "$a defines the hook $name: a program linking it would call it for libc's"; bad=1; }
	done < <(nm --defined-only "$a" 2>/dev/null | awk '$2 ~ /^[TW]$/ { print $3 }' | sort -u |
		 comm -12 - <(echo "$marked"))
done
[ $bad = 0 ] && echo "libldmesh.so exports the $(echo "$marked" | wc -l) LDMESH_EXPORT hooks, and no archive holds one"
exit $bad
