#!/usr/bin/env bash
# Real haproxy.cfg and keepalived.conf files from public repositories, checked side by side by the
# real programs and by `hadeck check`. Prints one row per file and the totals that issue 14 asks for:
# files, accepted by the real program, hadeck errors on files the real program accepts (goal 0),
# hadeck crashes (goal 0) and hangs (goal 0, 10 s timeout).
#
#   bash Benchmarks/config-corpus.sh [--fetch] [--write-expectations] [--hadeck PATH]
#
# The sources are Benchmarks/config-corpus/sources.tsv (repository, path, commit, licence). Files
# with a permissive licence are kept in Tests/HadeckConfigTests/Corpus; the others are fetched from
# raw.githubusercontent.com at their commit with --fetch into .build/config-corpus (the only network
# access; without --fetch, files not there yet are reported missing).
#
# Real programs: `haproxy -c -dr -f FILE` (-dr: host names that do not resolve here are not errors);
# accepted = exit 0 or 2 ("no error but will not start"). `keepalived -t -f FILE`, run (as root, with
# `ip`) in a network namespace of its own that has an interface of each name the file uses, so that
# "Unknown interface" is not counted against the file; keepalived's exit status mixes errors with
# script-security notices, so a file is accepted when every line keepalived prints is one of:
# a script-security or script-user notice, a track script missing on this machine, or one of the
# messages keepalived itself files as CONFIG_WARNING or CONFIG_DEPRECATED.
#
# --write-expectations rewrites Tests/HadeckConfigTests/Corpus/expectations.tsv (fixture files only),
# which CorpusTests read so that `swift test` needs neither program.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
SOURCES=Benchmarks/config-corpus/sources.tsv
FIXTURES=Tests/HadeckConfigTests/Corpus
CACHE=.build/config-corpus
HADECK=.build/debug/hadeck
FETCH=0
EXPECT=0
while [ $# -gt 0 ]; do
    case "$1" in
    --fetch) FETCH=1 ;;
    --write-expectations) EXPECT=1 ;;
    --hadeck) HADECK=$2; shift ;;
    *) echo "usage: $0 [--fetch] [--write-expectations] [--hadeck PATH]" >&2; exit 2 ;;
    esac
    shift
