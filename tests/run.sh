#!/usr/bin/env bash
# Everything CI runs (.ci/run calls this), in passes; a summary at the end,
# non-zero exit if any pass failed. Missing packages are installed first
# (tests/deps.sh: one apt-get update, only when something is missing).
#
#   tests/run.sh                 all passes:
#     normal    warnings-as-errors build + every ctest test   (build/)
#     asan      the unit and end-to-end suites under ASan+UBSan
#               (build-asan/; e2e scripts that run curl excepted, see below)
#     tsan      the stress tests under ThreadSanitizer        (build-tsan/)
#     fuzz      each libFuzzer target for LDMESH_FUZZ_SECONDS (build-fuzz/)
#     valgrind  memcheck on the agent's parse path (good and bad manifests)
#   LDMESH_QUICK=1 tests/run.sh  the normal pass only (the developer loop)
#   LDMESH_PASSES="asan fuzz" tests/run.sh   chosen passes
#   LDMESH_SANITIZE=1 tests/run.sh           the asan pass only (as before)
#
# Environment: LDMESH_BUILD_DIR (the normal pass's build dir, default
# build/), LDMESH_FUZZ_SECONDS (default 60 per target), LDMESH_JOBS
# (build parallelism, default 2: CI shares a 2-core machine).
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
. "$src/tests/deps.sh"
ldmesh_deps "${LDMESH_TEST_PACKAGES[@]}" || exit 1

jobs=${LDMESH_JOBS:-2}
fuzz_seconds=${LDMESH_FUZZ_SECONDS:-60}
passes=${LDMESH_PASSES:-normal asan tsan fuzz valgrind}
[ "${LDMESH_QUICK:-0}" = 1 ] && passes=normal
[ "${LDMESH_SANITIZE:-0}" = 1 ] && passes=asan
build=${LDMESH_BUILD_DIR:-$src/build}
results=()
notes=()
failed=0

log() { printf '\n=== %s\n' "$*"; }

configure_build() { # dir, cmake options...; then build all or given targets
	local dir=$1; shift
	cmake -S "$src" -B "$dir" -DLDMESH_WERROR=ON "$@" >/dev/null &&
		cmake --build "$dir" -j"$jobs" ${targets:+--target $targets}
}

pass_normal() {
	targets='' configure_build "$build" -DLDMESH_SANITIZE=OFF || return 1
	(cd "$build" && ctest --output-on-failure -j2 --timeout 300)
}

# ASan+UBSan. Unit tests with leak detection. End-to-end tests LD_PRELOAD
# the instrumented libldmesh.so into programs that are not instrumented
# (curl, python3, redis-cli): the ASan runtime must come first in
# LD_PRELOAD (tests/e2e/lib.sh's pl() prepends $LDMESH_ASAN_RUNTIME), and
# leak reports are off because they would be about those programs.
pass_asan() {
	local dir=$src/build-asan rc=0
	targets='' configure_build "$dir" -DLDMESH_SANITIZE=ON || return 1
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	(cd "$dir" && ASAN_OPTIONS=abort_on_error=1 \
		ctest --output-on-failure -j2 --timeout 300 -E '^e2e_') || rc=1
	# Scripts that run curl or psql under the preload are left out: both
	# hang with the ASan runtime preloaded, with or without ldmesh
	# (`LD_PRELOAD=libasan.so curl ...`, or `psql --version`, alone never
	# returns); the comparison-benchmark smoke run times
	# kube-proxy's paths, not our code; musl has no ASan runtime, so the
	# musl library is not built here (nor its guard's, resolver's tests); the
	# package tests install builds, whatever their flags; the deployment
	# and the installed demo preload the library into programs without the
	# ASan runtime; a C++ program cannot link the sanitized reader without
	# the sanitizer's flags; instruction counts of a sanitized build mean
	# nothing. Everything else runs.
	# the 4,000-file rm -rf test: three rounds under ASan, ten elsewhere
	(cd "$dir" && LDMESH_BURST_ROUNDS=3 LDMESH_ASAN_RUNTIME=$(gcc -print-file-name=libasan.so) \
		ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
		ctest --output-on-failure -j2 --timeout 300 -R '^e2e_' \
		-E '^e2e_test_(clients|trace|hostile_table|bench_smoke|musl|musl_glibc|musl_resolver_vip|package|packages|rt_postgres|demo|demo_installed|deploy|headers_cxx|hot_path_budget|mesh_goals|metrics_clients)$') || rc=1
	return $rc
}

