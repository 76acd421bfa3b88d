#!/usr/bin/env bash
# `hadeck proxy -f` against Debian's HAProxy with the proxy under test alone on one core: the same
# haproxy.cfg (nbthread 1), the same two nginx backends, loopback only.
#
#   Benchmarks/proxy-vs-haproxy.sh            # needs the README's release build (swift build -c release ...)
#   DURATION=10s CONNECTIONS=50 RUNS=4 CALLGRIND="cookie plain" Benchmarks/proxy-vs-haproxy.sh
#   HADECK=/path/to/other/hadeck Benchmarks/proxy-vs-haproxy.sh   # e.g. an older build, before/after
#
# Pinning: the proxy under test runs on core PROXY_CPU (default 1), wrk and nginx on LOAD_CPU
# (default 0), so the proxy is the bottleneck and the figures compare proxies, not schedulers.
# Each run measures both proxies for each variant, alternating which goes first (odd runs HAProxy
# first, even runs hadeck first) so a drift in the machine's load favours neither. Printed: per run
# requests/s, p99 latency and the proxy's own CPU per request (user+system from /proc over the
# measured run) with hadeck/HAProxy ratios; the mean ratios; the load average at start and end; and
# (unless CALLGRIND is empty) user-space instructions per request of both under callgrind
# (Benchmarks/proxy-callgrind.sh), which is repeatable to <1 % whatever the machine does.
#
# Addresses: NET (default 127.84.1) .1:8081 and .2:8888 for nginx, .10:PORT for the proxy.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
HADECK=${HADECK:-$ROOT/.build/release/hadeck}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-50}
RUNS=${RUNS:-4}
NET=${NET:-127.84.1}
PORT=${PORT:-18090}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
CALLGRIND=${CALLGRIND-cookie plain}
WORK=$(mktemp -d /tmp/hadeck-bench.XXXXXX)
chmod 755 "$WORK"   # nginx workers run as nobody
PIDS=()

cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

[ -x "$HADECK" ] || { echo "missing $HADECK: run the README's release build first (swift build -c release -Xswiftc -enforce-exclusivity=unchecked)" >&2; exit 1; }
for tool in haproxy wrk taskset; do
    command -v $tool >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
done
if ! command -v nginx >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get install -y nginx-light >/dev/null 2>&1 || apt-get install -y nginx >/dev/null 2>&1 || true
fi
command -v nginx >/dev/null || { echo "nginx is not installed (apt-get install nginx-light)" >&2; exit 1; }

# --- backends -------------------------------------------------------------------------------
. "$ROOT/Benchmarks/proxy-bench-lib.sh"
bench_www "$WORK"
bench_nginx_conf "$WORK" "$NET.1" "$NET.2"
taskset -c "$LOAD_CPU" nginx -c "$WORK/nginx.conf" -g 'daemon off;' & PIDS+=($!)
sleep 0.5

# --- configurations -------------------------------------------------------------------------
bench_proxy_cfg "$WORK/plain.cfg" plain "$NET.10:$PORT" "$NET.1" "$NET.2"
bench_proxy_cfg "$WORK/cookie.cfg" cookie "$NET.10:$PORT" "$NET.1" "$NET.2"

# --- runs -----------------------------------------------------------------------------------
URL="http://$NET.10:$PORT/login"
wait_port() { for _ in $(seq 1 100); do (exec 3<>/dev/tcp/$NET.10/$PORT) 2>/dev/null && return 0; sleep 0.05; done; return 1; }
wait_free() { for _ in $(seq 1 100); do (exec 3<>/dev/tcp/$NET.10/$PORT) 2>/dev/null || return 0; sleep 0.05; done; }
load() { taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" "$@" "$URL"; }

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }  # user + system, in clock ticks

# wrk's latency ("1.23ms", "850.00us", "1.01s") in ms.
to_ms() { awk -v x="$1" 'BEGIN { v = x + 0; if (x ~ /us$/) v /= 1000; else if (x ~ /ms$/) v += 0; else if (x ~ /s$/) v *= 1000; printf "%.3f", v }'; }

