# Sourced by the bench/run_*.sh scripts: build_bench NAME BUILD_DIR SOURCE_DIR TARGET...
# Configures BUILD_DIR when needed and builds the targets. If the build fails (someone is
# editing the tree), binaries from an earlier build still measure what they were built with,
# so they are used with a warning; with no earlier binaries it exits 1.
build_bench() {
    local name=$1 build=$2 root=$3
    shift 3
    if [ ! -f "$build/CMakeCache.txt" ]; then
        echo "$name: configuring $build" >&2
        cmake -S "$root" -B "$build" >&2
    fi
    cmake --build "$build" --target "$@" -j2 >&2 && return 0
    local target
    for target in "$@"; do
        [ -x "$build/$target" ] || { echo "$name: building $target failed" >&2; exit 1; }
    done
    echo "$name: WARNING: the build failed; running the previous binaries in $build" >&2
}
