#!/usr/bin/env bash
# The agent's stages include only the stages before them (agent/CMakeLists.txt
# says why the order is what it is). The build already refuses most upward
# includes (a stage's library sees only its own folder and the folders of
# the stages it links); this check says it for every file, headers included,
# also those no target compiles, and needs nothing but bash (it runs in a
# tarball, without git).
#
#   check_agent_includes.sh AGENT_DIR "STAGE..." "BESIDE..."
#
# STAGE... are agent/'s stage folders, first to last; BESIDE... the folders
# beside the pipeline (ldmeshctl, ldmesh-sync), which, like the files of
# agent/ itself (the control loop), may include any stage and nothing of
# each other. A header is named by its file name or a path relative to the
# including file; one that is not in agent/ (ldmesh/*.h, the preload's,
# the system's) is not this check's business. Exit 1 with one line per
# include that breaks the order, per header name found in two folders, and
# per folder in agent/ that is neither a stage nor beside.
set -uo pipefail

agent=$(cd "${1:?usage: $0 AGENT_DIR \"STAGE...\" \"BESIDE...\"}" && pwd) || exit 2
read -r -a stages <<<"${2:?stages}"
read -r -a beside <<<"${3-}"
n=${#stages[@]}
bad=0

declare -A rank=([.]=$n)          # folder (relative to agent/) -> its place
for i in "${!stages[@]}"; do rank[${stages[$i]}]=$i; done
for b in "${beside[@]}"; do rank[$b]=$n; done

declare -A home=()                # header file name -> its folder
shopt -s nullglob
for dir in "$agent"/*/; do
	d=$(basename "$dir")
	if [ -z "${rank[$d]+set}" ]; then
		echo "agent/$d: neither a stage nor beside them (agent/CMakeLists.txt lists them)"
		bad=1
	fi
done
for d in "${!rank[@]}"; do
	for h in "$agent/$d"/*.h; do
		name=$(basename "$h")
		if [ -n "${home[$name]+set}" ]; then
			echo "agent/$d/$name and agent/${home[$name]}/$name: one name, two headers"
			bad=1
		fi
		home[$name]=$d
	done
done

# The folder (relative to agent/) an include of `file` names, into $to;
# empty when it is not one of agent/'s headers.
included_folder() { # file, include
	local from=$1 inc=$2 path
	to=
	if [[ $inc == */* ]]; then
		path=$(cd "$(dirname "$from")" && realpath -m "$inc")
		[ -f "$path" ] || return 0
		case $path in "$agent"/*) ;; *) return 0 ;; esac
		path=${path#"$agent"/}
		if [[ $path == */* ]]; then to=${path%%/*}; else to=.; fi
	elif [ -n "${home[$inc]+set}" ]; then
		to=${home[$inc]}
	fi
}

for d in "${!rank[@]}"; do
	for f in "$agent/$d"/*.[ch]; do
		lineno=0
		while IFS= read -r line; do
			lineno=$((lineno + 1))
			[[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*[\"\<]([^\"\>]+)[\"\>] ]] || continue
			inc=${BASH_REMATCH[1]}
			included_folder "$f" "$inc"
			[ -n "$to" ] && [ "$to" != "$d" ] || continue
			if [ "${rank[$to]}" -ge "${rank[$d]}" ]; then
				echo "agent/${f#"$agent"/}:$lineno: includes $inc of agent/${to#.}, which is not a stage before agent/${d#.}"
				bad=1
			fi
		done <"$f"
	done
done
[ $bad = 0 ] && echo "agent: every include names the file's own stage or one before it (${stages[*]})"
exit $bad
