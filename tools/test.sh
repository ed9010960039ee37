#!/usr/bin/env bash
# Builds yoloop and runs every test: once in the normal build, once under AddressSanitizer.
#   tools/test.sh            setup, build, ctest, ASan ctest
#   tools/test.sh --quick    skip the ASan pass
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    *) echo "test.sh: unknown option '$arg' (known: --quick)" >&2; exit 2 ;;
  esac
done

tools/setup.sh
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >build.log 2>&1 || { cat build.log; exit 1; }
cmake --build build -j "$jobs" >>build.log 2>&1 || { tail -50 build.log; exit 1; }
(cd build && ctest --output-on-failure -j "$jobs")

if [ "$quick" -eq 0 ]; then
  # The CUDA runtime does not run under ASan and no GPU is needed to check host code, so the
  # sanitizer build is CPU only.
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DYOLOOP_SANITIZE=ON -DYOLOOP_CUDA=OFF >>build.log 2>&1 \
    || { tail -50 build.log; exit 1; }
  cmake --build build-asan -j "$jobs" >>build.log 2>&1 || { tail -50 build.log; exit 1; }
  # ls_real drives a real Label Studio (Python): it ran in the normal pass, nothing to add here.
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j "$jobs" -LE ls_real)
fi
