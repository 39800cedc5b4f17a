#!/usr/bin/env bash
# tools/fuzz-cov.sh: line coverage of the decoders reached by the committed
# fuzz corpora (tests/fuzz/corpus/<target>/), measured with llvm-cov.
#
#   tools/fuzz-cov.sh            build, replay every corpus, print coverage
#   tools/fuzz-cov.sh --missed   ... and list the decoder lines never run
#
# Builds the fuzz targets with clang source-based coverage
# (-fprofile-instr-generate -fcoverage-mapping, no sanitizers) in its own
# build directory (TM_COV_BUILD, default build-cov), runs each target once
# over its corpus (-runs=0: replay, no mutation), merges the profiles and
# prints, for protocol/tm_wire.c, tm_msg.c, tm_msg_mesh.c and tm_move_wire.c, the line
# coverage of the whole file and of its decode/validate functions
# (everything but the encoders and buffer/packing helpers), then the
# per-function table.
#
# Needs clang and the llvm-14 tools (Debian package llvm-14); the test
# command does not run this script.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${TM_COV_BUILD:-$root/build-cov}
jobs=${TM_JOBS:-$(nproc)}
profdata=${LLVM_PROFDATA:-llvm-profdata-14}
cov=${LLVM_COV:-llvm-cov-14}
files=("$root/protocol/tm_wire.c" "$root/protocol/tm_msg.c"
    "$root/protocol/tm_msg_mesh.c" "$root/protocol/tm_move_wire.c")
# Functions that encode or manage output buffers; all others in the files
# above decode or validate untrusted bytes.
encoders='(_encode$|_free$|(^|:)(s|tmi_msg)_(finish|cstr_ok|buf_write|hb_ok|entry_ok)$|^tm_wire_(buf|pack)_)'

missed=0
case ${1:-} in
"") ;;
--missed) missed=1 ;;
*)
    echo "usage: tools/fuzz-cov.sh [--missed]" >&2
    exit 2
    ;;
esac

for tool in clang "$profdata" "$cov"; do
    if ! command -v "$tool" >/dev/null; then
        echo "fuzz-cov: $tool not found (apt-get install clang llvm-14)" >&2
        exit 1
    fi
done

targets=()
for src in "$root"/tests/fuzz/*_fuzz.c; do
    targets+=("$(basename "$src" .c)")
done

echo "== build ($build)"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DTM_SANITIZE= -DTM_FUZZ=ON \
    -DCMAKE_C_FLAGS="-fprofile-instr-generate -fcoverage-mapping" \
    -DCMAKE_EXE_LINKER_FLAGS="-fprofile-instr-generate" >/dev/null
cmake --build "$build" -j "$jobs" --target "${targets[@]}" >/dev/null

echo "== replay the committed corpora"
prof=$build/fuzz-cov
rm -rf "$prof"
mkdir -p "$prof"
objects=()
for t in "${targets[@]}"; do
    corpus=$root/tests/fuzz/corpus/$t
    n=$(find "$corpus" -type f | wc -l)
    LLVM_PROFILE_FILE="$prof/$t.profraw" "$build/tests/$t" -runs=0 \
        "$corpus" >"$prof/$t.log" 2>&1 || {
        echo "fuzz-cov: $t failed on its corpus (see $prof/$t.log)" >&2
        exit 1
    }
    printf '%-18s %5d inputs  %s\n' "$t" "$n" \
        "$(grep -o 'INITED cov: [0-9]*' "$prof/$t.log" || true)"
    objects+=(-object "$build/tests/$t")
done
"$profdata" merge -sparse "$prof"/*.profraw -o "$prof/merged.profdata"

# llvm-cov needs one binary as its first argument, the others after -object.
report() {
    "$cov" report -instr-profile="$prof/merged.profdata" \
        "$build/tests/${targets[0]}" "${objects[@]}" "$@"
}

echo "== line coverage per file"
report "${files[@]}" | awk 'NR == 1 || /\.c / || /^TOTAL/ {
    # Filename, regions, missed, cover, functions, missed, executed,
    # lines, missed lines, cover, ...
    printf "%-24s lines %5s  missed %4s  cover %s\n", $1, $8, $9, $10
}' | sed -e "s|$root/||" -e '1d'

echo "== line coverage of the decode/validate functions"
for f in "${files[@]}"; do
    report -show-functions "$f" | awk -v enc="$encoders" -v name="${f#"$root"/}" '
        # Function rows: name, regions, missed, cover, lines, missed, cover.
        NF >= 7 && $1 !~ /^(Name|File|TOTAL|-+)/ && $4 ~ /%$/ {
            if ($1 ~ enc) { next }
            lines += $5; miss += $6
        }
        END {
            printf "%-24s lines %5d  missed %4d  cover %.2f%%\n", name, lines,
                miss, lines ? 100 * (lines - miss) / lines : 0
        }'
done

echo "== per function"
for f in "${files[@]}"; do
    report -show-functions "$f" | awk 'NF >= 7 && $4 ~ /%$/ && $1 != "TOTAL" {
        printf "  %-28s lines %4s  missed %3s  %s\n", $1, $5, $6, $7 }'
done

if [ "$missed" = 1 ]; then
    echo "== decoder lines never run"
    "$cov" show -instr-profile="$prof/merged.profdata" \
        "$build/tests/${targets[0]}" "${objects[@]}" "${files[@]}" \
        -show-line-counts | grep -E '^\/|^ *[0-9]+\| +0\|' || true
fi
