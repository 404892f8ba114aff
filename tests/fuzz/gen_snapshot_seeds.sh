#!/usr/bin/env bash
# Real snapshots for the fuzz_snapshot seed corpus: the agent publishes each
# valid manifest fixture (and examples/manifests as a whole) once, and the
# snapshot file it wrote is kept. tests/run.sh runs this before fuzzing so
# the seeds follow the current format; tests/fuzz/corpus/snapshot/ holds a
# copy made the same way.
#   gen_snapshot_seeds.sh AGENT OUT_DIR
set -euo pipefail
agent=$1 out=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ldmesh-seeds.XXXXXX")
# published snapshots are immutable: lift that before removing them
clean() { chattr -R -i "$@" 2>/dev/null || true; rm -rf "$@"; }
trap 'clean "$tmp"' EXIT
mkdir -p "$out"

one() { # name, then the manifest files
	local name=$1; shift
	clean "$tmp/m" "$tmp/t"
	mkdir -p "$tmp/m"
	cp "$@" "$tmp/m/"
	# --node makes endpoints on node-a LOCAL, so that flag is seeded too
	"$agent" --once -n node-a -m "$tmp/m" -t "$tmp/t" >/dev/null 2>&1 || return 0
	cp "$tmp/t"/snap.* "$out/$name.snap" # cp makes plain, mutable copies
}

for f in "$src"/tests/fixtures/manifests/valid/*; do
	one "$(basename "${f%.*}")" "$f"
done
one examples "$src"/examples/manifests/*
one canary "$src"/examples/manifests/* "$src"/examples/canary/* # 3.5 SPLITS
one all "$src"/tests/fixtures/manifests/valid/* "$src"/examples/manifests/*
