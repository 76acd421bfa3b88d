#!/usr/bin/env bash
# Writes BuildSupport/hadeck.order: the functions hadeck's release binary runs in its everyday
# uses, in the order they first run, for the release link (`--symbol-ordering-file` in
# Package.swift). The linker puts these functions next to each other at the start of the code,
# so the pages the kernel maps for them (each fault maps 64 KB around it) hold code that runs
# instead of its neighbours in the link order: the resident set shrinks by megabytes (the
# figures are in BENCHMARKS.md). A function missing from the file (new, renamed) is only placed
# after the listed ones: a stale file costs memory, never correctness. Run it again after large
# changes, from a release build:
#
#   swift build -c release && sudo BuildSupport/make-link-order.sh
#
# Each use runs under valgrind's callgrind, which names every function executed: the embedded
# demo's dashboard (tmux 160x50, a drain and a restore; its live proxies serve the demo's
# traffic), `--headless`, and `hadeck attach` on a lab of its own (root; iproute2, haproxy,
# keepalived). A profile of `hadeck proxy` under wrk is left out on purpose: it measured 0.7 MB more
# for the attached dashboard (its functions spread the hot code over more pages) and the proxy's
# own resident set is not what it is measured by. Needs valgrind and tmux.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=$(realpath "${1:-.build/release/hadeck}")
OUT=$ROOT/BuildSupport/hadeck.order
ID=hdkorder
WORK=$(mktemp -d /tmp/hadeck-order.XXXXXX)
chmod 755 "$WORK"
TMUX_SOCKET=hadeck-order-$$
load=
cleanup() {
    [ -n "$load" ] && kill "$load" 2>/dev/null || true
    tmux -L "$TMUX_SOCKET" kill-server 2>/dev/null || true
    [ -x "$WORK/hadeck" ] && "$WORK/hadeck" lab down --id "$ID" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

for tool in valgrind tmux objcopy python3; do
    command -v $tool >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
done
# valgrind cannot read the DWARF of the static release binary; the symbol table is enough.
objcopy --strip-debug "$BIN" "$WORK/hadeck"
callgrind=(valgrind --tool=callgrind --demangle=no --dump-instr=no)
grind() { # $1 label: the rest runs under callgrind with mangled names
    local label=$1; shift
    "${callgrind[@]}" --callgrind-out-file="$WORK/$label.cg" "$@" 2>"$WORK/$label.err"
}
grind_line() { # the same as a command line for tmux
    local label=$1; shift
    echo "${callgrind[*]} --callgrind-out-file=$WORK/$label.cg $* 2>$WORK/$label.err"
}
in_tmux() { # $1 label, $2 seconds, $3 keys (space-separated, each after 3 s), rest: command
    local label=$1 seconds=$2 keys=$3; shift 3
    tmux -L "$TMUX_SOCKET" new-session -d -s "$label" -x 160 -y 50 "$(grind_line "$label" "$@")"
    sleep "$seconds"
    for key in $keys; do tmux -L "$TMUX_SOCKET" send-keys -t "$label" "$key"; sleep 3; done
    tmux -L "$TMUX_SOCKET" send-keys -t "$label" q
    for _ in $(seq 1 100); do [ -s "$WORK/$label.cg" ] && break; sleep 0.2; done
    sleep 2
    tmux -L "$TMUX_SOCKET" kill-session -t "$label" 2>/dev/null || true
}

echo "order: the attached dashboard on lab $ID" >&2
# The lab knows its app servers by the program name `hadeck`: it runs the copy.
"$WORK/hadeck" lab up --id "$ID" >/dev/null
# One request a second from the client through the VIP meanwhile, as in Benchmarks/attach-vs-hatop.sh,
# so the haproxy log and the requests panel run too.
(while true; do
    "$WORK/hadeck" lab exec --id "$ID" client curl -s -o /dev/null -c "$WORK/jar" -b "$WORK/jar" http://10.77.0.10/login
    sleep 1
done) &
load=$!
in_tmux attach 60 "" "$WORK/hadeck" attach "/run/hadeck-lab/$ID/attach.yaml" --refresh 1s --audit-log "$WORK/audit.log"
kill "$load" 2>/dev/null || true
load=
"$WORK/hadeck" lab down --id "$ID" >/dev/null

echo "order: the embedded demo's dashboard" >&2
in_tmux demo 40 "Down d r" "$WORK/hadeck"

echo "order: --headless" >&2
(sleep 30; echo quit) | grind headless "$WORK/hadeck" --headless >/dev/null || true

for label in attach demo headless; do
    [ -s "$WORK/$label.cg" ] || { echo "no profile of $label: $(tail -3 "$WORK/$label.err")" >&2; exit 1; }
done

python3 - "$OUT" "$WORK"/{attach,demo,headless}.cg <<'PY'
import re, sys
out, paths = sys.argv[1], sys.argv[2:]
seen, order = set(), []
for path in paths:
    names = {}
    for line in open(path, errors="replace"):
        for prefix in ("fn=", "cfn="):
            if not line.startswith(prefix):
                continue
            m = re.match(r"\((\d+)\)(?: (.*))?", line[len(prefix):].strip())
            name = None
            if m:
                if m.group(2):
                    names[m.group(1)] = m.group(2)
                name = names.get(m.group(1))
            else:
                name = line[len(prefix):].strip()
            # Only fn= lines carry cost; callees are listed by their own fn= lines.
            if prefix == "fn=" and name and name not in seen:
                seen.add(name)
                order.append(name)
with open(out, "w") as f:
    f.write("".join(n + "\n" for n in order))
print(f"{out}: {len(order)} functions", file=sys.stderr)
PY
