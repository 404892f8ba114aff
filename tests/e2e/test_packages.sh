#!/usr/bin/env bash
# The Debian packages as Debian sees them. `cpack -G DEB` makes ldmesh (the
# programs), libldmesh (the preload libraries) and libldmesh-dev (headers,
# static reader, ldmesh.pc); each is checked for what policy asks and
# lintian reports with no error: its control fields, its files and their
# modes, a DEP-5 copyright and a changelog.Debian.gz, stripped ELF files
# without RPATH, SONAMEs, shlibs and an ldconfig trigger. Unpacked with
# dpkg -x (no maintainer script runs, the machine's dpkg database is not
# touched), its programs answer --version and its library preloads. No
# network: nothing here connects.
. "$(dirname "$0")/lib.sh"
for tool in cpack dpkg-deb readelf gzip; do
	command -v "$tool" >/dev/null || e2e_skip "$tool not installed"
done
command -v lintian >/dev/null || e2e_skip "lintian not installed (apt-get install lintian)"
e2e_setup

mkdir -p "$E2E_TMP/pkg"
(cd "$E2E_TMP/pkg" && cpack -G DEB --config "$LDMESH_BUILD/CPackConfig.cmake") >"$E2E_TMP/cpack.log" 2>&1 ||
	{ cat "$E2E_TMP/cpack.log"; e2e_die "cpack -G DEB failed"; }
deb() { ls "$E2E_TMP/pkg/$1"_*.deb 2>/dev/null | head -n1; }
for p in ldmesh libldmesh libldmesh-dev; do
	check "cpack made the $p package" test -n "$(deb "$p")"
done
[ "$E2E_FAILS" -eq 0 ] || { cat "$E2E_TMP/cpack.log"; e2e_done; }
BIN=$(deb ldmesh) LIBP=$(deb libldmesh) DEV=$(deb libldmesh-dev)
version=$(dpkg-deb -f "$BIN" Version)
check_match "a Debian revision in the version (changelog.Debian, not a native package)" \
	'^[0-9]+\.[0-9]+\.[0-9]+-[0-9]+$' "$version"

# ---- control fields ------------------------------------------------------
field() { dpkg-deb -f "$1" "$2"; }
check_eq "ldmesh: Section" net "$(field "$BIN" Section)"
check_eq "libldmesh: Section" libs "$(field "$LIBP" Section)"
check_eq "libldmesh-dev: Section" libdevel "$(field "$DEV" Section)"
for d in "$BIN" "$LIBP" "$DEV"; do
	p=$(field "$d" Package)
	check_eq "$p: Priority" optional "$(field "$d" Priority)"
	check_match "$p: a maintainer with a name and an address" '^[^<]+ <[^@ ]+@[^> ]+>$' \
		"$(field "$d" Maintainer)"
	desc=$(field "$d" Description)
	check_match "$p: a synopsis" '^[a-z].{10,78}$' "$(head -n1 <<<"$desc")"
	check_ge "$p: and a long description" 3 "$(tail -n +2 <<<"$desc" | grep -c '^ [^ ]')"
	check_eq "$p: md5sums of its files" "$(dpkg-deb -c "$d" | grep -c '^-')" \
		"$(dpkg-deb --ctrl-tarfile "$d" | tar -xO ./md5sums | wc -l)"
done
check_match "ldmesh depends on what shlibdeps found: libc6, libyaml, libcurl, json-c" \
	'libc6 \(>= [0-9.]+\).*libcurl4.*libjson-c5.*libyaml-0-2' "$(field "$BIN" Depends)"
check_match "libldmesh depends on libc6" '^libc6 \(>= [0-9.]+\)$' "$(field "$LIBP" Depends)"
check_eq "libldmesh-dev depends on libldmesh of its version" "libldmesh (= $version)" \
	"$(field "$DEV" Depends)"
ctrl() { dpkg-deb --ctrl-tarfile "$1" | tar -xO "./$2" 2>/dev/null; }
check_eq "libldmesh: an ldconfig trigger" "activate-noawait ldconfig" "$(ctrl "$LIBP" triggers)"
check_match "libldmesh: a shlibs entry per library" \
	'^libldmesh 0 libldmesh \(>= [^)]+\)$' "$(ctrl "$LIBP" shlibs)"

# ---- files and modes -----------------------------------------------------
mkdir -p "$E2E_TMP/root"
for d in "$BIN" "$LIBP" "$DEV"; do dpkg -x "$d" "$E2E_TMP/root"; done
R=$E2E_TMP/root
libdir=$(dirname "$(find "$R/usr/lib" -name 'libldmesh.so.0' | head -n1)")
contents() { dpkg-deb -c "$1" | awk '{print $1, $2, $6}'; }
for prog in ldmesh-agent ldmeshctl ldmesh-sync ldmesh-exec; do
	check_match "ldmesh: usr/bin/$prog, 0755 root" "^-rwxr-xr-x root/root \./usr/bin/$prog\$" "$(contents "$BIN")"
done
check_match "libldmesh: libldmesh.so.0, not executable" \
	'^-rw-r--r-- root/root \./usr/lib/([a-z0-9_-]+/)?libldmesh\.so\.0\.[0-9.]+$' "$(contents "$LIBP")"
if [ -f "$MUSL_LIB" ]; then
	check_match "libldmesh: libldmesh-musl.so.0, not executable" \
		'^-rw-r--r-- root/root \./usr/lib/([a-z0-9_-]+/)?libldmesh-musl\.so\.0$' "$(contents "$LIBP")"
