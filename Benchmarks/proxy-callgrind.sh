#!/usr/bin/env bash
# User-space instructions per request of `hadeck proxy` (and of haproxy, for the ratio), counted by
# valgrind's callgrind: repeatable to <1 % for the same binary, whatever else the machine does.
#
#   Benchmarks/proxy-callgrind.sh                 # needs the README's release build (swift build -c release ...)
#   VARIANT=plain REQUESTS_FOR=8s Benchmarks/proxy-callgrind.sh
#
# The proxy runs under callgrind with instrumentation on, takes a warm-up load, gets its counters
# zeroed (callgrind_control -z), serves `wrk -t1 -c20 -d8s` on GET /login (keep-alive, cookie
# insert by default) and is dumped; instructions / requests served is the figure. The proxy runs on
# core PIN (default 1), nginx and wrk on LOAD_PIN (default 0). The backends are
# two nginx workers. Addresses: NET (default 127.84.2) .1 and .2 for nginx, .10 for the proxy.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
HADECK=${HADECK:-$ROOT/.build/release/hadeck}
VARIANT=${VARIANT:-cookie}
DURATION=${DURATION:-8s}
NET=${NET:-127.84.2}
PIN=${PIN:-1}            # the proxy's core
LOAD_PIN=${LOAD_PIN:-0}  # nginx's and wrk's
PORT=${PORT:-18090}
WHICH=${WHICH:-hadeck haproxy}
CALLGRIND_ARGS=${CALLGRIND_ARGS:-}  # e.g. --dump-instr=yes, with KEEP=1, for a per-instruction profile
WORK=$(mktemp -d /tmp/hadeck-callgrind.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

[ -x "$HADECK" ] || { echo "missing $HADECK: run the README's release build first (swift build -c release -Xswiftc -enforce-exclusivity=unchecked)" >&2; exit 1; }
for tool in valgrind callgrind_control wrk nginx; do
    command -v $tool >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
done

. "$ROOT/Benchmarks/proxy-bench-lib.sh"
bench_www "$WORK"
bench_nginx_conf "$WORK" "$NET.1" "$NET.2"
taskset -c "$LOAD_PIN" nginx -c "$WORK/nginx.conf" -g 'daemon off;' & PIDS+=($!)
bench_proxy_cfg "$WORK/proxy.cfg" "$VARIANT" "$NET.10:$PORT" "$NET.1" "$NET.2"

wait_port() { for _ in $(seq 1 600); do (exec 3<>/dev/tcp/$NET.10/$PORT) 2>/dev/null && return 0; sleep 0.1; done; return 1; }

measure() { # $1 label, $2.. command
    local label=$1; shift
    taskset -c "$PIN" valgrind --tool=callgrind $CALLGRIND_ARGS --callgrind-out-file="$WORK/$label.out" "$@" -f "$WORK/proxy.cfg" \
        >/dev/null 2>"$WORK/$label.err" & local pid=$!
    PIDS+=($pid)
    wait_port || { echo "$label did not start:" >&2; cat "$WORK/$label.err" >&2; exit 1; }
    sleep 3
    taskset -c "$LOAD_PIN" wrk -t1 -c20 -d4s "http://$NET.10:$PORT/login" >/dev/null          # warm-up
    callgrind_control -z $pid >/dev/null 2>&1
    taskset -c "$LOAD_PIN" wrk -t1 -c20 -d"$DURATION" "http://$NET.10:$PORT/login" > "$WORK/$label.wrk"
    callgrind_control -d $pid >/dev/null 2>&1
    sleep 1
    kill -TERM $pid; wait $pid 2>/dev/null || true
    local requests instructions
    requests=$(awk '/requests in/ {print $1}' "$WORK/$label.wrk")
    # The dump made by -d after the zeroing (callgrind numbers them .1, .2...): its summary line.
    instructions=$(for f in "$WORK/$label.out".*; do grep -h '^summary:' "$f" | awk '{print $2}'; done | sort -n | tail -1)
    awk -v l="$label" -v i="$instructions" -v r="$requests" \
        'BEGIN { printf "%-8s %12d instructions / %7d requests = %6.1fk per request\n", l, i, r, i / r / 1000 }'
}

echo "callgrind, variant: $VARIANT; load: wrk -t1 -c20 -d$DURATION (keep-alive) on GET /login after a 4 s warm-up"
for w in $WHICH; do
    case $w in
    hadeck)
        cp "$HADECK" "$WORK/hadeck"
        strip --strip-debug "$WORK/hadeck"
        measure hadeck "$WORK/hadeck" proxy ;;
    haproxy) measure haproxy haproxy -db ;;
    esac
done
