#!/usr/bin/env bash
# Builds the libFuzzer harnesses with ASan and UBSan and runs each for a
# bounded time.  Usage:
# tests/fuzz/run.sh [token|jwe|cookie|revoke|multipart|stripe|json_lift|provider|input|options|oidc ...]
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
[ "$#" -gt 0 ] || set -- token jwe cookie revoke multipart stripe \
    json_lift provider input options oidc

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz: $cc not found; install Debian's clang (apt-get install clang)" >&2
    exit 2
fi

flags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
       -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wmissing-prototypes
       -Ingx_nano_auth_module -Ibackends/lib)
mkdir -p "$out"

status=0
for name in "$@"; do
    extra=()
    case "$name" in
    token|jwe)
        src=(ngx_nano_auth_module/nano_token.c ngx_nano_auth_module/nano_jose.c
             ngx_nano_auth_module/nano_jwe.c ngx_nano_auth_module/nano_utf8.c
             ngx_nano_auth_module/nano_token_issue.c)
        libs=(-ljwt -ljansson -lcrypto) ;;
    cookie)
        src=(ngx_nano_auth_module/nano_cookie.c)
        libs=() ;;
    revoke)
        src=(ngx_nano_auth_module/nano_revoke.c)
        libs=() ;;
    multipart)
        src=(backends/lib/nano_multipart.c)
        libs=() ;;
    stripe)
        src=(backends/lib/nano_stripe.c backends/lib/nano_hex.c)
        libs=(-lcrypto) ;;
    json_lift)
        src=(backends/lib/nano_json_lift.c backends/lib/nano_buf.c)
        libs=(-ljansson) ;;
    provider)
        src=(backends/lib/nano_chat.c backends/lib/nano_sse.c
             backends/lib/nano_provider.c backends/lib/nano_gemini.c
             backends/lib/nano_ark.c backends/lib/nano_wan.c
             backends/lib/nano_base64.c backends/lib/nano_buf.c
             backends/lib/nano_json_lift.c ngx_nano_auth_module/nano_utf8.c)
        libs=(-ljansson) ;;
    input)
        src=(backends/lib/nano_form.c backends/lib/nano_image.c
             backends/lib/nano_image_scale.c backends/lib/nano_route.c
             backends/lib/nano_log.c backends/lib/nano_base64.c
             backends/lib/nano_buf.c
             ngx_nano_auth_module/nano_utf8.c)
        extra=(-I/usr/include/postgresql)   # nano_route.h's nano_server.h
        libs=(-lpng -ljpeg -lwebp -ljansson -lm) ;;
    options)
        src=(backends/lib/nano_gen_options.c backends/lib/nano_form.c
             backends/lib/nano_strlist.c ngx_nano_auth_module/nano_utf8.c)
        libs=(-ljansson) ;;
    oidc)
        src=(backends/lib/nano_idtoken.c backends/lib/nano_jwks.c
             backends/lib/nano_oauth.c backends/lib/nano_base64.c
             backends/lib/nano_buf.c backends/lib/nano_rand.c
             backends/lib/nano_hex.c
             ngx_nano_auth_module/nano_jose.c ngx_nano_auth_module/nano_utf8.c)
        libs=(-ljansson -lcrypto) ;;
    *)
        echo "fuzz: unknown harness '$name' (token, jwe, cookie, revoke, multipart, stripe, json_lift, provider, input, options, oidc)" >&2
        exit 2 ;;
    esac

    bin=$out/fuzz_$name
    echo "fuzz: building $bin"
    # a harness that does not build (a source it now needs is not listed
    # above, say) is named as failed, and the others still run
    if ! "$cc" "${flags[@]}" "${extra[@]}" -o "$bin" "tests/fuzz/fuzz_$name.c" \
        "${src[@]}" \
        "${libs[@]}"; then
        echo "fuzz: fuzz_$name: not built, failed (its sources are listed in tests/fuzz/run.sh)" >&2
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
