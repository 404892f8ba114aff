#!/usr/bin/env bash
# Install what is missing, build, run every test through ctest.
#   tests/run.sh            normal build (warnings are errors)
#   LDMESH_SANITIZE=1 tests/run.sh   the same under ASan+UBSan
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
. "$src/tests/deps.sh"
ldmesh_deps

build=${LDMESH_BUILD_DIR:-$src/build}
sanitize=OFF
[ "${LDMESH_SANITIZE:-0}" = 1 ] && sanitize=ON && build=${LDMESH_BUILD_DIR:-$src/build-asan}
cmake -S "$src" -B "$build" -DLDMESH_WERROR=ON -DLDMESH_SANITIZE=$sanitize >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure -j2 --timeout 300
