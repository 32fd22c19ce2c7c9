#!/usr/bin/env bash
# Runs cmocka unit test binaries (default: every build/tests/test_*) and
# prints each binary's result, then one line "unit: N passed, N failed".
# A binary that crashes or exits non-zero without a cmocka summary counts
# as one failed test.  Exit status: 0 when nothing failed.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
if [ "$#" -eq 0 ]; then
    set -- "$root"/build/tests/test_*
    [ -e "$1" ] || set --
fi

passed=0 failed=0
for bin in "$@"; do
    [ -x "$bin" ] || { echo "unit: $bin is not an executable" >&2; failed=$((failed + 1)); continue; }
    out=$(timeout 300 "$bin" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    # cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s), ..."
    # once per group; sum them.
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s += $1} END {print s + 0}')
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below.*/\1/p' | awk '{s += $1} END {print s + 0}')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "unit: $(basename "$bin") exited with status $rc" >&2
        f=1
    fi
    printf 'unit: %s: %s passed, %s failed\n' "$(basename "$bin")" "$p" "$f"
    passed=$((passed + p))
    failed=$((failed + f))
done
printf 'unit: %s passed, %s failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
