#!/usr/bin/env bash
# tools/dev.sh: install dependencies, build, run the demo or the test suite.
#
#   tools/dev.sh deps    install the Debian 12 packages (root or sudo)
#   tools/dev.sh build   deps + release build in build/
#   tools/dev.sh demo    build + start a node on its defaults with a demo plant
#   tools/dev.sh demo-mesh  build + the three-site example: three nodes from
#                        config/node-a/b/c.ini and config/three-site-plant.yaml
#   tools/dev.sh test    deps + format check + gcc build + clang ASan/UBSan
#                        build (with fuzz targets) + ctest + TSan build
#                        (threaded unit tests, and nodes in integration
#                        tests: label "threads")
#   tools/dev.sh bench   release build + the benchmarks with their checks
#                        (twinmesh-bench, bench-node.sh, bench-plant.sh,
#                        bench-mesh.sh, bench-telemetry.sh) +
#                        the long tests
#                        (ctest label "long": the 2,000-cycle kill -9 crash
#                        test of the store)
#
# Environment: TM_JOBS (parallel build jobs, default nproc),
# TM_TEST_LABELS (ctest -L regex for the sanitizer run; default: every label
# but "long" and "bench-smoke", which runs in the release build).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=${TM_JOBS:-$(nproc)}

packages=(
    build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
    libzmq3-dev libmsgpack-dev liblmdb-dev libsodium-dev
    libev-dev libcmocka-dev libinih-dev libedit-dev libjansson-dev libyaml-dev
    libgsl-dev libmosquitto-dev libcurl4-openssl-dev
    # etcd-server: /usr/bin/etcd for lease_test, which starts its own on
    # free loopback ports (a system service the package may start is unused)
    mosquitto mosquitto-clients etcd-server
    tmux procps python3
)

deps() {
    local missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
            grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    echo "dev.sh: installing ${missing[*]}"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
        --no-install-recommends "${missing[@]}"
}

configure_build() { # dir, extra cmake args...
    local dir=$1
    shift
    cmake -S "$root" -B "$root/$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" \
        >/dev/null
    cmake --build "$root/$dir" -j "$jobs"
}

format_check() {
    echo "== clang-format check"
    find "$root"/core "$root"/protocol "$root"/actors "$root"/nodes \
        "$root"/tools "$root"/tests -name '*.[ch]' -print0 |
        xargs -0 -r clang-format --dry-run -Werror
}

cmd=${1:-test}
case $cmd in
deps)
    deps
    ;;
build)
    deps
    configure_build build -DCMAKE_C_COMPILER=gcc
    ;;
demo)
    deps
    configure_build build -DCMAKE_C_COMPILER=gcc
    exec "$root/tools/demo.sh" "$root/build"
    ;;
demo-mesh)
    deps
    configure_build build -DCMAKE_C_COMPILER=gcc
    exec "$root/tools/demo-mesh.sh" "$root/build"
    ;;
test)
    deps
    format_check
    echo "== gcc build (warnings are errors)"
    configure_build build -DCMAKE_C_COMPILER=gcc
    echo "== clang build with ASan+UBSan and fuzz targets"
    configure_build build-asan -DCMAKE_C_COMPILER=clang \
        -DTM_SANITIZE=address,undefined -DTM_FUZZ=ON
    echo "== tests (ASan+UBSan)"
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    labels=()
    if [ -n "${TM_TEST_LABELS:-}" ]; then
        labels=(-L "$TM_TEST_LABELS")
    else
        labels=(-LE '^(long|fuzz-long|bench-smoke)$')
    fi
    (cd "$root/build-asan" &&
        ctest --output-on-failure -j "$jobs" "${labels[@]}")
    echo "== benchmark smoke (gcc release build: memory target, 1M actors)"
    echo "   and the integration tests of release-only figures"
    (cd "$root/build" &&
        ctest --output-on-failure -L '^(bench-smoke|release)$')
    echo "== clang build with TSan, threaded tests (units and nodes)"
    configure_build build-tsan -DCMAKE_C_COMPILER=clang -DTM_SANITIZE=thread
    (cd "$root/build-tsan" &&
        TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -j "$jobs" \
            -L threads)
    ;;
bench)
    deps
    configure_build build -DCMAKE_C_COMPILER=gcc
    echo "== runtime benchmark (1M actors, memory and digest checks)"
    "$root/build/tools/twinmesh-bench" --actors 1000000 --ticks 20 \
        --repeat 3 --workers 1,2 --check --max-overhead 512
    echo "== node benchmark (spawn-many, >= 100,000 actors/s)"
    "$root/tools/bench-node.sh" --build "$root/build" --repeat 5 \
        --check 100000
    echo "== plant benchmark (apply of 100,000 actors and 200,000 links, < 10 s)"
    "$root/tools/bench-plant.sh" --build "$root/build" --repeat 3 --check 10
    echo "== mesh benchmark (link values between two nodes, >= 20,000,000/s)"
    "$root/tools/bench-mesh.sh" --build "$root/build" --links 2000 \
        --ticks 4000 --repeat 3 --check 20000000
    echo "== mesh benchmark (synchronisation per tick on three nodes, links"
    echo "   of delay 8: <= 60 us)"
    "$root/tools/bench-mesh.sh" --build "$root/build" --sync-only \
        --ticks 3000 --repeat 3 --delay 8 --sync-check 60
    echo "== telemetry benchmark (samples accepted by one node, >= 1,000,000/s)"
    "$root/tools/bench-telemetry.sh" --build "$root/build" --check-rate 1000000
    echo "== telemetry latency (13 twins at 1 kHz, 104,000 samples/s: in the"
    echo "   node p50 <= 100 us, p99 <= 1 ms)"
    "$root/tools/bench-telemetry.sh" --build "$root/build" --latency 3000 \
        --assets 13 --gap 0.001 --frames round --check-p50 100 --check-p99 1000
    echo "== long tests"
    (cd "$root/build" && ctest --output-on-failure -L '^long$')
    ;;
*)
    echo "usage: tools/dev.sh deps|build|demo|demo-mesh|test|bench" >&2
    exit 2
    ;;
esac
