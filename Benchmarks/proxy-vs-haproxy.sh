#!/usr/bin/env bash
# Throughput of `hadeck proxy -f` against Debian's HAProxy, one after the other on the same port,
# both single-threaded (nbthread 1), in front of the same two nginx backends, over loopback only.
#
#   Benchmarks/proxy-vs-haproxy.sh            # needs a release build: swift build -c release
#   DURATION=10s CONNECTIONS=50 RUNS=3 Benchmarks/proxy-vs-haproxy.sh
#
# Each run measures HAProxy then hadeck for each variant (alternating, same port, same backends);
# the machine is noisy, so compare the ratios within a run and look at the spread over RUNS.
#
# Backends: nginx (installed with `apt-get install -y nginx-light` when missing) on 127.0.2.1:8081
# and 127.0.2.2:8888 serving a small static page at /login (the article's check URI) and /.
# Without nginx, python3's http.server stands in (much slower: the figures then measure it).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
HADECK=${HADECK:-$ROOT/.build/release/hadeck}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-50}
RUNS=${RUNS:-3}
PORT=${PORT:-18090}
WORK=$(mktemp -d /tmp/hadeck-bench.XXXXXX)
chmod 755 "$WORK"   # nginx workers run as nobody
PIDS=()

cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

[ -x "$HADECK" ] || { echo "missing $HADECK: run 'swift build -c release' first" >&2; exit 1; }
command -v haproxy >/dev/null || { echo "haproxy is not installed" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 1; }
if ! command -v nginx >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get install -y nginx-light >/dev/null 2>&1 || apt-get install -y nginx >/dev/null 2>&1 || true
fi

# --- backends -------------------------------------------------------------------------------
. "$ROOT/Benchmarks/proxy-bench-lib.sh"
bench_www "$WORK"
if command -v nginx >/dev/null; then
    BACKENDS="nginx $(nginx -v 2>&1 | sed 's/.*\///') (1 worker)"
    bench_nginx_conf "$WORK" 127.0.2.1 127.0.2.2
    nginx -c "$WORK/nginx.conf" -g 'daemon off;' & PIDS+=($!)
else
    BACKENDS="python3 http.server (nginx unavailable)"
    (cd "$WORK/www" && exec python3 -m http.server 8081 --bind 127.0.2.1 >/dev/null 2>&1) & PIDS+=($!)
    (cd "$WORK/www" && exec python3 -m http.server 8888 --bind 127.0.2.2 >/dev/null 2>&1) & PIDS+=($!)
fi
sleep 0.5

# --- configurations -------------------------------------------------------------------------
bench_proxy_cfg "$WORK/plain.cfg" plain "127.0.0.1:$PORT" 127.0.2.1 127.0.2.2
bench_proxy_cfg "$WORK/cookie.cfg" cookie "127.0.0.1:$PORT" 127.0.2.1 127.0.2.2

# --- runs -----------------------------------------------------------------------------------
wait_port() { for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && return 0; sleep 0.05; done; return 1; }
wait_free() { for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null || return 0; sleep 0.05; done; }

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }  # user + system, in clock ticks

run_one() { # $1 label, $2 cfg, $3.. command; sets RPS, P99 and CPU (µs of proxy CPU per request)
    local label=$1 cfg=$2; shift 2
    "$@" -f "$cfg" >/dev/null 2>"$WORK/$label.err" & local pid=$!
    PIDS+=($pid)
    wait_port || { echo "$label did not start:" >&2; cat "$WORK/$label.err" >&2; exit 1; }
    sleep 1
    curl -s -o /dev/null -w '' "http://127.0.0.1:$PORT/login" || true
    wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$PORT/login" >/dev/null          # warm-up
    local t0 t1
    t0=$(cpu_ticks $pid)
    wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency "http://127.0.0.1:$PORT/login" > "$WORK/$label.wrk"
    t1=$(cpu_ticks $pid)
    kill -TERM $pid; wait $pid 2>/dev/null || true
    wait_free
    RPS=$(awk '/^Requests\/sec:/ {print $2}' "$WORK/$label.wrk")
    P99=$(awk '$1=="99%" {print $2}' "$WORK/$label.wrk")
    local requests
    requests=$(awk '/requests in/ {print $1}' "$WORK/$label.wrk")
    CPU=$(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$requests" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
    local errors
    errors=$(awk '/Non-2xx|Socket errors/ {print}' "$WORK/$label.wrk" | tr '\n' ' ')
    if [ -n "$errors" ]; then echo "  $label: $errors" >&2; fi
}

echo "backends: $BACKENDS; load: wrk -t1 -c$CONNECTIONS -d$DURATION (keep-alive) on GET /login"
echo "haproxy:  $(haproxy -v | head -1)"
echo "hadeck:   $HADECK proxy"
echo "machine:  $(nproc) cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cpu/req:  the proxy process's user+system CPU time over the measured run / requests served"
echo "          (noise from other processes moves req/s much more than it moves this)"
printf '\n%-4s %-8s %-8s %14s %10s %12s\n' run variant proxy requests/s p99 cpu/req-us
: > "$WORK/summary"
for run in $(seq 1 "$RUNS"); do
    for variant in plain cookie; do
        run_one "haproxy-$variant" "$WORK/$variant.cfg" haproxy -db
        h_rps=$RPS h_p99=$P99 h_cpu=$CPU
        run_one "hadeck-$variant" "$WORK/$variant.cfg" "$HADECK" proxy
        d_rps=$RPS d_p99=$P99 d_cpu=$CPU
        printf '%-4s %-8s %-8s %14s %10s %12s\n' "$run" "$variant" haproxy "$h_rps" "$h_p99" "$h_cpu"
        printf '%-4s %-8s %-8s %14s %10s %12s\n' "$run" "$variant" hadeck "$d_rps" "$d_p99" "$d_cpu"
        awk -v d="$d_rps" -v h="$h_rps" -v v="$variant" -v r="$run" -v dc="$d_cpu" -v hc="$h_cpu" \
            'BEGIN { printf "%-4s %-8s ratio    hadeck/haproxy = %.2f req/s, %.2f CPU per request\n", r, v, d / h, dc / hc }'
        echo "$variant $h_rps $d_rps $h_cpu $d_cpu" >> "$WORK/summary"
    done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
awk '{ h[$1] += $2; d[$1] += $3; hc[$1] += $4; dc[$1] += $5; n[$1]++; r = $3 / $2
       if (!($1 in lo) || r < lo[$1]) lo[$1] = r; if (!($1 in hi) || r > hi[$1]) hi[$1] = r }
     END { for (v in n) printf "%-8s mean haproxy %.0f req/s, hadeck %.0f req/s: ratio %.2f (runs %.2f-%.2f); CPU/request %.1f vs %.1f us: hadeck needs %.2fx HAProxy'"'"'s CPU\n",
                                v, h[v] / n[v], d[v] / n[v], d[v] / h[v], lo[v], hi[v], hc[v] / n[v], dc[v] / n[v], dc[v] / hc[v] }' "$WORK/summary"
