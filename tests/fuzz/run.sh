#!/usr/bin/env bash
# Builds the libFuzzer harnesses with ASan and UBSan and runs each for a
# bounded time.  Usage:
# tests/fuzz/run.sh [NAME ...]      (default: every tests/fuzz/fuzz_NAME.c)
# Environment: FUZZ_SECONDS (per harness, default 30), FUZZ_JOBS (parallel
# workers per harness, default 1), CC (default clang), FUZZ_OUT (build and
# corpus folder, default build/fuzz).  Exit status 1 when a harness found
# a crash or did not build; the reproducer is left in $FUZZ_OUT as
# crash-*/leak-*/timeout-*.
# Each harness ends with one line "fuzz: fuzz_NAME: N execs in S s, ok"
# (or "failed"), which scripts/test.sh counts.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

seconds=${FUZZ_SECONDS:-30}
jobs=${FUZZ_JOBS:-1}
cc=${CC:-clang}
out=${FUZZ_OUT:-build/fuzz}
# every harness: tests/fuzz/fuzz_<name>.c
all=()
for f in tests/fuzz/fuzz_*.c; do
    f=${f#tests/fuzz/fuzz_}
    all+=("${f%.c}")
done
[ "$#" -gt 0 ] || set -- "${all[@]}"

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz: $cc not found; install Debian's clang (apt-get install clang)" >&2
    exit 2
fi

# The harnesses link against libnano built once more with the fuzzer's
# instrumentation (the Makefile's own rules, in $out/lib): the linker takes
# from it what a harness needs, so no harness lists its sources and a
# file that starts using another one cannot break a harness's build.
san=('-fsanitize=address,undefined' -fno-sanitize-recover=all)
lib=$out/lib/lib/libnano.a
mkdir -p "$out"
echo "fuzz: building $lib"
if ! make -s --no-print-directory B="$out/lib" CC="$cc" \
        CFLAGS="-g -O1 -fsanitize=fuzzer-no-link ${san[*]}" "$lib"; then
    echo "fuzz: libnano for the harnesses did not build, failed" >&2
    exit 1
fi
# the compile and link flags of every program, from the Makefile
makevar() { make -s --no-print-directory "print-$1"; }
read -r -a cppflags <<<"$(makevar CPPFLAGS) $(makevar WARNINGS)"
read -r -a libs <<<"$(makevar LDLIBS)"
flags=(-g -O1 -fsanitize=fuzzer "${san[@]}" "${cppflags[@]}")

status=0
for name in "$@"; do
    if [ ! -r "tests/fuzz/fuzz_$name.c" ]; then
        echo "fuzz: unknown harness '$name' (${all[*]})" >&2
        exit 2
    fi

    bin=$out/fuzz_$name
    echo "fuzz: building $bin"
    if ! "$cc" "${flags[@]}" -o "$bin" "tests/fuzz/fuzz_$name.c" "$lib" "${libs[@]}"; then
        echo "fuzz: fuzz_$name: not built, failed" >&2
        status=1
        continue
    fi

    # the working corpus grows in $out; the seeds stay in the repository
    corpus=$out/corpus-$name
    mkdir -p "$corpus"

    echo "fuzz: running fuzz_$name for ${seconds}s"
    fork=()
    [ "$jobs" -gt 1 ] && fork=(-fork="$jobs")
    log=$out/fuzz_$name.log
    set +e
    (cd "$out" && ASAN_OPTIONS=detect_leaks=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "./fuzz_$name" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
        -dict="$root/tests/fuzz/$name.dict" \
        "${fork[@]}" \
        "corpus-$name" "$root/tests/fuzz/corpus/$name") 2>&1 | tee "$log" |
        grep -E '^(==|SUMMARY|[A-Za-z]*Sanitizer|artifact_prefix|Test unit written|stat::)' >&2
    rc=${PIPESTATUS[0]}
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ "$rc" -ne 0 ]; then
        echo "fuzz: fuzz_$name: ${execs:-?} execs in ${seconds} s, failed (status $rc); see $log" >&2
        status=1
    else
        echo "fuzz: fuzz_$name: ${execs:-?} execs in ${seconds} s, ok"
    fi
done
exit "$status"
