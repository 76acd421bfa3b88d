#!/usr/bin/env bash
# Every row of issue 16's table, for one or more hadeck binaries in the same run (e.g. a build of
# the commit before the performance work, then the current one), each next to the real HAProxy
# where the row compares with it. Prints each figure with the command that made it, the date and
# the load average. Needs root only for nothing; needs haproxy, nginx, wrk, valgrind, tmux, taskset.
#
#   Benchmarks/issue16.sh /tmp/hadeck-before .build/release/hadeck
#
# Rows: the proxy (requests/s, p99, CPU and instructions per request against haproxy: the proxy
# benchmark, pinned), the dashboard frame with 1,000 backends x 2 balancers at 5,000 requests/s
# (160x50), the idle dashboard's CPU and the live demo's resident memory (real terminal, 30 s),
# and one simulated hour at 50 requests/s with --json (user+system CPU, pinned to one core).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
bins=()
for b in "${@:-.build/release/hadeck}"; do bins+=("$(realpath "$b")"); done
RUNS=${RUNS:-2}
HOUR_RUNS=${HOUR_RUNS:-3}
CPU=${CPU:-1}
# Addresses of their own (the proxy benchmark uses NET, its callgrind part the next /24), so that
# another proxy benchmark running meanwhile cannot take them.
export NET=${NET:-127.86.1}

say() { echo; echo "### $*"; echo "date $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"; }

for bin in "${bins[@]}"; do
    echo
    echo "================ $bin"

    say "dashboard frame: taskset -c $CPU $bin bench render --frames 200"
    taskset -c "$CPU" "$bin" bench render --frames 200 2>/dev/null

    say "one simulated hour at 50 req/s: taskset -c $CPU $bin simulate Examples/scenarios/bench-hour.scenario --json (user+system CPU, $HOUR_RUNS runs)"
    for _ in $(seq 1 "$HOUR_RUNS"); do
        /usr/bin/time -f "cpu %U s user + %S s system, wall %e s, max RSS %M kB" \
            taskset -c "$CPU" "$bin" simulate Examples/scenarios/bench-hour.scenario --json 2>&1 >/dev/null | tail -1
    done

    say "idle dashboard and live demo memory: Benchmarks/dashboard-idle.sh $bin"
    bash "$ROOT/Benchmarks/dashboard-idle.sh" "$bin" || echo "(the idle measurement failed for $bin)"

    say "proxy against haproxy: RUNS=$RUNS HADECK=$bin Benchmarks/proxy-vs-haproxy.sh"
    RUNS=$RUNS HADECK=$bin bash "$ROOT/Benchmarks/proxy-vs-haproxy.sh" || echo "(the proxy benchmark failed for $bin)"
done