run_one() { # $1 label, $2 cfg, $3.. command; sets RPS, P99 (ms) and CPU (µs of proxy CPU per request)
    local label=$1 cfg=$2; shift 2
    taskset -c "$PROXY_CPU" "$@" -f "$cfg" >/dev/null 2>"$WORK/$label.err" & local pid=$!
    PIDS+=($pid)
    wait_port || { echo "$label did not start:" >&2; cat "$WORK/$label.err" >&2; exit 1; }
    sleep 1
    curl -s -o /dev/null "$URL" || true
    load -d2s >/dev/null          # warm-up
    local t0 t1
    t0=$(cpu_ticks $pid)
    load -d"$DURATION" --latency > "$WORK/$label.wrk"
    t1=$(cpu_ticks $pid)
    kill -TERM $pid; wait $pid 2>/dev/null || true
    wait_free
    RPS=$(awk '/^Requests\/sec:/ {print $2}' "$WORK/$label.wrk")
    P99=$(to_ms "$(awk '$1=="99%" {print $2}' "$WORK/$label.wrk")")
    local requests
    requests=$(awk '/requests in/ {print $1}' "$WORK/$label.wrk")
    CPU=$(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$requests" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
    local errors
    errors=$(awk '/Non-2xx|Socket errors/ {print}' "$WORK/$label.wrk" | tr '\n' ' ')
    if [ -n "$errors" ]; then echo "  $label: $errors" >&2; fi
}

echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "backends: nginx $(nginx -v 2>&1 | sed 's/.*\///') (1 worker) on core $LOAD_CPU; load: wrk -t1 -c$CONNECTIONS -d$DURATION (keep-alive) on GET /login, on core $LOAD_CPU"
echo "haproxy:  $(haproxy -v | head -1), on core $PROXY_CPU"
echo "hadeck:   $HADECK proxy, on core $PROXY_CPU"
echo "machine:  $(nproc) cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cpu/req:  the proxy process's user+system CPU time over the measured run / requests served"
printf '\n%-4s %-7s %-8s %11s %9s %11s\n' run variant proxy requests/s p99-ms cpu/req-us
: > "$WORK/summary"
for run in $(seq 1 "$RUNS"); do
    for variant in plain cookie; do
        first=haproxy; [ $((run % 2)) = 0 ] && first=hadeck
        for proxy in $first $([ $first = haproxy ] && echo hadeck || echo haproxy); do
            if [ $proxy = haproxy ]; then
                run_one "haproxy-$variant" "$WORK/$variant.cfg" haproxy -db
                h_rps=$RPS h_p99=$P99 h_cpu=$CPU
            else
                run_one "hadeck-$variant" "$WORK/$variant.cfg" "$HADECK" proxy
                d_rps=$RPS d_p99=$P99 d_cpu=$CPU
            fi
        done
        printf '%-4s %-7s %-8s %11s %9s %11s\n' "$run" "$variant" haproxy "$h_rps" "$h_p99" "$h_cpu"
        printf '%-4s %-7s %-8s %11s %9s %11s\n' "$run" "$variant" hadeck "$d_rps" "$d_p99" "$d_cpu"
        awk -v d="$d_rps" -v h="$h_rps" -v v="$variant" -v r="$run" -v dc="$d_cpu" -v hc="$h_cpu" -v dp="$d_p99" -v hp="$h_p99" \
            'BEGIN { printf "%-4s %-7s ratio    hadeck/haproxy: req/s %.2f, p99 %.2f, CPU per request %.2f\n", r, v, d / h, dp / hp, dc / hc }'
        echo "$variant $h_rps $d_rps $h_cpu $d_cpu $h_p99 $d_p99" >> "$WORK/summary"
    done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
awk '{ v = $1; n[v]++; h[v] += $2; d[v] += $3; hc[v] += $4; dc[v] += $5; hp[v] += $6; dp[v] += $7
       r = $3 / $2; if (!(v in lo) || r < lo[v]) lo[v] = r; if (!(v in hi) || r > hi[v]) hi[v] = r; rs[v] += r; ps[v] += $7 / $6 }
     END { for (v in n) {
             printf "%-7s mean of %d runs: req/s haproxy %.0f, hadeck %.0f: ratio %.2f (mean of per-run ratios %.2f, runs %.2f-%.2f)\n", v, n[v], h[v] / n[v], d[v] / n[v], d[v] / h[v], rs[v] / n[v], lo[v], hi[v]
             printf "%-7s   p99 haproxy %.2f ms, hadeck %.2f ms: ratio %.2f (mean of per-run ratios %.2f)\n", "", hp[v] / n[v], dp[v] / n[v], dp[v] / hp[v], ps[v] / n[v]
             printf "%-7s   CPU/request haproxy %.1f us, hadeck %.1f us: ratio %.2f\n", "", hc[v] / n[v], dc[v] / n[v], dc[v] / hc[v] } }' "$WORK/summary"

# --- instructions per request -----------------------------------------------------------------
for variant in $CALLGRIND; do
    echo
    HADECK=$HADECK VARIANT=$variant NET=${NET%.*}.$(( ${NET##*.} + 1 )) PIN="$PROXY_CPU" LOAD_PIN="$LOAD_CPU" \
        bash "$ROOT/Benchmarks/proxy-callgrind.sh"
done
