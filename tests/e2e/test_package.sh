#!/usr/bin/env bash
# The packages. `cmake --install` lays out the programs, both preload
# libraries, the headers and a pkg-config file under a prefix, and a tool of
# one's own builds against the reader with pkg-config alone (whose -I is
# normalised). `cpack -G DEB` makes the three .debs (test_packages.sh checks
# them as Debian does); dpkg installs them (into a scratch root with a
# database of its own, so the machine's is untouched), and the agent
# publishes a service and the library takes a client to its backend. Every
# program answers --version.
. "$(dirname "$0")/lib.sh"
for tool in cpack dpkg dpkg-deb pkg-config cc; do
	command -v "$tool" >/dev/null || e2e_skip "$tool not installed"
done
e2e_netns "$@"
e2e_setup

PREFIX=$E2E_TMP/prefix
check "cmake --install puts everything under a prefix" \
	cmake --install "$LDMESH_BUILD" --prefix "$PREFIX"
libdir=$(dirname "$(find "$PREFIX" -name libldmesh.so | head -n1)")
for f in bin/ldmesh-agent bin/ldmeshctl bin/ldmesh-sync bin/ldmesh-exec include/ldmesh/reader.h include/ldmesh/snapshot.h \
	include/ldmesh/version.h share/doc/ldmesh/README.md share/doc/ldmesh/examples/deploy/ldmesh.yaml; do
	check "installed: $f" test -f "$PREFIX/$f"
done
for f in libldmesh.so libldmesh_reader.a pkgconfig/ldmesh.pc; do
	check "installed: ${libdir#"$PREFIX"/}/$f" test -f "$libdir/$f"
done
if [ -f "$MUSL_LIB" ]; then
	check "installed: the musl library beside the glibc one" test -f "$libdir/libldmesh-musl.so"
fi
for prog in ldmesh-agent ldmeshctl ldmesh-exec; do
	check_match "$prog --version" "^$prog [0-9]+\.[0-9]+\.[0-9]+ \(table format [0-9]+\.[0-9]+\)$" \
		"$("$PREFIX/bin/$prog" --version)"
done
check_match "ldmesh-sync --version" '^ldmesh-sync [0-9]+\.[0-9]+\.[0-9]+$' "$("$PREFIX/bin/ldmesh-sync" --version)"

e2e_add_ip 10.244.1.5
e2e_pod 10.244.1.5 9100
e2e_put_web 10.244.1.5

# A tool of one's own, built with nothing but pkg-config and the prefix.
cat >"$E2E_TMP/count.c" <<'C'
#include <stdio.h>
#include "ldmesh/reader.h"
#include "ldmesh/version.h"
int main(int argc, char **argv)
{
	struct ldmesh_snap s;
	char why[256];
	if (argc != 2 || ldmesh_snap_map_file(&s, argv[1], why, sizeof(why)) < 0) {
		fprintf(stderr, "%s\n", argc == 2 ? why : "usage: count SNAPSHOT");
		return 1;
	}
	printf("%u services (ldmesh %s)\n", s.n_services, LDMESH_VERSION);
	ldmesh_snap_unmap(&s);
	return 0;
}
C
export PKG_CONFIG_PATH=$libdir/pkgconfig
check_eq "pkg-config --cflags: the prefix's include folder, normalised" "-I$PREFIX/include" \
	"$(pkg-config --cflags ldmesh | sed 's/ *$//')"
messy=$E2E_TMP/./messy//p/
cmake --install "$LDMESH_BUILD" --prefix "$messy" --component libldmesh-dev >/dev/null
check_eq "and from a prefix written with // and /./" "-I$E2E_TMP/messy/p/include" \
	"$(PKG_CONFIG_PATH=$(dirname "$(find "$E2E_TMP/messy" -name ldmesh.pc)") pkg-config --cflags ldmesh | sed 's/ *$//')"
# shellcheck disable=SC2046
check "a program builds against the installed reader with pkg-config" \
	cc -o "$E2E_TMP/count" "$E2E_TMP/count.c" $(pkg-config --cflags --libs ldmesh)
"$PREFIX/bin/ldmesh-agent" --once -m "$MANIFESTS" -t "$E2E_TMP/table-p" >/dev/null 2>&1
check_match "and reads the installed agent's table" '^1 services \(ldmesh [0-9.]+\)$' \
	"$("$E2E_TMP/count" "$E2E_TMP/table-p/snap.1" 2>&1)"

mkdir -p "$E2E_TMP/pkg"
(cd "$E2E_TMP/pkg" && cpack -G DEB --config "$LDMESH_BUILD/CPackConfig.cmake") >"$E2E_TMP/cpack.log" 2>&1
deb=$(ls "$E2E_TMP"/pkg/ldmesh_*.deb 2>/dev/null | head -n1)
check "cpack -G DEB makes the programs' .deb" test -n "$deb"
check "and the libraries' (libldmesh, libldmesh-dev)" \
	test -f "$(ls "$E2E_TMP"/pkg/libldmesh_*.deb)" -a -f "$(ls "$E2E_TMP"/pkg/libldmesh-dev_*.deb)"
[ -n "$deb" ] || { cat "$E2E_TMP/cpack.log"; e2e_done; }
check_eq "its package name" ldmesh "$(dpkg-deb -f "$deb" Package)"
check_match "it depends on libyaml" 'libyaml-0-2' "$(dpkg-deb -f "$deb" Depends)"
check_match "it depends on libcurl and json-c (ldmesh-sync)" 'libcurl4.*libjson-c5' "$(dpkg-deb -f "$deb" Depends)"

ROOT=$E2E_TMP/root
mkdir -p "$ROOT/var/lib/dpkg/updates" "$ROOT/var/lib/dpkg/info"
: >"$ROOT/var/lib/dpkg/status"
# --force-depends: the scratch database knows no libc6 or libyaml (the
# machine has both); --force-script-chrootless: no maintainer scripts run
rc=0
dpkg --root="$ROOT" --force-depends --force-not-root --force-script-chrootless \
	-i "$E2E_TMP"/pkg/*.deb >"$E2E_TMP/dpkg.log" 2>&1 || rc=$?
check_eq "dpkg -i installs the three" 0 "$rc"
for p in ldmesh libldmesh libldmesh-dev; do
	check_match "dpkg knows $p as installed" "^ii +$p " \
		"$(dpkg --root="$ROOT" -l "$p" | tail -n1)"
done
check "the package's agent runs" test -x "$ROOT/usr/bin/ldmesh-agent"
"$ROOT/usr/bin/ldmesh-agent" -m "$MANIFESTS" -t "$TABLE" >>"$E2E_TMP/agent.log" 2>&1 &
e2e_track $!
e2e_wait_gen_after 0 >/dev/null || not_ok "the package's agent published nothing"
pkg_lib=$(find "$ROOT/usr" -name libldmesh.so.0 | head -n1)
check_eq "the package's library takes a client to the backend" 10.244.1.5 \
	"$(env LD_PRELOAD="$pkg_lib" LDMESH_TABLE="$TABLE" "$PY" -c '
import socket
s = socket.create_connection(("10.96.0.80", 9000), timeout=5)
print(s.recv(64).decode().strip())' 2>&1)"
check_match "and ldmeshctl from the package shows the table" '^default +web +ClusterIP +10\.96\.0\.80 ' \
	"$("$ROOT/usr/bin/ldmeshctl" -t "$TABLE" services 2>&1)"
e2e_done