fi
check_nomatch "libldmesh: no link without a version (that is -dev's)" '\./usr/lib/.*\.so ->' \
	"$(dpkg-deb -c "$LIBP")"
for f in 'include/ldmesh/reader\.h' 'include/ldmesh/snapshot\.h' 'include/ldmesh/version\.h' \
	'lib/([a-z0-9_-]+/)?libldmesh_reader\.a' 'lib/([a-z0-9_-]+/)?pkgconfig/ldmesh\.pc'; do
	check_match "libldmesh-dev: usr/$f, 0644 root" "^-rw-r--r-- root/root \./usr/$f\$" "$(contents "$DEV")"
done
check_match "libldmesh-dev: libldmesh.so, a link to the SONAME" '\./usr/lib/.*libldmesh\.so -> libldmesh\.so\.0$' \
	"$(dpkg-deb -c "$DEV")"
for d in "$BIN" "$LIBP" "$DEV"; do
	p=$(field "$d" Package)
	# (a symbolic link's mode is lrwxrwxrwx and means nothing)
	check_eq "$p: every entry root's, none group- or world-writable" "" \
		"$(dpkg-deb -c "$d" | awk '$2 != "root/root" || ($1 !~ /^l/ && $1 ~ /^.....w|^........w/)')"
	check_match "$p: a DEP-5 copyright in usr/share/doc/$p" \
		'^Format: https://www\.debian\.org/doc/packaging-manuals/copyright-format/1\.0/$' \
		"$(cat "$R/usr/share/doc/$p/copyright" 2>&1)"
	check_match "$p: under the MIT license" '^License: MIT$' "$(cat "$R/usr/share/doc/$p/copyright" 2>&1)"
	cl=$R/usr/share/doc/$p/changelog.Debian.gz
	check_match "$p: a changelog.Debian.gz whose first entry is this version" \
		"^ldmesh \($version\) [a-z]+; urgency=" "$(gzip -dc "$cl" 2>&1 | head -n1)"
	# gzip -9n: no name, no time (bytes 4-7), best compression (byte 8 = 2)
	check_eq "$p: compressed with gzip -9n" "00000000 02" \
		"$(od -An -tx1 -j4 -N5 "$cl" | tr -d ' \n' | sed 's/^\(........\)/\1 /')"
done

check_eq "manual pages, if any, compressed (lintian: an error else)" "" \
	"$(for d in "$BIN" "$LIBP" "$DEV"; do dpkg-deb -c "$d"; done |
		awk '$1 ~ /^-/ && $6 ~ /^\.\/usr\/share\/man\// && $6 !~ /\.gz$/')"

# ---- ELF files -----------------------------------------------------------
elves=("$R"/usr/bin/* "$libdir"/libldmesh.so.0.*)
[ -f "$libdir/libldmesh-musl.so.0" ] && elves+=("$libdir/libldmesh-musl.so.0")
for f in "${elves[@]}"; do
	n=${f#"$R"/}
	check_nomatch "$n: stripped (no symbol table, no debug sections)" '\.symtab|\.debug_' \
		"$(readelf -SW "$f")"
	check_nomatch "$n: no RPATH or RUNPATH" 'RPATH|RUNPATH' "$(readelf -d "$f")"
done
check_match "libldmesh.so.0's SONAME" 'SONAME.*\[libldmesh\.so\.0\]' "$(readelf -d "$libdir/libldmesh.so.0")"
if [ -f "$libdir/libldmesh-musl.so.0" ]; then
	check_match "libldmesh-musl.so.0's SONAME" 'SONAME.*\[libldmesh-musl\.so\.0\]' \
		"$(readelf -d "$libdir/libldmesh-musl.so.0")"
fi

# ---- unpacked, it runs ---------------------------------------------------
for prog in ldmesh-agent ldmeshctl ldmesh-exec; do
	check_match "the package's $prog --version" "^$prog [0-9]+\.[0-9]+\.[0-9]+ " \
		"$(LD_LIBRARY_PATH=$libdir "$R/usr/bin/$prog" --version 2>&1)"
done
check_match "the package's ldmesh-sync --version" '^ldmesh-sync [0-9]+\.[0-9]+\.[0-9]+$' \
	"$(LD_LIBRARY_PATH=$libdir "$R/usr/bin/ldmesh-sync" --version 2>&1)"
check_eq "the package's library preloads cleanly into a program" "preloaded" \
	"$(LD_PRELOAD=$libdir/libldmesh.so.0 "$PY" -c 'print("preloaded")' 2>&1)"
pc=$(find "$R/usr/lib" -name ldmesh.pc | head -n1)
check_eq "ldmesh.pc names the installed include folder, normalised" /usr/include \
	"$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --variable=includedir ldmesh)"
check_eq "and the library folder" "${libdir#"$R"}" \
	"$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --variable=libdir ldmesh)"

# ---- lintian -------------------------------------------------------------
lintian --display-level '>=warning' --show-overrides "$BIN" "$LIBP" "$DEV" >"$E2E_TMP/lintian.log" 2>&1 || true
grep -E '^[EWO]: ' "$E2E_TMP/lintian.log" | sed 's/^/# lintian: /'
check_match "lintian ran on the three packages" '^(W|O): ' "$(cat "$E2E_TMP/lintian.log")"
check_eq "lintian: no error" 0 "$(grep -c '^E: ' "$E2E_TMP/lintian.log" || true)"
e2e_done
