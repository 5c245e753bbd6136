#!/bin/sh
# Configures and builds sparky-for-backup in ./build (Release with debug info).
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${SPARKY_BUILD_DIR:-$here/build}
jobs=${SPARKY_JOBS:-$(nproc)}
# Unity builds (several sources per compiler run) take about a third of the time on two
# cores; SPARKY_UNITY=OFF for a developer tree where one-file rebuilds matter more.
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_UNITY_BUILD="${SPARKY_UNITY:-ON}" -DCMAKE_UNITY_BUILD_BATCH_SIZE=16 ${SPARKY_CMAKE_ARGS:-}
# SPARKY_BUILD_TARGETS: only these targets (the demo builds just the programs it runs).
# shellcheck disable=SC2086 # a list of target names, split on purpose
cmake --build "$build" -j "$jobs" ${SPARKY_BUILD_TARGETS:+--target $SPARKY_BUILD_TARGETS}
