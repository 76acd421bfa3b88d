#!/usr/bin/env bash
# Builds the libFuzzer harnesses in Fuzz/ (-sanitize=fuzzer,address) and runs each target for a
# bounded time, one at a time, on one core at low priority. Prints executions per target, the total,
# and every crash, hang or out-of-memory input found (exit status 1 if any).
#
#   bash Benchmarks/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]      (default 60 s, every target)
#
# Targets: haproxy-cfg keepalived-conf cluster-yaml scenario theme vrrp runtime-api http-request
# http-response http-chunked (Fuzz/Sources/hadeck-fuzz/main.swift). The seed corpus comes from the
# tests' fixtures and Examples/ (plus Fuzz/Seeds/ for HTTP); each target's corpus grows in
# $FUZZ_DIR/corpus/TARGET from run to run (FUZZ_DIR defaults to /tmp/fuzz-hadeck). Findings land in
# $FUZZ_DIR/findings. To replay one:
#   HADECK_FUZZ_TARGET=TARGET Fuzz/.build/release/hadeck-fuzz FILE
# Environment: FUZZ_CPU (the core, default 1), FUZZ_SKIP_BUILD=1 (use the binary already built).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_PER_TARGET=${1:-60}
shift || true
ALL_TARGETS=(haproxy-cfg keepalived-conf cluster-yaml scenario theme vrrp runtime-api http-request http-response
    http-chunked)
TARGETS=("${@:-${ALL_TARGETS[@]}}")
WORK=${FUZZ_DIR:-/tmp/fuzz-hadeck}
CPU=${FUZZ_CPU:-1}
BIN=$ROOT/Fuzz/.build/release/hadeck-fuzz
mkdir -p "$WORK/findings"

if [[ ${FUZZ_SKIP_BUILD:-0} != 1 ]]; then
    # The package's identity is its directory's name: a checkout named `fuzz` would clash with Fuzz/.
    if [[ $(basename "$ROOT" | tr '[:upper:]' '[:lower:]') == fuzz ]]; then
        echo "fuzz.sh: the repository's directory is named 'fuzz', which SwiftPM confuses with Fuzz/; use a clone with another name" >&2
        exit 2
    fi
    # lld: gold fails on the sanitizers' symbols. -enable-testing: LiveEngine's parser is internal.
    start=$(date +%s)
    (cd Fuzz && HADECK_DYNAMIC_STDLIB=1 flock -o /tmp/hadeck-swift.lock swift build -c release -Xswiftc -sanitize=fuzzer,address \
        -Xswiftc -enable-testing -Xswiftc -use-ld=lld 2>&1 | grep -v '^\[' || true)
    [[ -x $BIN ]] || { echo "fuzz.sh: the build failed" >&2; exit 2; }
    echo "build: $(($(date +%s) - start)) s (waiting for the build lock included)"
fi

# Seeds: copied into the corpus (libFuzzer keeps what adds coverage; duplicates cost nothing).
seed() { # TARGET FILE...
    local dir=$WORK/corpus/$1
    shift
    mkdir -p "$dir"
    for f in "$@"; do [[ -f $f ]] && cp "$f" "$dir/seed-$(basename "$f")"; done
    return 0
}
shopt -s nullglob globstar
seed haproxy-cfg Examples/**/*.cfg Tests/HadeckConfigTests/Corpus/haproxy/* Tests/LiveEngineTests/Golden/**/*.cfg \
    .build/config-corpus/haproxy/*
seed keepalived-conf Examples/**/*.conf Tests/HadeckConfigTests/Corpus/keepalived/* .build/config-corpus/keepalived/*
seed cluster-yaml Examples/**/*.yaml
seed scenario Examples/**/*.scenario
seed theme Themes/*.theme
for t in http-request http-response http-chunked; do seed $t Fuzz/Seeds/$t/*; done
# The runtime API: each command haproxy was asked in the golden capture, and all of them at once.
mkdir -p "$WORK/corpus/runtime-api"
cp Tests/LiveEngineTests/Golden/haproxy-2.6.12/cli-commands.txt "$WORK/corpus/runtime-api/seed-all"
n=0
while IFS= read -r line; do
    n=$((n + 1))
    printf '%s\n' "$line" >"$WORK/corpus/runtime-api/seed-$n"
done <Tests/LiveEngineTests/Golden/haproxy-2.6.12/cli-commands.txt
# VRRP: the IPv4 packets of the captured adverts (pcap or pcapng, Ethernet), and their VRRP messages.
mkdir -p "$WORK/corpus/vrrp"
python3 - "$WORK/corpus/vrrp" Tests/VRRPCoreTests/Fixtures/*.pcap <<'EOF'
import struct, sys
out, files = sys.argv[1], sys.argv[2:]
def frames(data):
    if data[:4] == b"\x0a\x0d\x0d\x0a":  # pcapng (little-endian): enhanced packet blocks
        i = 0
        while i + 12 <= len(data):
            kind, length = struct.unpack_from("<II", data, i)
            if kind == 6:
                captured = struct.unpack_from("<I", data, i + 20)[0]
                yield data[i + 28:i + 28 + captured]
            i += max(length, 12)
    else:  # pcap
        endian = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
        i = 24
        while i + 16 <= len(data):
            captured = struct.unpack_from(endian + "I", data, i + 8)[0]
            yield data[i + 16:i + 16 + captured]
            i += 16 + captured
count = 0
for name in files:
    for frame in frames(open(name, "rb").read()):
        if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 112:
            continue
        packet = frame[14:]
        ihl = (packet[0] & 0x0F) * 4
        for seed in (packet, packet[ihl:]):
            count += 1
            open(f"{out}/seed-pcap-{count}", "wb").write(seed)
print(f"vrrp seeds from the captures: {count}")
EOF

total=0
findings=0
summary=""
for t in "${TARGETS[@]}"; do
    log=$WORK/$t.log
    echo "== $t: $SECONDS_PER_TARGET s"
    # -timeout: an input running 10 s is a hang; -rss_limit_mb: memory a parser must not need.
    set +e
    HADECK_FUZZ_TARGET=$t taskset -c "$CPU" nice -n 10 "$BIN" "$WORK/corpus/$t" -max_total_time="$SECONDS_PER_TARGET" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$WORK/findings/$t-" >"$log" 2>&1
    status=$?
    set -e
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    # After a finding libFuzzer prints no final stats: its last progress line has the count.
    [[ -n $runs ]] || runs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
    runs=${runs:-0}
    corpus=$(ls "$WORK/corpus/$t" | wc -l)
    found=$(grep -o "Test unit written to .*" "$log" | sed 's/Test unit written to //' || true)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    line=$(printf '%-16s %12d runs %8s/s  corpus %5d  exit %d' "$t" "$runs" "${rate:-?}" "$corpus" $status)
    echo "$line"
    [[ -n $found ]] && { echo "   FOUND: $found"; grep -m3 -E "Fatal error|Program crashed|ERROR: libFuzzer|deadly signal" "$log" | sed 's/^/   /'; findings=$((findings + 1)); }
    summary+="$line${found:+  FOUND $found}"$'\n'
    total=$((total + runs))
done
echo
echo "== $(date -u +%Y-%m-%dT%H:%MZ), $SECONDS_PER_TARGET s per target, core $CPU"
printf '%s' "$summary"
echo "total: $total executions, $findings target(s) with findings"
[[ $findings == 0 ]]
