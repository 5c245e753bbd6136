#!/bin/sh
# Installs what is missing, builds, and runs the whole test suite: unit, integration (real
# RabbitMQ, borg, PostgreSQL, promtool), end-to-end (network namespaces, sshd), GUI
# (offscreen), then the envelope fuzzer for 60 s in a clang build. Exit status 0 = all passed.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
# Its own build tree: unoptimised with line tables (-O0 -g1) and a unity build compiles in
# about a third of the time of the optimised build the demo and the benchmarks use
# (deploy/dev/build.sh), and keeps assertions on. Nothing in the suite measures speed (bench/ does).
build=${SPARKY_BUILD_DIR:-$here/build-test}
jobs=${SPARKY_TEST_JOBS:-2}

"$here/deploy/dev/install-deps.sh"
SPARKY_BUILD_DIR=$build \
    SPARKY_CMAKE_ARGS="-DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 ${SPARKY_CMAKE_ARGS:-}" \
    "$here/deploy/dev/build.sh"

status=0
cd "$build"
ctest --output-on-failure -j "$jobs" --timeout 900 || status=1

# Fuzzing needs clang's libFuzzer; it gets a build of its own (core library + fuzzers only).
fuzz=${SPARKY_FUZZ_BUILD_DIR:-$here/build-fuzz}
CC=clang CXX=clang++ cmake -S "$here" -B "$fuzz" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=16 -DSPARKY_FUZZ=ON -DSPARKY_FUZZ_SECONDS="${SPARKY_FUZZ_SECONDS:-60}" >/dev/null
cmake --build "$fuzz" -j "$(nproc)"
(cd "$fuzz" && ctest --output-on-failure -L fuzz) || status=1

if [ "$status" = 0 ]; then
    echo "sparky-for-backup: all tests passed"
else
    echo "sparky-for-backup: TESTS FAILED" >&2
fi
exit "$status"
