#!/usr/bin/env bash
# CPU and memory of `hadeck attach` on the lab over 60 s at a 1 s refresh, next to the real hatop
# attached to lb1's stats socket in the same run at the same refresh (-i 1), and hatop at its
# default (3 s). Each runs in a real terminal (tmux, 120x40), pinned to a core of its own with
# taskset (hadeck on core 0, the hatops on core 1). The client makes one request through the VIP
# every second meanwhile, so every screen has something to show. hadeck's figure counts its
# children too (`ip monitor neigh`, and every `ip` or `kill` it ran and reaped).
# Needs root, tmux, hatop, and the lab's programs (haproxy, keepalived, iproute2).
# Usage: Benchmarks/attach-vs-hatop.sh [path/to/hadeck ...]   (default: .build/release/hadeck)
# Each binary must be named hadeck (e.g. /tmp/before/hadeck): the lab knows its programs by name.
# With several binaries (e.g. a build from before a change, then the current one), each gets a
# round of its own in the same run, beside fresh hatops: before and after measured alike. The lab
# is built by a copy of the last one.
set -euo pipefail
bins=()
for b in "${@:-.build/release/hadeck}"; do bins+=("$(realpath "$b")"); done
seconds=${SECONDS_TO_MEASURE:-60}
id=hdkbench
sock=hadeck-bench-$$
ticks=$(getconf CLK_TCK)
work=$(mktemp -d /tmp/hadeck-bench-XXXXXX)
chmod 755 "$work"
load_pid=
# The lab's app servers run a copy of the last binary of its own: were they to run a measured
# file, its pages would stay cached and mapped by them, and fault-around would map more of it for
# the attached dashboard (measured 2026-12-04: 0.8 MB more for the binary that built the lab).
mkdir "$work/lab"
cp "${bins[-1]}" "$work/lab/hadeck"
bin=$work/lab/hadeck

cleanup() {
    [ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null || true
    tmux -L "$sock" kill-server 2>/dev/null || true
    "$bin" lab down --id "$id" > /dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# A lab that did not come up ends the run here: the rounds would measure panes that exited at once.
up=$("$bin" lab up --id "$id") || { echo "$up" >&2; exit 1; }
echo "lab: $(tail -2 <<< "$up" | head -1)" >&2
file=/run/hadeck-lab/$id/attach.yaml
stats=/run/hadeck-lab/$id/lb1/haproxy.sock

# The program a tmux window runs (the pane's shell execs it, or it is the shell's only child).
pane_program() {
    local pid
    pid=$(tmux -L "$sock" display-message -p -t "$1" '#{pane_pid}')
    if [ "$(cat "/proc/$pid/comm")" = sh ]; then pid=$(pgrep -P "$pid" | head -1); fi
    echo "$pid"
}

# user+system ticks of a process, with its reaped children, plus its live children.
cpu_ticks() {
    local total
    total=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat")
    for child in $(pgrep -P "$1" || true); do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$child/stat")))
    done
    echo "$total"
}

(while true; do "$bin" lab exec --id "$id" client curl -s -o /dev/null -c "$work/jar" -b "$work/jar" http://10.77.0.10/login; sleep 1; done) &
load_pid=$!

. "$(dirname "$0")/page-cache.sh"

round() {
    local hadeck=$1
    evict_page_cache "$hadeck"
    tmux -L "$sock" new-session -d -s bench -x 120 -y 40 -n hadeck \
        "taskset -c 0 $hadeck attach $file --refresh 1s --audit-log $work/audit.log"
    tmux -L "$sock" new-window -t bench -n hatop1 "taskset -c 1 hatop -s $stats -i 1"
    tmux -L "$sock" new-window -t bench -n hatop3 "taskset -c 1 hatop -s $stats"
    sleep 5
    declare -A pid start
    for w in hadeck hatop1 hatop3; do
        pid[$w]=$(pane_program "bench:$w")
        comm=$(cat "/proc/${pid[$w]}/comm" 2>/dev/null || echo gone)
        case $comm in
            gone | sh | bash | tmux*) echo "window $w runs '$comm', not what it measures: $(tmux -L "$sock" capture-pane -p -t "bench:$w")" >&2; exit 1 ;;
        esac
        start[$w]=$(cpu_ticks "${pid[$w]}")
    done
    sleep "$seconds"
    echo "$(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, ${seconds} s"
    for w in hadeck hatop1 hatop3; do
        p=${pid[$w]}
        used=$(($(cpu_ticks "$p") - ${start[$w]}))
        rss=$(awk '/VmRSS/ {print $2}' "/proc/$p/status")
        hwm=$(awk '/VmHWM/ {print $2}' "/proc/$p/status")
        case $w in
            hadeck) label="hadeck attach (--refresh 1s)" ;;
            hatop1) label="hatop 0.8.2 -i 1" ;;
            hatop3) label="hatop 0.8.2 (default -i 3)" ;;
        esac
        awk -v l="$label" -v d="$used" -v t="$ticks" -v s="$seconds" -v r="$rss" -v h="$hwm" \
            'BEGIN { printf "%-30s CPU %.2f%% of one core (%.2f s), RSS %.1f MB (peak %.1f MB)\n", l, 100 * d / t / s, d / t, r / 1024, h / 1024 }'
    done
    tmux -L "$sock" kill-server 2>/dev/null || true
    sleep 1
}

for b in "${bins[@]}"; do
    echo "== $b"
    round "$b"
done
