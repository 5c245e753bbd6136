#!/bin/sh
# Configures and builds sparky-for-backup in ./build (Release with debug info).
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${SPARKY_BUILD_DIR:-$here/build}
jobs=${SPARKY_JOBS:-$(nproc)}
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo ${SPARKY_CMAKE_ARGS:-}
cmake --build "$build" -j "$jobs"
