#!/usr/bin/env bash
# A tree of stages (agent/, preload/) in which a folder includes only the
# folders before it: agent/CMakeLists.txt says why the agent's order is
# what it is, preload/CMakeLists.txt the preload's. The build already
# refuses most wrong includes (a library's include path holds its own
# folder and those of the libraries it links); this check says it for
# every file, headers included, also those no target compiles, and needs
# nothing but bash (it runs in a tarball, without git).
#
#   check_stage_includes.sh DIR "STAGE..." "BESIDE..."
#
# STAGE... are DIR's stage folders, first to last; BESIDE... the folders
# that stand after them all (agent/ctl, agent/sync, preload/exec), which,
# like the files of DIR itself, may include any stage and nothing of each
# other. A header is named by its file name or a path relative to the
# including file; one that is not in DIR (ldmesh/*.h, the system's) is not
# this check's business. Exit 1 with one line per include that breaks the
# order, per header name found in two folders, and per folder in DIR that
# is neither a stage nor beside.
set -uo pipefail

dir_=$(cd "${1:?usage: $0 DIR \"STAGE...\" \"BESIDE...\"}" && pwd) || exit 2
top=$(basename "$dir_")
read -r -a stages <<<"${2:?stages}"
read -r -a beside <<<"${3-}"
n=${#stages[@]}
bad=0

declare -A rank=([.]=$n)          # folder (relative to DIR) -> its place
for i in "${!stages[@]}"; do rank[${stages[$i]}]=$i; done
for b in "${beside[@]}"; do rank[$b]=$n; done

declare -A home=()                # header file name -> its folder
shopt -s nullglob
for dir in "$dir_"/*/; do
	d=$(basename "$dir")
	if [ -z "${rank[$d]+set}" ]; then
		echo "$top/$d: neither a stage nor beside them ($top/CMakeLists.txt lists them)"
		bad=1
	fi
done
for d in "${!rank[@]}"; do
	for h in "$dir_/$d"/*.h; do
		name=$(basename "$h")
		if [ -n "${home[$name]+set}" ]; then
			echo "$top/$d/$name and $top/${home[$name]}/$name: one name, two headers"
			bad=1
		fi
		home[$name]=$d
	done
done

# The folder (relative to DIR) an include of `file` names, into $to;
# empty when it is not one of DIR's headers.
included_folder() { # file, include
	local from=$1 inc=$2 path
	to=
	if [[ $inc == */* ]]; then
		path=$(cd "$(dirname "$from")" && realpath -m "$inc")
		[ -f "$path" ] || return 0
		case $path in "$dir_"/*) ;; *) return 0 ;; esac
		path=${path#"$dir_"/}
		if [[ $path == */* ]]; then to=${path%%/*}; else to=.; fi
	elif [ -n "${home[$inc]+set}" ]; then
		to=${home[$inc]}
	fi
}

for d in "${!rank[@]}"; do
	for f in "$dir_/$d"/*.[ch]; do
		lineno=0
		while IFS= read -r line; do
			lineno=$((lineno + 1))
			[[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*[\"\<]([^\"\>]+)[\"\>] ]] || continue
			inc=${BASH_REMATCH[1]}
			included_folder "$f" "$inc"
			[ -n "$to" ] && [ "$to" != "$d" ] || continue
			if [ "${rank[$to]}" -ge "${rank[$d]}" ]; then
				echo "$top/${f#"$dir_"/}:$lineno: includes $inc of $top/${to#.}, which is not a stage before $top/${d#.}"
				bad=1
			fi
		done <"$f"
	done
done
[ $bad = 0 ] && echo "$top: every include names the file's own stage or one before it (${stages[*]})"
exit $bad