done
[ -x "$HADECK" ] || { echo "no hadeck at $HADECK: build it first (/work/bin/sw build or swift build)" >&2; exit 2; }
command -v haproxy >/dev/null || { echo "haproxy is not installed" >&2; exit 2; }
command -v keepalived >/dev/null || { echo "keepalived is not installed" >&2; exit 2; }
mkdir -p "$CACHE/haproxy" "$CACHE/keepalived"
WORK=$(mktemp -d /tmp/hadeck-corpus.XXXXXX)
NETNS=""
cleanup() {
    [ -n "$NETNS" ] && ip netns del "$NETNS" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

# keepalived in a scratch namespace with the interfaces FILE names (bridges: no module needed).
keepalived_test() {
    local file=$1 dir base
    dir=$(dirname "$file")
    base=$(basename "$file")
    if [ "$(id -u)" = 0 ] && command -v ip >/dev/null; then
        NETNS=hadeck-corpus-$$
        ip netns add "$NETNS" 2>/dev/null || { NETNS=""; }
    fi
    if [ -n "$NETNS" ]; then
        ip netns exec "$NETNS" ip link set lo up
        local names
        names=$( { grep -oE '(^|[[:space:]])(interface|dev|lvs_sync_daemon_interface)[[:space:]]+[A-Za-z0-9_.:@-]+' "$file" | awk '{print $2}'
            awk '/track_interface[[:space:]]*\{/{t=1;next} t&&/\}/{t=0} t{print $1}' "$file"; } | sort -u)
        for i in $names; do
            [ "$i" = lo ] || [ ${#i} -gt 15 ] && continue
            ip netns exec "$NETNS" ip link add "$i" type bridge 2>/dev/null && ip netns exec "$NETNS" ip link set "$i" up
        done
        (cd "$dir" && ip netns exec "$NETNS" timeout 10 keepalived -t -f "$base") 2>&1
        ip netns del "$NETNS"
        NETNS=""
    else
        # Without a namespace of our own, interfaces this machine lacks are not the file's fault.
        (cd "$dir" && timeout 10 keepalived -t -f "$base") 2>&1 | grep -v "Unknown interface\|doesn't exist"
    fi
}

keepalived_accepts() {
    grep -v -E 'SECURITY VIOLATION|script_security|keepalived_script|Unable to set default user|since not found/accessible|resolved by path search|Cannot find script|is not executable|No VIP specified; at least one is sensible|is deprecated|should be link-local multicast|without any unicast peers|^$' "$1" | head -1
}

printf '%-10s %-62s %-9s %-8s %-6s %s\n' KIND FILE REAL HADECK WARN "NOTE (real program's first complaint / hadeck's first error)"
declare -A files accepted falseerr crashes hangs missing
: > "$WORK/expectations"
while IFS=$'\t' read -r kind name repo path commit licence kept; do
    case "$kind" in '#'*|'') continue ;; esac
    if [ "$kept" = fixture ]; then file=$FIXTURES/$kind/$name; else file=$CACHE/$kind/$name; fi
    if [ ! -f "$file" ] && [ "$FETCH" = 1 ]; then
        curl -fsSL --max-time 30 "https://raw.githubusercontent.com/$repo/$commit/$path" -o "$file" || rm -f "$file"
    fi
    if [ ! -f "$file" ]; then
        missing[$kind]=$(( ${missing[$kind]:-0} + 1 ))
        continue
    fi
    files[$kind]=$(( ${files[$kind]:-0} + 1 ))
    real="$WORK/real"
    if [ "$kind" = haproxy ]; then
        timeout 10 haproxy -c -dr -f "$file" > "$real" 2>&1
        rc=$?
        complaint=$(grep -m1 ALERT "$real" | sed 's/.*config : //')
        if [ $rc = 0 ] || [ $rc = 2 ]; then ok=1; else ok=0; fi
    else
        keepalived_test "$ROOT/$file" > "$real"
        complaint=$(keepalived_accepts "$real")
        if [ -z "$complaint" ]; then ok=1; else ok=0; fi
    fi
    [ "$ok" = 1 ] && accepted[$kind]=$(( ${accepted[$kind]:-0} + 1 ))
    [ "$kept" = fixture ] && printf '%s\t%s\t%s\n' "$kind" "$name" "$ok" >> "$WORK/expectations"
    timeout 10 "$HADECK" check -f "$file" > "$WORK/hadeck" 2>&1
    hrc=$?
    errors=$(grep -c ': error: ' "$WORK/hadeck")
    warnings=$(grep -c ': warning: ' "$WORK/hadeck")
    if [ $hrc = 124 ]; then verdict=HANG; hangs[$kind]=$(( ${hangs[$kind]:-0} + 1 ))
    elif [ $hrc -gt 1 ]; then verdict="CRASH($hrc)"; crashes[$kind]=$(( ${crashes[$kind]:-0} + 1 ))
    elif [ "$errors" -gt 0 ]; then verdict="$errors err"
    else verdict=valid; fi
    note=$complaint
    if [ "$ok" = 1 ] && [ "$errors" -gt 0 ]; then
        falseerr[$kind]=$(( ${falseerr[$kind]:-0} + 1 ))
        note="FALSE ERROR: $(grep -m1 ': error: ' "$WORK/hadeck" | sed 's/.*: error: //')"
    fi
    printf '%-10s %-62.62s %-9s %-8s %-6s %.110s\n' "$kind" "$name" "$([ $ok = 1 ] && echo accepted || echo rejected)" \
        "$verdict" "$warnings" "$note"
done < "$SOURCES"

echo
printf '%-10s %6s %9s %26s %8s %6s %8s\n' KIND FILES ACCEPTED "HADECK ERRORS ON ACCEPTED" CRASHES HANGS MISSING
for kind in haproxy keepalived; do
    printf '%-10s %6d %9d %26d %8d %6d %8d\n' "$kind" "${files[$kind]:-0}" "${accepted[$kind]:-0}" \
        "${falseerr[$kind]:-0}" "${crashes[$kind]:-0}" "${hangs[$kind]:-0}" "${missing[$kind]:-0}"
done
if [ "$EXPECT" = 1 ]; then
    {
        echo "# Made by Benchmarks/config-corpus.sh --write-expectations with haproxy $(haproxy -v | head -1 | awk '{print $3}') and keepalived $(keepalived -v 2>&1 | head -1 | awk '{print $2}')."
        echo "# kind, file, 1 when the real program accepts it (then hadeck must report no error)."
        sort "$WORK/expectations"
    } > "$FIXTURES/expectations.tsv"
    echo "wrote $FIXTURES/expectations.tsv"
fi
total_false=$(( ${falseerr[haproxy]:-0} + ${falseerr[keepalived]:-0} ))
total_bad=$(( ${crashes[haproxy]:-0} + ${crashes[keepalived]:-0} + ${hangs[haproxy]:-0} + ${hangs[keepalived]:-0} ))
[ $total_false = 0 ] && [ $total_bad = 0 ]