# ThreadSanitizer over the stress unit tests. The end-to-end stress test is
# not run here: it preloads libldmesh.so into python3 and curl, and TSan's
# runtime cannot be preloaded into a process that did not start with it
# (it must own the address space layout from the first instruction).
pass_tsan() {
	local dir=$src/build-tsan names
	names=$(cd "$src/tests/unit" && ls test_stress*.c 2>/dev/null | sed 's/\.c$//' | tr '\n' ' ')
	[ -n "$names" ] || { echo "no stress tests"; return 0; }
	targets=$names configure_build "$dir" -DLDMESH_TSAN=ON || return 1
	(cd "$dir" && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
		ctest --output-on-failure -j1 --timeout 600 -R '^test_stress')
}

# libFuzzer: each target for $fuzz_seconds from its seed corpus (plus what
# earlier runs kept in build-fuzz/corpus/). A crash leaves its input in
# build-fuzz/artifacts/: add it to tests/fixtures/ as a regression test.
pass_fuzz() {
	local dir=$src/build-fuzz rc=0 t execs
	local cc=${LDMESH_FUZZ_CC:-clang-14}
	targets='fuzz_manifest fuzz_snapshot fuzz_watch fuzz_dns fuzz_metrics' \
		configure_build "$dir" -DCMAKE_C_COMPILER="$cc" -DLDMESH_FUZZ=ON \
		-DLDMESH_TESTS=OFF || return 1
	# Snapshot seeds from the current format: the normal build's agent
	# publishes the valid fixtures (the committed seeds may be older).
	mkdir -p "$dir/seeds/snapshot"
	if [ -x "$build/agent/ldmesh-agent" ]; then
		bash "$src/tests/fuzz/gen_snapshot_seeds.sh" "$build/agent/ldmesh-agent" \
			"$dir/seeds/snapshot" || rc=1
	fi
	for t in manifest snapshot watch dns metrics; do
		mkdir -p "$dir/corpus/$t" "$dir/artifacts"
		echo "fuzz_$t: ${fuzz_seconds}s"
		# -rss_limit_mb: a parse that balloons is a finding, not an OOM
		"$dir/tests/fuzz/fuzz_$t" -max_total_time="$fuzz_seconds" -timeout=10 \
			-rss_limit_mb=2048 -print_final_stats=1 \
			-artifact_prefix="$dir/artifacts/$t-" \
			"$dir/corpus/$t" "$src/tests/fuzz/corpus/$t" \
			$( [ "$t" = snapshot ] && echo "$dir/seeds/snapshot") \
			>"$dir/fuzz_$t.log" 2>&1 || { rc=1; tail -n 60 "$dir/fuzz_$t.log"; }
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz_$t.log")
		echo "fuzz_$t: ${execs:-?} executions, log $dir/fuzz_$t.log"
		notes+=("fuzz_$t: ${execs:-?} executions in ${fuzz_seconds} s")
	done
	return $rc
}

# memcheck on the parse path: the examples must pass --check (0), the bad
# corpus must fail it (1); anything valgrind finds exits 99 instead.
pass_valgrind() {
	local agent=$build/agent/ldmesh-agent rc=0 got
	[ -x "$agent" ] || targets=ldmesh-agent configure_build "$build" || return 1
	local vg=(valgrind -q --error-exitcode=99 --leak-check=full
		--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect)
	"${vg[@]}" "$agent" --check --manifests "$src/examples/manifests" >/dev/null
	got=$?; echo "valgrind --check examples/manifests: exit $got (want 0)"
	[ $got -eq 0 ] || rc=1
	"${vg[@]}" "$agent" --check --manifests "$src/tests/fixtures/bad-manifests" >/dev/null 2>&1
	got=$?; echo "valgrind --check tests/fixtures/bad-manifests: exit $got (want 1)"
	[ $got -eq 1 ] || { rc=1; "${vg[@]}" "$agent" --check --manifests \
		"$src/tests/fixtures/bad-manifests" 2>&1 | grep -v '^/' | tail -n 40; }
	return $rc
}

t_all=$(date +%s)
n_ok=0 n_failed=0
for p in $passes; do
	log "$p"
	t0=$(date +%s)
	if "pass_$p"; then status=ok; n_ok=$((n_ok + 1)); else status=FAILED; failed=1; n_failed=$((n_failed + 1)); fi
	results+=("$(printf '%-9s %-6s %4d s' "$p" "$status" $(($(date +%s) - t0)))")
	printf '=== %s: %s\n' "$p" "$status"
done

log "summary ($(($(date +%s) - t_all)) s)"
printf '%s\n' "${results[@]}" "${notes[@]}"
[ $failed -eq 0 ] && echo "all passes ok" || echo "SOME PASSES FAILED"
# each pass is a whole suite (its ctest lines are above)
echo "passes: $n_ok passed, $n_failed failed"
exit $failed
