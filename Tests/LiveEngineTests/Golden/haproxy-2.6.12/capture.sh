#!/usr/bin/env bash
# Captures what the real haproxy 2.6 prints, for the golden-file tests of hadeck's pure formatters
# (Tests/LiveEngineTests/*GoldenTests.swift). Run by hand when the reference changes:
#
#   Tests/LiveEngineTests/Golden/haproxy-2.6.12/capture.sh
#
# Loopback only (127.80.8.x); nothing listens on the servers' addresses, so no check runs
# (the servers have no `check`) and every figure is the start-up one.
set -euo pipefail
cd "$(dirname "$0")"
OUT=$(pwd)
WORK=$(mktemp -d /tmp/hadeck-golden.XXXXXX)
trap 'kill $(cat "$WORK/pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$WORK"' EXIT
sed "s|SOCKET|$WORK/admin.sock|" "$OUT/haproxy.cfg" > "$WORK/h.cfg"
haproxy -v | head -1 > "$OUT/version.txt"
haproxy -f "$WORK/h.cfg" -D -p "$WORK/pid"
for _ in $(seq 1 50); do [ -S "$WORK/admin.sock" ] && break; sleep 0.1; done
cli() { echo "$1" | socat - "UNIX-CONNECT:$WORK/admin.sock"; }

cli "show stat" | head -1 > "$OUT/show-stat-header.txt"
cli "show servers state" > "$OUT/show-servers-state.txt"
# Each command, then its reply as haproxy sends it (a reply ends with an empty line).
: > "$OUT/cli-replies.txt"
while IFS= read -r command; do
    printf '> %s\n' "$command" >> "$OUT/cli-replies.txt"
    cli "$command" >> "$OUT/cli-replies.txt"
done < "$OUT/cli-commands.txt"
# The exporter's family declarations (values differ from run to run; names, help and types do not).
curl -s "http://127.80.8.1:18080/metrics" | grep '^# ' > "$OUT/metrics-declarations.txt"
echo "captured into $OUT"
