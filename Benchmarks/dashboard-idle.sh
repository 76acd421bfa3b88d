#!/usr/bin/env bash
# CPU used by the dashboard over 30 s in a real terminal (tmux), measured from /proc:
# once with the default traffic (4 requests/s) and once idle (traffic off with `t`).
# Usage: Benchmarks/dashboard-idle.sh [path/to/hadeck]   (default: .build/release/hadeck)
set -euo pipefail
bin=$(realpath "${1:-.build/release/hadeck}")
seconds=${SECONDS_TO_MEASURE:-30}
ticks=$(getconf CLK_TCK)
. "$(dirname "$0")/page-cache.sh"

measure() {
    local label=$1 keys=$2 session="hadeck-idle-$$"
    evict_page_cache "$bin"
    tmux new-session -d -s "$session" -x 120 -y 40 "$bin"
    sleep 5
    [ -n "$keys" ] && tmux send-keys -t "$session" "$keys"
    sleep 1
    local pid
    pid=$(pgrep -n -f "^$bin\$")
    read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
    sleep "$seconds"
    read -r u2 s2 < <(awk '{print $14, $15}' "/proc/$pid/stat")
    local rss
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    tmux send-keys -t "$session" q
    sleep 1
    tmux kill-session -t "$session" 2>/dev/null || true
    awk -v l="$label" -v d=$(( (u2 - u1) + (s2 - s1) )) -v t="$ticks" -v s="$seconds" -v r="$rss" \
        'BEGIN { printf "%-28s CPU %.2f%% of one core over %d s (%.2f s), RSS %.1f MB\n", l, 100 * d / t / s, s, d / t, r / 1024 }'
}

measure "dashboard, traffic 4/s" ""
measure "dashboard, idle (traffic off)" "t"
