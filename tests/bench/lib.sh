# shellcheck shell=bash
# What the module benchmarks (chat-overhead, jobs-inflight, stream-ttfb,
# history) share: a throwaway stack in .state/bench with PostgreSQL as
# `make run` configures it (STACK_MODE=bench: fsync and synchronous_commit
# keep their defaults, on), the fake providers beside it, and the
# environment the measuring half (a .mjs) reads.  Source it, then:
#
#   bench_start PORT [SETUP]   SETUP: a function run after the fake
#                              providers started and before the stack does
#                              (it may write $STACK_STATE/env.d/<app>)
#   bench_node SCRIPT ARGS...  runs node with NANO_TEST_BASE,
#                              NANO_BENCH_FAKE_URL, NANO_BENCH_FAKE_KEY,
#                              NANO_TEST_PG_SOCK, NANO_TEST_PG_BINDIR,
#                              NANO_TEST_STATE
#
# The fake's options come from the environment (FAKE_LATENCY_MS,
# FAKE_IMAGE_BYTES, FAKE_STREAM_INTERVAL_MS: tests/fakes/README.md);
# export them before bench_start.  The stack is stopped on exit.
#
# BENCH_PG_FAST=1 (a diagnostic, not the figure): PostgreSQL as the test
# stack runs it, fsync, synchronous_commit and full_page_writes off.

STACK_MODE=bench
[ "${BENCH_PG_FAST:-}" = 1 ] && STACK_MODE='test'
STACK_STATE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.state/bench
# shellcheck source=scripts/lib/stack.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/stack.sh"
stack_init
cd "$STACK_ROOT" || exit 1

bench_stop() {
    trap '' INT TERM HUP
    stack_stop
    stack_pg_forget
}

bench_start() {
    local port=$1 setup=${2:-}
    for f in "$STACK_BIN/nano-platform" "$STACK_MODULE_SO" "$STACK_BIN/nano-migrate"; do
        [ -e "$f" ] || { echo "bench: $f missing; run make" >&2; exit 1; }
    done
    stack_lock wait || exit 1
    stack_throwaway "$port"
    trap bench_stop EXIT
    trap 'echo "bench: interrupted" >&2; exit 130' INT TERM HUP
    stack_check_ports "set BENCH_PORT to a free port" "$STACK_PORT" || exit 1
    stack_upstreams "$STACK_UPSTREAMS" || exit 1
    stack_fake_providers || exit 1
    BENCH_FAKE_KEY=$(sed -n 's/^GEMINI_API_KEY=//p' "$STACK_STATE/env.d/nano-banana")
    if [ -n "$setup" ]; then
        "$setup" || exit 1
    fi
    stack_start || exit 1
}

bench_node() {
    NANO_TEST_BASE=$STACK_URL NANO_TEST_STATE=$STACK_STATE \
    NANO_BENCH_FAKE_URL=$STACK_FAKE_URL NANO_BENCH_FAKE_KEY=$BENCH_FAKE_KEY \
    NANO_TEST_PG_SOCK=$PG_SOCK NANO_TEST_PG_BINDIR=$PG_BINDIR \
        node "$@"
}
