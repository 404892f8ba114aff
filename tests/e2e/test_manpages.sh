#!/usr/bin/env bash
# The manual pages (issue 23): each one built (build/man/, from the .scd
# beside its program) renders with man(1) without a warning, and says what
# its program's --help says: every option, command and environment variable
# in the --help text appears in the page, every LDMESH_* variable the
# preload reads appears in ldmesh(7), and ldmesh-table(5) names the format
# version snapshot.h defines. A new option without a line in its page fails
# here.
#
# No network, no root: nothing here needs a namespace.
. "$(dirname "$0")/lib.sh"

MAN=$LDMESH_BUILD/man
command -v man >/dev/null || e2e_skip "man (man-db) not installed"
command -v groff >/dev/null || e2e_skip "groff not installed"
[ -d "$MAN" ] || e2e_die "no $MAN: build with -DLDMESH_MANPAGES=ON (needs scdoc)"

# page -> the program whose --help it documents ("" for none)
declare -A PROG=(
	[ldmesh-agent.8]=ldmesh-agent [ldmeshctl.8]=ldmeshctl [ldmesh-sync.8]=ldmesh-sync
	[ldmesh-exec.1]=ldmesh-exec [ldmesh-dns.8]=ldmesh-dns [ldmesh.7]="" [ldmesh-table.5]=""
)

# The page as a reader sees it, one word never split across lines.
render() {
	LC_ALL=C.UTF-8 MANWIDTH=100 man --no-hyphenation --no-justification -l "$1" 2>/dev/null |
		col -bx | sed 's/\xe2\x80\x90/-/g; s/\xe2\x88\x92/-/g'
}

# Where the build put a program (the folder layout may move; the name not).
program() { find "$LDMESH_BUILD" -maxdepth 4 -type f -name "$1" -perm -u+x -print -quit; }

# What --help names: long and short options, the commands listed under
# "commands:", and environment variables.
help_words() {
	local text=$1
	# each part may find nothing (grep exits 1): that must not end the rest
	{ grep -oE -- '(^|[ ,[|(])--?[a-zA-Z][a-zA-Z0-9-]*' <<<"$text" || true; } | sed -E 's/^[ ,[|(]//'
	{ sed -n '/^commands:/,/^$/p' <<<"$text" | grep -oE '^  [a-z][a-z-]*' || true; } | tr -d ' '
	grep -oE '[A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9]' <<<"$text" || true
}

for page in "${!PROG[@]}"; do
	f=$MAN/$page
	check "$page is built" test -s "$f"
	[ -s "$f" ] || continue
	warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null)
	check_eq "$page: man --warnings says nothing" "" "$warn"
	warn=$(groff -ww -man -z "$f" 2>&1)
	check_eq "$page: groff -ww says nothing" "" "$warn"
	text=$(render "$f")
	check_match "$page: renders its NAME section" '^NAME' "$text"
	check_match "$page: renders to its end" '^SEE ALSO' "$text"

	p=${PROG[$page]}
	[ -n "$p" ] || continue
	bin=$(program "$p")
	check "$p is built" test -n "$bin"
	[ -n "$bin" ] || continue
	help=$("$bin" --help 2>&1 || true)
	n=0
	while read -r w; do
		n=$((n + 1))
		# bounded, so -t is not found inside --table nor --table in --table-x
		grep -qE -- "(^|[^a-zA-Z0-9-])$w([^a-zA-Z0-9-]|\$)" <<<"$text" ||
			not_ok "$page mentions '$w' (from $p --help)"
	done < <(help_words "$help" | sort -u)
	check_ge "$p --help: options found to compare" 3 "$n"
done

# ldmesh(7): every LDMESH_* variable the preload reads.
# (each is named as a whole string literal where it is read)
vars=$(grep -rhoE --include='*.c' '"LDMESH_[A-Z_]+"' "$LDMESH_SRC/preload" |
	grep -oE 'LDMESH_[A-Z_]+' | sort -u)
check_ge "the preload reads LDMESH_* variables" 5 "$(grep -c . <<<"$vars")"
text=$(render "$MAN/ldmesh.7")
for v in $vars; do
	grep -qw -- "$v" <<<"$text" || not_ok "ldmesh(7) documents $v"
done

# ldmesh-table(5): the format version the header defines.
h=$LDMESH_SRC/include/ldmesh/snapshot.h
maj=$(awk '/#define LDMESH_SNAP_VERSION_MAJOR/{print $3}' "$h")
min=$(awk '/#define LDMESH_SNAP_VERSION_MINOR/{print $3}' "$h")
check_match "ldmesh-table(5) names format version $maj.$min" "version $maj\\.$min\\b" \
	"$(render "$MAN/ldmesh-table.5")"

e2e_done
